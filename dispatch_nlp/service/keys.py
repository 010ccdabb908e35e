"""The service's API keys at rest: a JSON keys file holding, per key, its id, its role and a salted
scrypt hash of its secret (never the secret), written atomically with mode 0600.

    secret = add_key("keys.json", "ops-1", "operator")   # shown once, never stored
    store = KeyStore("keys.json")
    principal = store.verify(secret)                       # Principal("ops-1", "operator") or None

A secret reads ``dnk.<key id>.<43 random characters>``: the id in it selects the record, so one
request costs one derivation at most, none for an id that is not in the file (a hit is remembered in memory, as a keyed SHA-256 of the secret
under a per-process random key, so that later requests cost microseconds); the comparison of the
derived value with the stored one is ``hmac.compare_digest``. The store re-reads the file when it
changes on disk, so a revoked key stops working on its next request without a restart.

File format (``version`` 1)::

    {"version": 1, "keys": [{"id": "ops-1", "role": "operator", "kdf": "scrypt", "n": 16384, "r": 8,
      "p": 1, "salt": "<hex>", "hash": "<hex>", "created_at": "2026-11-29T23:00:00+00:00"}]}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dispatch_nlp.errors import InputError
from dispatch_nlp.files import AtomicFile

ROLES = ("dispatch", "operator", "admin")  # each role may do what the ones before it may
SECRET_PREFIX = "dnk"
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SECRET_PATTERN = re.compile(r"^dnk\.([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{20,128})$")
FILE_MODE = 0o600
log = logging.getLogger("dispatch_nlp.service")


@dataclass(frozen=True)
class KdfSettings:
    """scrypt's cost: n=2**14, r=8 needs 16 MiB and some 50 ms per derivation (paid once per key and
    process, and on every failed attempt)."""

    n: int = 2 ** 14
    r: int = 8
    p: int = 1
    salt_bytes: int = 16
    hash_bytes: int = 32
    secret_bytes: int = 32  # random bytes in a new secret (43 URL-safe characters)


KDF = KdfSettings()


@dataclass(frozen=True)
class Principal:
    """Who a request is: the key's id and role (``no-auth`` for a loopback server run with --no-auth)."""

    key_id: str
    role: str

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def derive(secret: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=length)


def read_keys(path: str | Path) -> list[dict]:
    """The records of a keys file ([] when it does not exist); InputError for a file that is not one."""
    p = Path(path)
    if not p.exists():
        return []
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{p}: not a readable keys file ({type(exc).__name__})") from exc
    if not isinstance(doc, dict) or doc.get("version") != 1 or not isinstance(doc.get("keys"), list):
        raise InputError(f"{p}: not a keys file (expected {{\"version\": 1, \"keys\": [...]}})")
    for rec in doc["keys"]:
        if not isinstance(rec, dict) or rec.get("role") not in ROLES or not KEY_ID_PATTERN.match(str(rec.get("id"))) \
                or rec.get("kdf") != "scrypt" or not _well_formed(rec):
            raise InputError(f"{p}: a key record is malformed (id, role, kdf, salt, hash)")
    return list(doc["keys"])


def _well_formed(rec: dict) -> bool:
    """Salt and hash are hex, the scrypt parameters whole numbers: a record that would fail at
    verification time is refused when the file is read instead (a 500 per request otherwise)."""
    try:
        bytes.fromhex(str(rec["salt"]))
        bytes.fromhex(str(rec["hash"]))
        return all(isinstance(rec[k], int) and not isinstance(rec[k], bool) and rec[k] > 0 for k in ("n", "r", "p"))
    except (KeyError, ValueError):
        return False


def write_keys(path: str | Path, records: list[dict]) -> None:
    """Replace the keys file atomically (temp file made 0600 before anything is written, fsynced, renamed)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    f = AtomicFile(p, "w")
    try:
        os.fchmod(f.fh.fileno(), FILE_MODE)
        f.fh.write(json.dumps({"version": 1, "keys": records}, ensure_ascii=False, indent=2) + "\n")
    except BaseException:
        f.abort()
        raise
    f.commit()


def add_key(path: str | Path, key_id: str, role: str, kdf: KdfSettings = KDF) -> str:
    """Make a key, store its salted hash, return the secret (the only time it exists outside a client)."""
    if not KEY_ID_PATTERN.match(key_id):
        raise InputError("key id: 1 to 64 letters, digits, '-' or '_'")
    if role not in ROLES:
        raise InputError(f"role: one of {', '.join(ROLES)}")
    records = read_keys(path)
    if any(r["id"] == key_id for r in records):
        raise InputError(f"key id {key_id!r} exists already (revoke it first, or choose another id)")
    secret = f"{SECRET_PREFIX}.{key_id}.{secrets.token_urlsafe(kdf.secret_bytes)}"
    salt = os.urandom(kdf.salt_bytes)
    digest = derive(secret, salt, kdf.n, kdf.r, kdf.p, kdf.hash_bytes)
    records.append({"id": key_id, "role": role, "kdf": "scrypt", "n": kdf.n, "r": kdf.r, "p": kdf.p,
                    "salt": salt.hex(), "hash": digest.hex(),
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds")})
    write_keys(path, records)
    return secret


def revoke_key(path: str | Path, key_id: str) -> bool:
    """Remove a key; False when there was none with that id."""
    records = read_keys(path)
    kept = [r for r in records if r["id"] != key_id]
    if len(kept) == len(records):
        return False
    write_keys(path, kept)
    return True


def list_keys(path: str | Path) -> list[dict]:
    """Id, role and creation time of each key (nothing derived from the secret)."""
    return [{"id": r["id"], "role": r["role"], "created_at": r.get("created_at")} for r in read_keys(path)]


class KeyStore:
    """The keys a server accepts, read from its keys file (and re-read when the file changes)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._pepper = os.urandom(32)  # keys the in-memory digests of verified secrets; never leaves the process
        self._stamp: tuple[int, int, int] | None = None
        self._records: dict[str, dict] = {}
        self._verified: dict[str, bytes] = {}  # key id -> keyed digest of its verified secret
        self._refresh()
        if not self._records:
            raise InputError(f"{self.path}: no API keys (make one with: dispatch-nlp keys add --role admin "
                             f"--id admin-1 --keys-file {self.path})")

    def _refresh(self) -> None:
        try:
            st = self.path.stat()
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
            shared = bool(st.st_mode & 0o077)
        except OSError:
            stamp, shared = None, False
        if stamp == self._stamp:
            return
        with self._lock:
            try:
                records = {r["id"]: r for r in read_keys(self.path)} if stamp is not None else {}
            except InputError as exc:
                if self._stamp is None:
                    raise  # at start: refuse to serve
                # edited by hand into something unreadable: keep the keys read before, say so once per change
                log.error("API keys file changed but cannot be read (%s); keeping the keys read before", exc)
                self._stamp = stamp
                return
            self._records, self._verified, self._stamp = records, {}, stamp
            if shared:
                log.warning("API keys file %s is readable by other users; chmod 600 it", self.path)

    def __len__(self) -> int:
        return len(self._records)

    def cached(self, secret: str) -> Principal | None:
        """The principal when this secret was verified before in this process (microseconds, no
        derivation); None otherwise (then ``verify`` decides)."""
        self._refresh()
        m = SECRET_PATTERN.match(secret)
        rec = self._records.get(m.group(1)) if m else None
        known = self._verified.get(rec["id"]) if rec is not None else None
        if rec is None or known is None:
            return None
        quick = hmac.new(self._pepper, secret.encode("utf-8"), hashlib.sha256).digest()
        return Principal(rec["id"], rec["role"]) if hmac.compare_digest(quick, known) else None

    def verify(self, secret: str) -> Principal | None:
        """The principal whose key this secret is, or None: one scrypt derivation, compared with the
        stored hash in constant time (a slow call: run it off the event loop)."""
        hit = self.cached(secret)
        if hit is not None:
            return hit
        m = SECRET_PATTERN.match(secret)
        rec = self._records.get(m.group(1)) if m else None
        if rec is None:
            # No derivation for an id that is not in the file: key ids are not secret (a 403 names them), and
            # a derivation here would let anyone without a key spend 16 MiB and ~50 ms of CPU per request.
            return None
        stored = bytes.fromhex(rec["hash"])
        got = derive(secret, bytes.fromhex(rec["salt"]), int(rec["n"]), int(rec["r"]), int(rec["p"]), len(stored))
        if not hmac.compare_digest(got, stored):
            return None
        with self._lock:
            if self._records.get(rec["id"]) is not rec:
                return None  # the key was revoked or replaced while it was being derived
            self._verified[rec["id"]] = hmac.new(self._pepper, secret.encode("utf-8"), hashlib.sha256).digest()
        return Principal(rec["id"], rec["role"])

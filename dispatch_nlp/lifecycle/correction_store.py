"""Where corrections are kept: ``SQLiteStore`` (a WAL-mode file) and ``SQLAlchemyStore`` (any database
URL), behind ``CorrectionStore``; ``open_store(target)`` picks one from a path or URL.

``add(correction)`` returns (the correction as stored, whether it was new) once it is committed
durably; ``latest_by_order()`` gives {order_id: the latest correction}.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from dispatch_nlp.errors import InputError
from dispatch_nlp.lifecycle.correction_model import Correction

__all__ = ["CorrectionStore", "SQLiteStore", "SQLAlchemyStore", "StoreBusy", "open_store", "DEFAULT_BUSY_TIMEOUT_S"]

# How long a writer waits for another writer's lock before the store gives up with ``StoreBusy``
# (the service answers 503 + Retry-After): short, so that a locked database does not hold threads.
DEFAULT_BUSY_TIMEOUT_S = 2.0
_PSEUDONYM_RE = re.compile(r"^op:[0-9a-f]{16}$")


class StoreBusy(Exception):
    """The database is locked by another writer (past the busy timeout): nothing was stored; retry."""


def _is_locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text or "lock timeout" in text

log = logging.getLogger(__name__)

_COLUMNS = ("correction_id", "order_id", "kind", "category_code", "category_path", "unit", "district", "street",
            "appeal_type", "catalog_version", "decision_model_version", "decision_catalog_version", "decision",
            "text", "title", "operator", "reason", "corrected_at", "received_at")


class CorrectionStore:
    """Common interface of the stores. ``add`` returns (correction as stored, whether it was new)."""

    url: str
    # What the store raises when its database does not answer: ``ping`` turns these into False.
    unavailable_errors: tuple[type[Exception], ...] = (OSError,)

    def add(self, correction: Correction) -> tuple[Correction, bool]:
        raise NotImplementedError

    def add_many(self, corrections: Iterable[Correction]) -> tuple[int, int]:
        """Store many in one transaction; returns (new, duplicates)."""
        raise NotImplementedError

    def iter_all(self) -> Iterator[Correction]:
        """Every correction, in arrival order."""
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError

    def ping(self) -> bool:
        """True when the database answers; False (logged with the error's type) when it does not."""
        try:
            self.count()
            return True
        except self.unavailable_errors as exc:
            log.warning("corrections store not answering: %s: %s", type(exc).__name__, exc)
            return False

    def probe_write(self) -> bool:
        """True when the database takes a write (a transaction that takes the write lock and rolls
        back); False (logged) when it is locked, read-only or gone."""
        raise NotImplementedError

    def durability(self) -> dict[str, str]:
        """The settings that make a commit durable (SQLite: journal_mode and synchronous)."""
        return {}

    def _salt(self) -> bytes:
        raise NotImplementedError

    def pseudonym(self, operator: str) -> str:
        """The operator as stored: ``op:`` and 16 hex digits of an HMAC under this store's own random
        salt (counting by operator works; the name or key id is not kept). Idempotent."""
        if _PSEUDONYM_RE.match(operator):
            return operator
        return "op:" + hmac.new(self._salt(), operator.encode("utf-8"), hashlib.sha256).hexdigest()[:16]

    def _prepare(self, c: Correction) -> dict:
        c.operator = self.pseudonym(c.operator)
        return {k: v for k, v in c._row().items() if k in _COLUMNS}

    def get(self, correction_id: str) -> Correction | None:
        for c in self.iter_all():
            if c.correction_id == correction_id:
                return c
        return None

    def latest_by_order(self, since: str | None = None) -> dict[str, Correction]:
        """The latest correction of each order (by ``corrected_at``, then arrival): it wins whole."""
        latest: dict[str, tuple[str, int, Correction]] = {}
        for seq, c in enumerate(self.iter_all()):
            if since and (c.corrected_at or "") < since:
                continue
            key = (_sortable(c.corrected_at), seq)
            if c.order_id not in latest or key > latest[c.order_id][:2]:
                latest[c.order_id] = (*key, c)
        return {oid: v[2] for oid, v in latest.items()}

    def close(self) -> None:
        pass


def _sortable(ts: str | None) -> str:
    """ISO times compared in UTC (naive times are taken as UTC)."""
    if not ts:
        return ""
    try:
        t = dt.datetime.fromisoformat(ts)
    except ValueError:
        return ts
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat(timespec="microseconds")


_DDL = """
CREATE TABLE IF NOT EXISTS corrections (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  correction_id TEXT NOT NULL UNIQUE,
  order_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  category_code TEXT, category_path TEXT, unit TEXT, district TEXT, street TEXT, appeal_type TEXT,
  catalog_version TEXT, decision_model_version TEXT, decision_catalog_version TEXT, decision TEXT,
  text TEXT, title TEXT, operator TEXT NOT NULL, reason TEXT,
  corrected_at TEXT NOT NULL, received_at TEXT NOT NULL
)"""
_META_DDL = "CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (0600); SQLite gives the -wal and -shm
    files the database file's permissions."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class SQLiteStore(CorrectionStore):
    """A SQLite file in WAL mode. Safe for many threads and processes writing at once: each write is
    one ``BEGIN IMMEDIATE`` transaction (writers queue on the lock for up to ``busy_timeout_s``), and
    ``synchronous=FULL`` makes a commit durable before ``add`` returns, so an acknowledged correction
    survives a killed process (and a power cut)."""

    unavailable_errors = (sqlite3.Error, InputError, OSError)

    def __init__(self, path: str | Path, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S, synchronous: str = "FULL"):
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a folder; give a database file path")
        if not self.path.parent.exists():
            raise InputError(f"{self.path.parent}: no such folder for the corrections database")
        self.busy_timeout_s = busy_timeout_s
        self.synchronous = synchronous
        self._local = threading.local()
        self._salt_value: bytes | None = None
        _create_private(self.path)
        conn = self._conn()
        with _write(conn):
            conn.execute(_DDL)
            conn.execute("CREATE INDEX IF NOT EXISTS corrections_order ON corrections(order_id)")
            conn.execute(_META_DDL)
            conn.execute("INSERT OR IGNORE INTO store_meta (key, value) VALUES ('operator_salt', ?)",
                         (secrets.token_hex(16),))

    def _salt(self) -> bytes:
        if self._salt_value is None:
            row = self._conn().execute("SELECT value FROM store_meta WHERE key = 'operator_salt'").fetchone()
            self._salt_value = bytes.fromhex(row[0])
        return self._salt_value

    def probe_write(self) -> bool:
        try:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return True
        except (sqlite3.Error, InputError, OSError) as exc:
            log.warning("corrections store does not take writes: %s: %s", type(exc).__name__, exc)
            return False

    def durability(self) -> dict[str, str]:
        conn = self._conn()
        sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[int(conn.execute("PRAGMA synchronous").fetchone()[0])]
        return {"journal_mode": str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower(), "synchronous": sync}

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout_s, isolation_level=None,
                                       check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.DatabaseError as exc:
                raise InputError(f"{self.path}: not a usable SQLite database ({exc})") from None
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def add(self, correction: Correction) -> tuple[Correction, bool]:
        new, _ = self._insert([correction])
        if new:
            return correction, True
        return self.get(correction.correction_id) or correction, False

    def add_many(self, corrections: Iterable[Correction]) -> tuple[int, int]:
        return self._insert(list(corrections))

    def _insert(self, corrections: list[Correction]) -> tuple[int, int]:
        conn = self._conn()
        sql = (f"INSERT INTO corrections ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
               "ON CONFLICT(correction_id) DO NOTHING")
        new = 0
        try:
            with _write(conn):
                for c in corrections:
                    row = self._prepare(c)
                    new += conn.execute(sql, [row[k] for k in _COLUMNS]).rowcount
        except sqlite3.OperationalError as exc:
            if _is_locked(exc):
                raise StoreBusy("the corrections database is locked by another writer") from None
            raise
        return new, len(corrections) - new

    def get(self, correction_id: str) -> Correction | None:
        row = self._conn().execute("SELECT * FROM corrections WHERE correction_id = ?", (correction_id,)).fetchone()
        return Correction._from_row(dict(row)) if row else None

    def iter_all(self) -> Iterator[Correction]:
        for row in self._conn().execute("SELECT * FROM corrections ORDER BY seq"):
            yield Correction._from_row(dict(row))

    def count(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM corrections").fetchone()[0])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class _write:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (rollback on error): takes the write lock up front, so two
    writers never deadlock upgrading a read lock."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        return False


class SQLAlchemyStore(CorrectionStore):
    """Any SQLAlchemy database URL (PostgreSQL for several service instances sharing one store).
    SQLite URLs get the same WAL and synchronous settings as ``SQLiteStore``."""

    def __init__(self, url: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S):
        try:
            import sqlalchemy as sa
        except ImportError:
            scheme = url.split(":", 1)[0]  # never the whole URL: it may hold a password
            raise InputError(f"a {scheme} database URL needs SQLAlchemy: pip install 'dispatch-nlp[serve]'") from None
        self.url = url
        self._sa = sa
        self.unavailable_errors = (sa.exc.SQLAlchemyError, OSError)
        self.busy_timeout_s = busy_timeout_s
        self._salt_value: bytes | None = None
        timeout_ms = int(busy_timeout_s * 1000)
        connect_args: dict = {}
        if url.startswith(("postgresql", "postgres")):
            # Lock waits and statements end after the busy timeout (StoreBusy, 503) instead of stalling.
            connect_args = {"options": f"-c lock_timeout={timeout_ms} -c statement_timeout={timeout_ms * 5}",
                            "connect_timeout": max(1, int(busy_timeout_s))}
        try:
            self.engine = sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        except (sa.exc.SQLAlchemyError, ImportError, ValueError) as exc:  # bad URL, unknown dialect, no driver
            raise InputError(f"corrections database URL not usable: {type(exc).__name__}") from None
        if self.engine.dialect.name == "sqlite":
            path = self.engine.url.database
            if path and path != ":memory:" and Path(path).parent.exists():
                _create_private(Path(path))
            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn, _record):
                dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN be the only one
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")
                cur.execute(f"PRAGMA busy_timeout={timeout_ms}")
                cur.close()

            @sa.event.listens_for(self.engine, "begin")
            def _begin(conn):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        meta = sa.MetaData()
        self.table = sa.Table(
            "corrections", meta,
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("correction_id", sa.String(64), nullable=False, unique=True),
            sa.Column("order_id", sa.String(200), nullable=False, index=True),
            sa.Column("kind", sa.String(16), nullable=False),
            *[sa.Column(c, sa.Text) for c in ("category_code", "category_path", "unit", "district", "street",
                                               "appeal_type", "catalog_version", "decision_model_version",
                                               "decision_catalog_version", "decision", "text", "title")],
            sa.Column("operator", sa.Text, nullable=False),
            sa.Column("reason", sa.Text),
            sa.Column("corrected_at", sa.String(40), nullable=False),
            sa.Column("received_at", sa.String(40), nullable=False),
        )
        self.meta_table = sa.Table("store_meta", meta, sa.Column("key", sa.String(64), primary_key=True),
                                   sa.Column("value", sa.Text, nullable=False))
        try:
            meta.create_all(self.engine)
            self._salt()
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            raise InputError(f"corrections database not reachable: {type(exc).__name__}") from None

    def _salt(self) -> bytes:
        if self._salt_value is None:
            sa, t = self._sa, self.meta_table
            query = sa.select(t.c.value).where(t.c.key == "operator_salt")
            with self.engine.connect() as conn:
                value = conn.execute(query).scalar()
            if value is None:
                try:
                    with self.engine.begin() as conn:
                        conn.execute(t.insert().values(key="operator_salt", value=secrets.token_hex(16)))
                except sa.exc.IntegrityError:  # another instance wrote it first
                    pass
                with self.engine.connect() as conn:
                    value = conn.execute(query).scalar_one()
            self._salt_value = bytes.fromhex(value)
        return self._salt_value

    def probe_write(self) -> bool:
        sa, t = self._sa, self.meta_table
        try:
            with self.engine.connect() as conn:
                with conn.begin() as tx:
                    conn.execute(t.update().where(t.c.key == "operator_salt").values(value=t.c.value))
                    tx.rollback()
            return True
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            log.warning("corrections store does not take writes: %s", type(exc).__name__)
            return False

    def durability(self) -> dict[str, str]:
        if self.engine.dialect.name != "sqlite":
            with self.engine.connect() as conn:
                return {"synchronous_commit": str(conn.exec_driver_sql("SHOW synchronous_commit").scalar()),
                        "fsync": str(conn.exec_driver_sql("SHOW fsync").scalar())}
        with self.engine.connect() as conn:
            sync = int(conn.exec_driver_sql("PRAGMA synchronous").scalar() or 0)
            mode = str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).lower()
        return {"journal_mode": mode, "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[sync]}

    def _insert(self, corrections: list[Correction]) -> tuple[int, int]:
        sa = self._sa
        new = 0
        try:
            new = self._insert_tx(corrections)
        except sa.exc.OperationalError as exc:
            if _is_locked(exc) or "LockNotAvailable" in type(getattr(exc, "orig", None)).__name__:
                raise StoreBusy("the corrections database is locked by another writer") from None
            raise
        return new, len(corrections) - new

    def _insert_tx(self, corrections: list[Correction]) -> int:
        sa = self._sa
        new = 0
        with self.engine.begin() as conn:
            for c in corrections:
                row = self._prepare(c)
                exists = conn.execute(sa.select(self.table.c.seq).where(
                    self.table.c.correction_id == c.correction_id)).first()
                if exists is None:
                    conn.execute(self.table.insert().values(**row))
                    new += 1
        return new

    def add(self, correction: Correction) -> tuple[Correction, bool]:
        sa = self._sa
        try:
            new, _ = self._insert([correction])
        except sa.exc.IntegrityError:  # a concurrent writer stored the same correction_id first
            new = 0
        if new:
            return correction, True
        return self.get(correction.correction_id) or correction, False

    def add_many(self, corrections: Iterable[Correction]) -> tuple[int, int]:
        return self._insert(list(corrections))

    def get(self, correction_id: str) -> Correction | None:
        with self.engine.connect() as conn:
            row = conn.execute(self.table.select().where(self.table.c.correction_id == correction_id)).mappings().first()
        return Correction._from_row(dict(row)) if row else None

    def iter_all(self) -> Iterator[Correction]:
        with self.engine.connect() as conn:
            rows = conn.execute(self.table.select().order_by(self.table.c.seq)).mappings().all()
        for row in rows:
            yield Correction._from_row(dict(row))

    def count(self) -> int:
        sa = self._sa
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(self.table)).scalar_one())

    def close(self) -> None:
        self.engine.dispose()


def open_store(target: str | Path, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> CorrectionStore:
    """A database URL (``scheme://…``) opens through SQLAlchemy; anything else is a SQLite file path."""
    text = str(target)
    if "://" in text:
        return SQLAlchemyStore(text, busy_timeout_s=busy_timeout_s)
    return SQLiteStore(text, busy_timeout_s=busy_timeout_s)

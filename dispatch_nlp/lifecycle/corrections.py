"""Operators' corrections (改派, 退单): recorded durably, read back as training labels.

A ``Correction`` says, for one order, what the dispatch decision was (with its model and catalog
versions) and what it should have been (category, unit, district, street, appeal type), who said so,
why and when. Stores:

    store = open_store("corrections.db")                 # SQLite file, WAL mode (the default)
    store = open_store("postgresql+psycopg://u@h/db")    # any SQLAlchemy URL (multi-instance)
    stored = store.add(correction)                        # committed (fsynced) before it returns
    latest = store.latest_by_order()                      # {order_id: Correction}, the latest wins

``add`` is idempotent on ``correction_id``: a client that retries after a lost reply does not record
the same correction twice. Order text, title and reason are masked before they are stored: the store
never holds phone or ID numbers, and the model only ever reads masked text anyway.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dispatch_nlp.errors import InputError
from dispatch_nlp.files import atomic_open
from dispatch_nlp.knowledge.vocabulary import APPEAL_TYPES, CORRECTION_KIND_OF
from dispatch_nlp.text.pii import mask_text

__all__ = ["Correction", "CorrectionStore", "SQLiteStore", "SQLAlchemyStore", "open_store", "KINDS",
           "CORRECTED_FIELDS", "read_corrections_table", "export_training_table"]

# 改派 = the order went to the wrong unit and is sent on; 退单 = the receiving unit returned it.
KINDS = CORRECTION_KIND_OF
CORRECTED_FIELDS = ("category_code", "category_path", "unit", "district", "street", "appeal_type")
_CODE_RE = re.compile(r"^(\d\d){1,3}$")
_DIV_RE = re.compile(r"^\d{12}$")

_COLUMNS = ("correction_id", "order_id", "kind", "category_code", "category_path", "unit", "district", "street",
            "appeal_type", "catalog_version", "decision_model_version", "decision_catalog_version", "decision",
            "text", "title", "operator", "reason", "corrected_at", "received_at")


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


@dataclass
class Correction:
    """One operator correction. At least one of ``CORRECTED_FIELDS`` is set."""

    order_id: str
    operator: str
    kind: str = "reassign"
    category_code: str | None = None
    category_path: list[str] | None = None
    unit: str | None = None
    district: str | None = None  # 12-digit division codes
    street: str | None = None
    appeal_type: str | None = None
    catalog_version: str | None = None  # the catalog the corrected category belongs to
    decision_model_version: str | None = None
    decision_catalog_version: str | None = None
    decision: dict | None = None  # the decision JSON that was corrected, as the service returned it
    text: str | None = None  # the order text, for orders the history table does not hold (masked)
    title: str | None = None
    reason: str | None = None
    corrected_at: str | None = None  # when the operator corrected it (ISO 8601); default: received_at
    received_at: str | None = None
    correction_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def check(self) -> "Correction":
        """Validate and normalize in place; raises ``InputError`` naming the field."""
        if not isinstance(self.order_id, str) or not self.order_id.strip():
            raise InputError("order_id: required (the id of the corrected order)")
        if not isinstance(self.operator, str) or not self.operator.strip():
            raise InputError("operator: required (who made the correction)")
        self.kind = KINDS.get(str(self.kind).strip(), None) or _bad("kind", f"{self.kind!r} is not one of "
                                                                     + ", ".join(sorted(KINDS)))
        if isinstance(self.category_path, str):
            self.category_path = [p.strip() for p in re.split(r"\s*(?:->|>|/)\s*", self.category_path) if p.strip()]
        if self.category_path is not None and (not self.category_path
                                               or not all(isinstance(p, str) and p for p in self.category_path)):
            raise InputError("category_path: expected a list of category names, first level first")
        if self.category_code is not None and not _CODE_RE.match(str(self.category_code)):
            raise InputError(f"category_code: {self.category_code!r} is not a catalog code (2, 4 or 6 digits)")
        for name in ("district", "street"):
            value = getattr(self, name)
            if value is not None and not _DIV_RE.match(str(value)):
                raise InputError(f"{name}: {value!r} is not a 12-digit division code")
        if self.appeal_type is not None and self.appeal_type not in APPEAL_TYPES:
            raise InputError(f"appeal_type: {self.appeal_type!r} is not one of {', '.join(APPEAL_TYPES)}")
        if not any(getattr(self, f) for f in CORRECTED_FIELDS):
            raise InputError("a correction must set at least one of: " + ", ".join(CORRECTED_FIELDS))
        if self.decision is not None:
            self.decision_model_version = self.decision_model_version or self.decision.get("model_version")
            self.decision_catalog_version = self.decision_catalog_version or self.decision.get("catalog_version")
        self.catalog_version = self.catalog_version or self.decision_catalog_version
        for name in ("corrected_at", "received_at"):
            value = getattr(self, name)
            if value is not None:
                try:
                    dt.datetime.fromisoformat(str(value))
                except ValueError:
                    raise InputError(f"{name}: {value!r} is not an ISO 8601 time") from None
        # Personal data never enters the store.
        self.text = mask_text(self.text) if self.text else None
        self.title = mask_text(self.title) if self.title else None
        self.reason = mask_text(self.reason) if self.reason else None
        self.received_at = self.received_at or utc_now()
        self.corrected_at = self.corrected_at or self.received_at
        self.correction_id = str(self.correction_id or uuid.uuid4().hex)
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Correction":
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown correction field(s): {', '.join(unknown)}")
        values = {k: v for k, v in data.items() if v is not None and v != ""}
        for required in ("order_id", "operator"):
            if required not in values:
                raise InputError(f"{required}: required")
        return cls(**values).check()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _row(self) -> dict[str, Any]:
        row = self.to_dict()
        row["category_path"] = json.dumps(self.category_path, ensure_ascii=False) if self.category_path else None
        row["decision"] = json.dumps(self.decision, ensure_ascii=False) if self.decision is not None else None
        return row

    @classmethod
    def _from_row(cls, row: dict[str, Any]) -> "Correction":
        row = dict(row)
        row.pop("seq", None)
        row["category_path"] = json.loads(row["category_path"]) if row.get("category_path") else None
        row["decision"] = json.loads(row["decision"]) if row.get("decision") else None
        return cls(**row)


def _bad(name: str, why: str):
    raise InputError(f"{name}: {why}")


class CorrectionStore:
    """Common interface of the stores. ``add`` returns (correction as stored, whether it was new)."""

    url: str

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
        try:
            self.count()
            return True
        except Exception:  # noqa: BLE001 - health check
            return False

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


class SQLiteStore(CorrectionStore):
    """A SQLite file in WAL mode. Safe for many threads and processes writing at once: each write is
    one ``BEGIN IMMEDIATE`` transaction (writers queue on the lock for up to ``busy_timeout_s``), and
    ``synchronous=FULL`` makes a commit durable before ``add`` returns, so an acknowledged correction
    survives a killed process (and a power cut)."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0, synchronous: str = "FULL"):
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a folder; give a database file path")
        if not self.path.parent.exists():
            raise InputError(f"{self.path.parent}: no such folder for the corrections database")
        self.busy_timeout_s = busy_timeout_s
        self.synchronous = synchronous
        self._local = threading.local()
        conn = self._conn()
        with _write(conn):
            conn.execute(_DDL)
            conn.execute("CREATE INDEX IF NOT EXISTS corrections_order ON corrections(order_id)")

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
        with _write(conn):
            for c in corrections:
                row = c._row()
                new += conn.execute(sql, [row[k] for k in _COLUMNS]).rowcount
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
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


class SQLAlchemyStore(CorrectionStore):
    """Any SQLAlchemy database URL (PostgreSQL for several service instances sharing one store).
    SQLite URLs get the same WAL and synchronous settings as ``SQLiteStore``."""

    def __init__(self, url: str):
        try:
            import sqlalchemy as sa
        except ImportError:
            raise InputError(f"{url}: a database URL needs SQLAlchemy: pip install 'dispatch-nlp[serve]'") from None
        self.url = url
        self._sa = sa
        try:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
        except Exception as exc:  # noqa: BLE001 - bad URL or missing driver
            raise InputError(f"corrections database URL not usable: {type(exc).__name__}: {exc}") from None
        if self.engine.dialect.name == "sqlite":
            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn, _record):
                dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN be the only one
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")
                cur.execute("PRAGMA busy_timeout=30000")
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
        try:
            meta.create_all(self.engine)
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"corrections database not reachable: {type(exc).__name__}: {exc}") from None

    def _insert(self, corrections: list[Correction]) -> tuple[int, int]:
        sa = self._sa
        new = 0
        with self.engine.begin() as conn:
            for c in corrections:
                row = {k: v for k, v in c._row().items() if k in _COLUMNS}
                exists = conn.execute(sa.select(self.table.c.seq).where(
                    self.table.c.correction_id == c.correction_id)).first()
                if exists is None:
                    conn.execute(self.table.insert().values(**row))
                    new += 1
        return new, len(corrections) - new

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


def open_store(target: str | Path) -> CorrectionStore:
    """A database URL (``scheme://…``) opens through SQLAlchemy; anything else is a SQLite file path."""
    text = str(target)
    if "://" in text:
        return SQLAlchemyStore(text)
    return SQLiteStore(text)


# ---- tables in and out -------------------------------------------------------------------------------

_IMPORT_ALIASES = {"id": "order_id", "category": "category_path", "appeal": "appeal_type", "unit_id": "unit",
                   "district_code": "district", "street_code": "street", "model_version": "decision_model_version",
                   "time": "corrected_at"}


def read_corrections_table(path: str | Path, *, encoding: str | None = None) -> Iterator[tuple[int, Correction | InputError]]:
    """Read a CSV/TSV/JSONL/XLSX table of corrections (columns named as the ``Correction`` fields, or
    ``id``/``category``/``appeal``/``unit_id``/``time``); yields (row number, correction or error)."""
    from dispatch_nlp.batch.tables import read_rows

    for n, row in read_rows(path, encoding=encoding):
        if "__error__" in row:
            yield n, InputError(f"row {n}: {row['__error__']}")
            continue
        data = {}
        for k, v in row.items():
            key = _IMPORT_ALIASES.get(str(k).strip(), str(k).strip())
            if isinstance(v, float) and v != v:
                v = None
            data[key] = v
        if isinstance(data.get("decision"), str) and data["decision"].strip():
            try:
                data["decision"] = json.loads(data["decision"])
            except ValueError:
                yield n, InputError(f"row {n}: decision: not valid JSON")
                continue
        for k in ("order_id", "operator", "category_code", "district", "street", "unit", "correction_id"):
            if data.get(k) is not None and not isinstance(data[k], str):
                data[k] = str(data[k])
        try:
            yield n, Correction.from_dict(data)
        except (InputError, TypeError) as exc:
            yield n, InputError(f"row {n}: {exc}")


def export_training_table(store: CorrectionStore, path: str | Path, *, catalog=None, since: str | None = None) -> dict:
    """Write the latest correction of each order as a training table (JSONL or CSV by suffix) with
    columns ``id, text, title, category_code, category_path, appeal_type, district, street, unit,
    corrected_at, catalog_version``; with ``catalog`` the codes are migrated to it and paths filled in."""
    from dispatch_nlp.knowledge.catalog import Catalog  # noqa: F401 - type only

    latest = store.latest_by_order(since=since)
    counts = {"orders": len(latest), "written": 0, "category_removed": 0}
    records = []
    for oid, c in sorted(latest.items()):
        code, path_names = c.category_code, c.category_path
        if catalog is not None:
            code, path_names, removed = label_in_catalog(catalog, code, path_names, c.catalog_version)
            counts["category_removed"] += removed
        records.append({"id": oid, "text": c.text, "title": c.title, "category_code": code,
                        "category_path": path_names, "appeal_type": c.appeal_type, "district": c.district,
                        "street": c.street, "unit": c.unit, "corrected_at": c.corrected_at,
                        "catalog_version": catalog.version if catalog is not None else c.catalog_version})
    path = Path(path)
    if path.suffix.lower() in (".csv", ".tsv"):
        with atomic_open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(records[0]) if records else ["id"],
                               delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            w.writeheader()
            for r in records:
                w.writerow({k: (" > ".join(v) if isinstance(v, list) else v) for k, v in r.items()})
    else:
        with atomic_open(path, "w") as fh:
            for r in records:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts["written"] = len(records)
    return counts


def label_in_catalog(catalog, code: str | None, path_names: list[str] | None,
                     from_version: str | None) -> tuple[str | None, list[str] | None, int]:
    """A corrected category expressed in ``catalog``: the code migrated from ``from_version`` through
    the catalog's migration map (None when the revision removed it; the third value is then 1), and
    its path of names. A path alone is looked up by name."""
    if code:
        if from_version and from_version != catalog.version:
            try:
                code = catalog.migrate(code, from_version)
            except KeyError:
                code = code if code in catalog else None
            if code is None:
                return None, None, 1
        if code not in catalog:
            return None, None, 1
        return code, list(catalog.get(code).path), 0
    if path_names:
        try:
            item = catalog.by_path(tuple(path_names))
        except KeyError:
            return None, None, 1
        return item.code, list(item.path), 0
    return None, None, 0

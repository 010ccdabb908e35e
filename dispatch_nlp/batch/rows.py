"""One input row → one output row: the part of batch reclassification that both engines share.

``RowProcessor(dispatcher, spec, compare_col=...)`` takes ``(row_number, raw_row)`` pairs (a raw row
is the dict ``tables.read_rows`` yields, or a pandas row on a Spark executor) and returns output rows
as lists in ``columns(compare)`` order. A row that cannot be dispatched (empty, unreadable, over-long,
wrong type) still gives a row: its ``error`` says why and its decision is routed to ``review``.

Decisions are stored without ``timings_ms`` so that a rerun, a resumed run and the Spark engine write
byte-identical output (timings belong in benchmarks, not in reclassified history).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence

from dispatch_nlp.batch.tables import ColumnSpec, _cell
from dispatch_nlp.errors import InputError
from dispatch_nlp.knowledge.vocabulary import DEFAULT_EMERGENCY_NUMBER
from dispatch_nlp.routing.assign import assign_units
from dispatch_nlp.routing.router import bad_input_decision
from dispatch_nlp.types import DispatchDecision, WorkOrder

# (name, type) in output order; types: str, int, float, bool (the Parquet and Spark schemas follow).
BASE_COLUMNS: list[tuple[str, str]] = [
    ("row", "int"), ("id", "str"), ("error", "str"),
    ("route", "str"), ("transfer_to", "str"), ("confidence", "float"),
    ("category_code", "str"), ("category_path", "str"), ("category_confidence", "float"),
    ("appeal_type", "str"), ("response_level", "str"), ("deadline_hours", "int"),
    ("district_code", "str"), ("district_name", "str"), ("street_code", "str"), ("street_name", "str"),
    ("community_code", "str"), ("community_name", "str"), ("jurisdiction_method", "str"),
    ("unit_id", "str"), ("unit_name", "str"),
    ("flags", "str"), ("model_version", "str"), ("catalog_version", "str"),
    ("decision", "str"),
]
COMPARE_COLUMNS: list[tuple[str, str]] = [
    ("label_before", "str"), ("code_before", "str"), ("path_before", "str"), ("unit_before", "str"),
    ("category_changed", "bool"), ("route_changed", "bool"),
]
DEFAULT_MAX_CHARS = 20_000  # beyond this a cell is not one order (merged export lines, pasted files)


def columns(compare: bool) -> list[tuple[str, str]]:
    return BASE_COLUMNS + (COMPARE_COLUMNS if compare else [])


def column_names(compare: bool) -> list[str]:
    return [name for name, _ in columns(compare)]


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _kind(value) -> str:
    """A type name that both engines agree on (pyarrow gives int, pandas numpy.int64 or float)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "binary data"
    if isinstance(value, bool) or type(value).__name__.startswith("bool"):
        return "a true/false value"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        return "a list"
    if isinstance(value, (int, float)) or type(value).__module__ == "numpy":
        return "a number"
    return "a non-text value"


def check_row(raw: dict, spec: ColumnSpec, max_chars: int) -> str | None:
    """Why this row cannot be dispatched (the ``error`` column), or None. Never quotes the content."""
    if "__error__" in raw:
        return f"unreadable: {raw['__error__']}"
    if spec.text_col not in raw:
        return f"missing column: the row has no {spec.text_col!r}"
    text = raw[spec.text_col]
    if _is_missing(text):
        return "empty: no text"
    if not isinstance(text, str):
        return f"wrong type: column {spec.text_col!r} holds {_kind(text)}, not text"
    if "\x00" in text:
        return f"unreadable: column {spec.text_col!r} holds binary data (NUL characters)"
    if not text.strip():
        return "empty: no text"
    if len(text) > max_chars:
        return f"too long: {len(text)} characters, over the limit of {max_chars} (--max-chars)"
    for col, value in raw.items():
        if isinstance(value, str) and len(value) > max_chars:
            return f"too long: column {col!r} holds {len(value)} characters, over the limit of {max_chars} (--max-chars)"
    return None


def cut_long_cells(raw: dict, max_chars: int) -> dict:
    """``raw`` with every text cell cut to ``max_chars`` (what a bad row echoes: its id, its label)."""
    if all(not isinstance(v, str) or len(v) <= max_chars for v in raw.values()):
        return raw
    return {k: v[:max_chars] if isinstance(v, str) else v for k, v in raw.items()}


def _id_of(raw: dict, spec: ColumnSpec, n: int) -> str:
    value = raw.get(spec.id_col) if spec.id_col else None
    if isinstance(value, float) and not math.isnan(value) and value.is_integer():
        value = int(value)  # an id column with gaps comes back as float from pandas
    cell = _cell({"v": value}, "v") if spec.id_col else None
    return cell or str(n)


def _label(raw: dict, col: str | None) -> str | None:
    if not col:
        return None
    value = raw.get(col)
    if _is_missing(value):
        return None
    if isinstance(value, (list, tuple)):
        return " > ".join(str(v) for v in value)
    text = str(value).strip()
    return text or None


class RowProcessor:
    """Dispatch raw rows with one loaded ``Dispatcher``; orders are batched by length."""

    def __init__(self, dispatcher, spec: ColumnSpec, *, compare_col: str | None = None,
                 max_chars: int = DEFAULT_MAX_CHARS, batch_size: int = 64):
        self.dispatcher = dispatcher
        self.spec = spec
        self.compare_col = compare_col
        self.max_chars = max_chars
        self.batch_size = max(int(batch_size), 1)
        self.path_sep = " > "

    def process(self, items: Sequence[tuple[int, dict]]) -> list[list]:
        orders: list[WorkOrder | None] = []
        errors: list[str | None] = []
        for n, raw in items:
            err = check_row(raw, self.spec, self.max_chars)
            order = None
            if err is None:
                try:
                    order = WorkOrder.coerce(self.spec.parse(n, raw).order)
                    order.id = _id_of(raw, self.spec, n)
                except (InputError, TypeError) as exc:
                    err = f"wrong type: {exc}"
            orders.append(order)
            errors.append(err)
        decisions = self._dispatch(orders, errors)
        out = []
        for (n, raw), err, dec in zip(items, errors, decisions):
            if err is not None:
                raw = cut_long_cells(raw, self.max_chars)  # a bad row's id and label, truncated
            oid = _id_of(raw, self.spec, n)
            if dec is None:
                dec = self._bad(oid, err or "failed")
            out.append(self._row(n, oid, err, dec, raw))
        return out

    def _bad(self, oid: str, err: str) -> DispatchDecision:
        d = self.dispatcher
        dec = bad_input_decision(oid, f"无法处理：{err}", catalog_version=d.catalog_version,
                                 model_version=d.model_version)
        if err.startswith("empty"):
            dec.flags.append("empty_text")
        return dec

    def _dispatch(self, orders: list[WorkOrder | None], errors: list[str | None]) -> list[DispatchDecision | None]:
        """Length-sorted batches (similar lengths pad least in the encoder); results in input order.
        A batch that fails is retried order by order so one bad order cannot stop the run."""
        present = [(i, o) for i, o in enumerate(orders) if o is not None]
        good = [i for i, _ in sorted(present, key=lambda item: len(item[1].text))]
        result: list[DispatchDecision | None] = [None] * len(orders)
        for start in range(0, len(good), self.batch_size):
            idx = good[start: start + self.batch_size]
            try:
                decs = self.dispatcher.dispatch_batch([orders[i] for i in idx], batch_size=self.batch_size)
            except Exception:  # noqa: BLE001 - isolate the failing order below
                decs = []
                for i in idx:
                    try:
                        decs.append(self.dispatcher.dispatch(orders[i]))
                    except Exception as exc:  # noqa: BLE001 - a row error, the run goes on
                        errors[i] = f"failed: {type(exc).__name__} while dispatching"
                        decs.append(None)
            for i, dec in zip(idx, decs):
                result[i] = dec
        return result

    def _row(self, n: int, oid: str, err: str | None, dec: DispatchDecision, raw: dict) -> list:
        cat, juris, units = dec.category, dec.jurisdiction, dec.units
        data = plain(dec)
        data.pop("timings_ms", None)

        def ref(r, attr):
            return getattr(r, attr) if r is not None else None

        row = [
            n, oid, err, dec.route, dec.transfer_to, float(dec.confidence),
            cat.code, self.path_sep.join(cat.path) if cat.path else None,
            float(cat.confidence) if cat.code else None,
            dec.appeal_type.label if dec.appeal_type else None,
            dec.response_level.level, dec.response_level.deadline_hours,
            ref(juris.district, "code"), ref(juris.district, "name"), ref(juris.street, "code"),
            ref(juris.street, "name"), ref(juris.community, "code"), ref(juris.community, "name"), juris.method,
            ref(units.primary, "id"), ref(units.primary, "name"),
            ",".join(dec.flags), dec.model_version, dec.catalog_version,
            json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        ]
        if self.compare_col:
            row.extend(self._compare(_label(raw, self.compare_col), dec, err is not None))
        return row

    # -- comparison with an existing label ---------------------------------------------------------
    def resolve_label(self, label: str):
        """The current catalog item an existing label means: a code, an old code the catalog's
        migration map renames (None if removed), or a path of names (any level)."""
        catalog = self.dispatcher.catalog
        if label in catalog:
            return catalog.get(label)
        for version, mapping in catalog.migrations.items():
            if label in mapping:
                try:
                    code = catalog.migrate(label, version)
                except KeyError:
                    return None
                return catalog.get(code) if code else None
        for sep in (self.spec.path_sep, ">", "/", "-", "—"):
            parts = [p.strip() for p in label.split(sep) if p.strip()]
            if len(parts) > 1 or sep == self.spec.path_sep:
                try:
                    return catalog.by_path(parts)
                except KeyError:
                    continue
        return None

    def _compare(self, label: str | None, dec: DispatchDecision, bad: bool) -> list:
        if label is None:
            return [None, None, None, None, None, None]
        item = self.resolve_label(label)
        if item is None or bad:
            return [label, item.code if item else None, " > ".join(item.path) if item else None, None, None, None]
        before_path = list(item.path)
        changed = list(dec.category.path[: len(before_path)]) != before_path
        unit_before = route_changed = None
        if item.is_leaf:
            router = self.dispatcher.router
            before = assign_units(item, dec.jurisdiction, self.dispatcher.units, router.settings.territorial_dispatch)
            unit_before = before.primary.id if before.primary else None
            route_changed = _destination_before(item, unit_before) != destination(dec)
        return [label, item.code, " > ".join(before_path), unit_before, changed, route_changed]


_FIELDS: dict[type, tuple[str, ...]] = {}


def plain(obj):
    """``DispatchDecision.to_dict()`` without ``dataclasses.asdict``'s deep copies (a fifth of the
    batch time went there); same result."""
    cls = type(obj)
    names = _FIELDS.get(cls)
    if names is None and hasattr(cls, "__dataclass_fields__"):
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    if names is not None:
        return {n: plain(getattr(obj, n)) for n in names}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    return obj


def destination(dec: DispatchDecision) -> str:
    """Where an order ends up: a unit id, an emergency number, out of scope or back to the district."""
    if dec.route == "emergency_transfer":
        return f"transfer:{dec.transfer_to}"
    if dec.route in ("out_of_scope", "return_to_district"):
        return dec.route
    return dec.units.primary.id if dec.units.primary else "unassigned"


def _destination_before(item, unit_id: str | None) -> str:
    if item.duty == "emergency_transfer":
        return f"transfer:{(item.emergency or {}).get('transfer_to') or DEFAULT_EMERGENCY_NUMBER}"
    if item.duty == "out_of_scope":
        return "out_of_scope"
    return unit_id or "unassigned"

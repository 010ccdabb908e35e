"""Reading the tables users bring: exported history, labeled training data, orders to reclassify.

``read_rows(path, encoding=None)`` streams the rows of a CSV/TSV (UTF-8, GBK or GB18030, detected),
XLSX, JSONL or Parquet file as ``(row_number, dict)``; ``ColumnSpec`` names which columns hold the
text, title, id, time and labels (the ``--text-col`` ... flags of the CLI) and turns a row into a
``LabeledRow``. Every problem is an ``InputError`` that names the file, the row and what to fix.
"""

from __future__ import annotations

import codecs
import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dispatch_nlp.errors import InputError
from dispatch_nlp.types import WorkOrder

FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
           ".xlsx": "xlsx", ".parquet": "parquet", ".pq": "parquet"}
SNIFF_BYTES = 1 << 16


def table_format(path: str | Path, fmt: str | None = None) -> str:
    if fmt:
        if fmt not in set(FORMATS.values()):
            raise InputError(f"unknown table format {fmt!r}; use one of csv, tsv, jsonl, xlsx, parquet")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{path}: cannot tell the format from the suffix {suffix!r}; "
                         "use .csv, .tsv, .jsonl, .xlsx or .parquet (or pass --format)")
    return FORMATS[suffix]


def detect_encoding(path: str | Path) -> str:
    """``utf-8-sig`` when the start of the file decodes as UTF-8, else ``gb18030`` (a superset of GBK)
    when that decodes; otherwise an ``InputError``."""
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if b"\x00" in head:
        raise InputError(f"{path}: holds binary data (NUL bytes), not a text table")
    for enc in ("utf-8-sig", "gb18030"):
        try:
            # A multi-byte character may be cut at the end of the sample: decode it as an unfinished stream.
            codecs.getincrementaldecoder(enc)(errors="strict").decode(head, final=len(head) < SNIFF_BYTES)
            return enc
        except UnicodeDecodeError:
            continue
    raise InputError(f"{path}: neither UTF-8 nor GBK/GB18030 text; pass --encoding with the right encoding")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a table file")


def read_rows(path: str | Path, *, encoding: str | None = None, fmt: str | None = None,
              sheet: str | None = None) -> Iterator[tuple[int, dict]]:
    """Stream ``(row_number, row)``; row numbers count data rows from 1 (a header is not a row)."""
    path = Path(path)
    _check_file(path)
    kind = table_format(path, fmt)
    if kind in ("csv", "tsv"):
        yield from _read_delimited(path, "," if kind == "csv" else "\t", encoding or detect_encoding(path))
    elif kind == "jsonl":
        yield from _read_jsonl(path, encoding or detect_encoding(path))
    elif kind == "xlsx":
        yield from _read_xlsx(path, sheet)
    else:
        yield from _read_parquet(path)


def allow_any_field_size() -> None:
    """Lift the csv module's 131,072-character field limit (a field is then bounded by memory only):
    an over-long cell is a bad row for the caller to flag, not the end of the whole read."""
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:  # a C long narrower than Py_ssize_t (Windows)
            limit //= 2


def _read_delimited(path: Path, delimiter: str, encoding: str) -> Iterator[tuple[int, dict]]:
    allow_any_field_size()
    try:
        with open(path, encoding=encoding, errors="strict", newline="") as fh:
            reader = csv.DictReader(fh, delimiter=delimiter)
            if reader.fieldnames is None:
                return
            header = [h.strip() if h else h for h in reader.fieldnames]
            reader.fieldnames = header
            for n, row in enumerate(reader, start=1):
                row.pop(None, None)  # cells beyond the header (a merged line) are dropped, not fatal
                yield n, row
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not {encoding} text (byte {exc.start}); pass --encoding") from None
    except csv.Error as exc:
        raise InputError(f"{path}: malformed {'CSV' if delimiter == ',' else 'TSV'} ({exc})") from None


def _read_jsonl(path: Path, encoding: str) -> Iterator[tuple[int, dict]]:
    try:
        with open(path, encoding=encoding, errors="strict") as fh:
            n = 0
            for line in fh:
                if not line.strip():
                    continue
                n += 1
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield n, {"__error__": f"not valid JSON ({exc.msg} at column {exc.colno})"}
                    continue
                yield n, obj if isinstance(obj, dict) else {"__error__": "a JSON line must be an object"}
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not {encoding} text (byte {exc.start}); pass --encoding") from None


def _read_xlsx(path: Path, sheet: str | None) -> Iterator[tuple[int, dict]]:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - openpyxl is a dependency
        raise InputError("reading .xlsx needs openpyxl: pip install openpyxl") from None
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise InputError(f"{path}: not a readable XLSX workbook ({type(exc).__name__})") from None
    try:
        ws = wb[sheet] if sheet else wb.worksheets[0]
    except KeyError:
        raise InputError(f"{path}: no sheet named {sheet!r}; sheets: {', '.join(wb.sheetnames)}") from None
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        return
    names = [str(h).strip() if h is not None else f"column{i + 1}" for i, h in enumerate(header)]
    for n, values in enumerate(rows, start=1):
        yield n, {k: ("" if v is None else str(v) if not isinstance(v, str) else v) for k, v in zip(names, values)}
    wb.close()


def _read_parquet(path: Path) -> Iterator[tuple[int, dict]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("reading Parquet needs pyarrow: pip install pyarrow") from None
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise InputError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
    n = 0
    for batch in pf.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            n += 1
            yield n, row


def _cell(row: dict, col: str | None) -> str | None:
    if not col:
        return None
    value = row.get(col)
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN from pandas-written files
        return None
    text = str(value).strip()
    return text or None


@dataclass
class LabeledRow:
    """One row as an order plus whatever labels the table gives (None where it gives none)."""

    row: int
    order: WorkOrder
    category: tuple[str, ...] | None = None  # names from the first level down
    appeal_type: str | None = None
    district: str | None = None
    street: str | None = None
    unit: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class ColumnSpec:
    """Which columns hold what (the CLI's ``--text-col`` ... flags)."""

    text_col: str = "text"
    title_col: str | None = None
    id_col: str | None = None
    time_col: str | None = None
    category_cols: tuple[str, ...] = ()
    category_col: str | None = None
    path_sep: str = "->"
    appeal_col: str | None = None
    district_col: str | None = None
    street_col: str | None = None
    unit_col: str | None = None

    def columns(self) -> list[str]:
        cols = [self.text_col, self.title_col, self.id_col, self.time_col, self.category_col, self.appeal_col,
                self.district_col, self.street_col, self.unit_col, *self.category_cols]
        return [c for c in cols if c]

    def check_header(self, header: list[str], source: str) -> None:
        missing = [c for c in self.columns() if c not in header]
        if missing:
            raise InputError(f"{source}: no column(s) {', '.join(missing)}; the table has: {', '.join(header)}")

    @property
    def has_category(self) -> bool:
        return bool(self.category_cols or self.category_col)

    def parse(self, n: int, row: dict) -> LabeledRow:
        """Turn a raw row into a ``LabeledRow``; raises ``InputError`` for a row that has no usable text."""
        if "__error__" in row:
            raise InputError(f"row {n}: {row['__error__']}")
        text = row.get(self.text_col)
        if text is not None and not isinstance(text, str):
            if isinstance(text, (bytes, bytearray)):
                raise InputError(f"row {n}: column {self.text_col} holds binary data")
            text = "" if isinstance(text, float) and text != text else str(text)
        order = WorkOrder(
            text=text or "",
            id=_cell(row, self.id_col) or str(n),
            title=_cell(row, self.title_col),
            created_at=_cell(row, self.time_col),
            channel=_cell(row, "channel"),
        )
        category = None
        if self.category_cols:
            parts = tuple(p for p in (_cell(row, c) for c in self.category_cols) if p)
            category = parts or None
        elif self.category_col and isinstance(row.get(self.category_col), (list, tuple)):
            category = tuple(str(p).strip() for p in row[self.category_col] if str(p).strip()) or None
        elif self.category_col:
            value = _cell(row, self.category_col)
            category = tuple(p.strip() for p in value.split(self.path_sep) if p.strip()) if value else None
        return LabeledRow(n, order, category, _cell(row, self.appeal_col), _cell(row, self.district_col),
                          _cell(row, self.street_col), _cell(row, self.unit_col))


def read_labeled(path: str | Path, spec: ColumnSpec, *, encoding: str | None = None,
                 fmt: str | None = None) -> Iterator[LabeledRow | InputError]:
    """Stream labeled rows; a bad row comes out as an ``InputError`` (the caller decides), a missing
    column stops the whole read with one message listing what the table has."""
    first = True
    for n, row in read_rows(path, encoding=encoding, fmt=fmt):
        if first:
            if "__error__" not in row:
                spec.check_header(list(row), str(path))
            first = False
        try:
            yield spec.parse(n, row)
        except InputError as exc:
            yield exc


def write_jsonl(path: str | Path, records) -> int:
    """Write dicts as JSON Lines (UTF-8); returns the count."""
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    return n


def sniff_text(data: bytes) -> str:
    """Decode bytes the way ``detect_encoding`` would (for uploads in the service)."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InputError("neither UTF-8 nor GBK/GB18030 text")


__all__ = ["ColumnSpec", "LabeledRow", "read_rows", "read_labeled", "detect_encoding", "table_format",
           "write_jsonl", "sniff_text"]

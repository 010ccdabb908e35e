"""Files of batch reclassification: the output writers (one per format, all streaming), chunked
reading of the input, and a cheap estimate of the row count for the progress bar."""

from __future__ import annotations

import contextlib
import csv
import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from dispatch_nlp.batch.safe_cells import csv_cell, xlsx_cell
from dispatch_nlp.batch.tables import SNIFF_BYTES, ColumnSpec, read_rows, table_format
from dispatch_nlp.batch.tables import detect_encoding as strict_detect
from dispatch_nlp.errors import InputError
from dispatch_nlp.files import atomic_open

log = logging.getLogger(__name__)

XLSX_MAX_ROWS = 1_048_576


class RowWriter:
    """Write output rows (lists in ``columns`` order) to ``path`` in ``fmt``. CSV/TSV and XLSX cells
    follow ``safe_cells`` (text is never a formula; numbers stay numbers). Rows go to a hidden
    temporary file first (``files.atomic_open``) and ``close()`` fsyncs it and moves it into place,
    so a failed run never leaves a file that looks complete; ``abort()`` removes it."""

    def __init__(self, path: str | Path, columns: list[tuple[str, str]], *, fmt: str | None = None,
                 encoding: str = "utf-8"):
        self.path = Path(path)
        self.fmt = table_format(self.path, fmt)
        self.columns = columns
        self.names = [c for c, _ in columns]
        self.count = 0
        self._file = contextlib.ExitStack()  # holds the atomic_open of the output until close/abort
        if self.fmt in ("csv", "tsv"):
            self._fh = self._file.enter_context(atomic_open(self.path, "w", encoding=encoding, newline=""))
            self._csv = csv.writer(self._fh, delimiter="," if self.fmt == "csv" else "\t", lineterminator="\n")
            self._csv.writerow(self.names)
        elif self.fmt == "jsonl":
            self._fh = self._file.enter_context(atomic_open(self.path, "w", encoding=encoding))
        elif self.fmt == "xlsx":
            import openpyxl
            from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

            self._illegal = ILLEGAL_CHARACTERS_RE
            self._wb = openpyxl.Workbook(write_only=True)
            self._ws = self._wb.create_sheet("decisions")
            self._ws.append(self.names)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            types = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
            self._schema = pa.schema([(c, types[t]) for c, t in columns])
            self._fh = self._file.enter_context(atomic_open(self.path, "wb"))
            self._pq = pq.ParquetWriter(self._fh, self._schema, compression="zstd")

    def write(self, rows: list[list]) -> None:
        if not rows:
            return
        self.count += len(rows)
        if self.fmt in ("csv", "tsv"):
            self._csv.writerows([[csv_cell(v) for v in r] for r in rows])
        elif self.fmt == "jsonl":
            self._fh.writelines(json.dumps(dict(zip(self.names, r)), ensure_ascii=False) + "\n" for r in rows)
        elif self.fmt == "xlsx":
            if self.count >= XLSX_MAX_ROWS:
                raise InputError(f"{self.path}: more than {XLSX_MAX_ROWS - 1} rows do not fit in an XLSX sheet; "
                                 "write .parquet, .csv or .jsonl instead")
            for r in rows:
                self._ws.append([xlsx_cell(self._ws, v, self._illegal) for v in r])
        else:
            import pyarrow as pa

            cols = list(zip(*rows))
            self._pq.write_table(pa.Table.from_arrays(
                [pa.array(list(c), type=f.type) for c, f in zip(cols, self._schema)], schema=self._schema))

    def close(self) -> None:
        if self.fmt == "xlsx":
            with atomic_open(self.path, "wb") as fh:
                self._wb.save(fh)
        elif self.fmt == "parquet":
            self._pq.close()  # the footer; the file itself is ours to close (below)
        self._file.close()  # fsync, replace the target, fsync the folder

    def abort(self) -> None:
        try:
            if self.fmt == "parquet":
                self._pq.close()
        finally:
            # Leaving the atomic_open with an exception removes its temporary file.
            self._file.__exit__(_Aborted, _Aborted(), None)


class _Aborted(Exception):
    """Passed into ``atomic_open`` by ``RowWriter.abort`` so that it discards the temporary file."""


def detect_encoding(path: str | Path) -> str:
    """``tables.detect_encoding`` with the sample's cut end handled by an incremental decoder (the
    table reader's own check fails on files over 64 KiB whose sample ends inside a character)."""
    import codecs


    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if len(head) < SNIFF_BYTES or b"\x00" in head:
        return strict_detect(path)
    for enc in ("utf-8-sig", "gb18030"):
        try:
            codecs.getincrementaldecoder(enc)(errors="strict").decode(head, final=False)
            return enc
        except UnicodeDecodeError:
            continue
    return strict_detect(path)  # raises the usual message


def needed_columns(spec: ColumnSpec, compare_col: str | None) -> list[str]:
    return [*spec.columns(), *([compare_col] if compare_col else []), "channel", "__error__"]


def read_chunks(path: str | Path, spec: ColumnSpec, chunk_size: int, *, compare_col: str | None = None,
                encoding: str | None = None, fmt: str | None = None, sheet: str | None = None
                ) -> Iterator[list[tuple[int, dict]]]:
    """Stream the input as chunks of ``(row_number, row)``, each row cut to the columns the batch
    needs. A column named by the flags that the table lacks stops the run before any work."""
    keep = needed_columns(spec, compare_col)
    if encoding is None and table_format(path, fmt) in ("csv", "tsv", "jsonl"):
        encoding = detect_encoding(path)
    chunk: list[tuple[int, dict]] = []
    checked = False
    for n, row in read_rows(path, encoding=encoding, fmt=fmt, sheet=sheet):
        if not checked and "__error__" not in row:
            header = list(row)
            spec.check_header(header, str(path))
            if compare_col and compare_col not in header:
                raise InputError(f"{path}: no column {compare_col} (--compare-col); the table has: {', '.join(header)}")
            checked = True
        chunk.append((n, {k: row[k] for k in keep if k in row}))
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def estimate_rows(path: str | Path, fmt: str | None = None, sheet: str | None = None) -> int | None:
    """A quick upper estimate of the data rows (for the progress bar's time left), or None."""
    path = Path(path)
    try:
        kind = table_format(path, fmt)
        if kind == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        if kind == "xlsx":
            import openpyxl

            wb = openpyxl.load_workbook(path, read_only=True)
            ws = wb[sheet] if sheet else wb.worksheets[0]
            n = ws.max_row
            wb.close()
            return max(n - 1, 0) if n else None
        lines = 0
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                lines += block.count(b"\n")
        return max(lines - (1 if kind in ("csv", "tsv") else 0), 0)
    except Exception as exc:  # noqa: BLE001 - only a progress estimate; reading reports real problems
        log.debug("%s: no row estimate (%s: %s)", path, type(exc).__name__, exc)
        return None


def read_parts(files: Iterable[Path]) -> Iterator[list[list]]:
    for f in files:
        with open(f, encoding="utf-8") as fh:
            yield [json.loads(line) for line in fh]

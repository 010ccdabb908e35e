"""Corrections in and out of tables: ``read_corrections_table`` (CSV/TSV/JSONL/XLSX rows → corrections)
and ``export_training_table`` (a store's latest correction per order → a training table), with
``label_in_catalog`` (a corrected category expressed in another catalog revision).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from dispatch_nlp.batch.safe_cells import csv_cell
from dispatch_nlp.batch.tables import read_rows
from dispatch_nlp.errors import InputError
from dispatch_nlp.files import atomic_open
from dispatch_nlp.lifecycle.correction_model import Correction
from dispatch_nlp.lifecycle.correction_store import CorrectionStore

__all__ = ["read_corrections_table", "export_training_table", "label_in_catalog"]

_IMPORT_ALIASES = {"id": "order_id", "category": "category_path", "appeal": "appeal_type", "unit_id": "unit",
                   "district_code": "district", "street_code": "street", "model_version": "decision_model_version",
                   "time": "corrected_at"}


def read_corrections_table(path: str | Path, *, encoding: str | None = None) -> Iterator[tuple[int, Correction | InputError]]:
    """Read a CSV/TSV/JSONL/XLSX table of corrections (columns named as the ``Correction`` fields, or
    ``id``/``category``/``appeal``/``unit_id``/``time``); yields (row number, correction or error)."""

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
    corrected_at, catalog_version``; with ``catalog`` the codes are migrated to it and paths filled in.
    CSV/TSV cells follow ``batch.safe_cells`` (a formula-like text gets a leading ``'``)."""
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
                # safe_cells: a text cell never starts a formula when the table is opened in a spreadsheet
                w.writerow({k: csv_cell(" > ".join(v) if isinstance(v, list) else v) for k, v in r.items()})
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

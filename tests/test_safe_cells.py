"""Safe spreadsheets: no cell we write is a formula. The XLSX is opened as a zip and its sheet XML read
(an ``<f>`` element is a formula); CSV/TSV cells that start like a formula carry a leading ``'``."""

import csv
import re
import types
import zipfile

import pytest

from dispatch_nlp.batch import BatchOptions, run_batch
from dispatch_nlp.batch.safe_cells import FORMULA_START, csv_cell, neutralise
from dispatch_nlp.batch.tables import ColumnSpec
from dispatch_nlp.lifecycle.correction_tables import export_training_table

ATTACKS = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
TEXT = "市民反映：朝阳区望京街道某小区连续三天停水，希望尽快恢复供水。"


def _input_rows():
    """One row per attack: the attack as id, appended to the text, and as the existing label."""
    return [{"id": a, "text": f"{a}{TEXT}", "label": a} for a in ATTACKS]


def _write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _sheet_xml(path) -> str:
    with zipfile.ZipFile(path) as z:
        names = [n for n in z.namelist() if n.startswith("xl/worksheets/")]
        assert names
        return "".join(z.read(n).decode("utf-8") for n in names)


def _opts():
    return BatchOptions(spec=ColumnSpec(text_col="text", id_col="id"), compare_col="label", progress=False)


def test_the_rule():
    for a in ATTACKS:
        assert neutralise(a) == "'" + a and csv_cell(a) == "'" + a
    assert neutralise("市民") == "市民" and csv_cell(None) == "" and csv_cell(True) == "true"
    assert csv_cell(-0.5) == "-0.5" and csv_cell(-3) == "-3"  # numbers we compute stay numbers


def test_batch_xlsx_has_no_formula_and_keeps_text_and_numbers(tmp_path, dispatcher):
    src = _write_csv(tmp_path / "in.csv", _input_rows())
    out = tmp_path / "out.xlsx"
    run_batch(src, out, _opts(), dispatcher=dispatcher)
    xml = _sheet_xml(out)
    assert "<f>" not in xml and "<f " not in xml
    import openpyxl

    ws = openpyxl.load_workbook(out).worksheets[0]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, (c for c in r))) for r in ws.iter_rows(min_row=2)]
    assert [r["id"].value.strip() for r in rows] == [a.strip() for a in ATTACKS]  # the ids, as text
    for r in rows:
        assert r["id"].data_type == "s" and r["label_before"].data_type == "s"
        assert r["confidence"].data_type == "n" and isinstance(r["confidence"].value, float)
    assert [r["label_before"].value for r in rows] == [a.strip() for a in ATTACKS]


@pytest.mark.parametrize("suffix,delimiter", [(".csv", ","), (".tsv", "\t")])
def test_batch_csv_and_tsv_cells_are_prefixed(tmp_path, dispatcher, suffix, delimiter):
    src = _write_csv(tmp_path / "in.csv", _input_rows())
    out = tmp_path / f"out{suffix}"
    run_batch(src, out, _opts(), dispatcher=dispatcher)
    rows = list(csv.DictReader(open(out, encoding="utf-8", newline=""), delimiter=delimiter))
    assert len(rows) == len(ATTACKS)
    for row in rows:
        for name, cell in row.items():
            assert not cell.startswith(FORMULA_START), (name, cell)
    # the id and the label are read as stripped cells; each comes back behind a '
    assert [r["id"] for r in rows] == [neutralise(a.strip()) for a in ATTACKS]
    assert [r["label_before"] for r in rows] == [neutralise(a.strip()) for a in ATTACKS]
    assert all(r["id"].startswith("'") for r in rows if r["id"].lstrip("'")[:1] in "=+-@")


def test_corrections_export_csv_cells_are_prefixed(tmp_path):
    latest = {a: types.SimpleNamespace(category_code=None, category_path=[a, "停水"], text=a + TEXT, title=a,
                                       appeal_type=None, district=None, street=None, unit=a, corrected_at=None,
                                       catalog_version="2026.11") for a in ATTACKS}
    store = types.SimpleNamespace(latest_by_order=lambda since=None: latest)
    out = tmp_path / "export.csv"
    assert export_training_table(store, out)["written"] == len(ATTACKS)
    rows = list(csv.DictReader(open(out, encoding="utf-8", newline="")))
    for row in rows:
        for name, cell in row.items():
            assert not cell.startswith(FORMULA_START), (name, cell)
    assert sorted(r["id"] for r in rows) == sorted("'" + a for a in ATTACKS)
    assert sorted(r["text"] for r in rows) == sorted("'" + a + TEXT for a in ATTACKS)
    assert sorted(r["unit"] for r in rows) == sorted("'" + a for a in ATTACKS)
    assert all(re.match(r"^'[-=+@\t\r]", r["category_path"]) for r in rows)

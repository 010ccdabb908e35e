import json

import pytest

from dispatch_nlp.batch.tables import ColumnSpec, detect_encoding, read_labeled, read_rows
from dispatch_nlp.errors import InputError

ROWS = [
    {"编号": "1", "内容": "朝阳区望京街道停水了", "一级": "城乡建设", "二级": "城市建设和市政管理", "三级": "自来水供应"},
    {"编号": "2", "内容": "", "一级": "城乡建设", "二级": "城乡规划", "三级": "违章建筑"},
]
SPEC = ColumnSpec(text_col="内容", id_col="编号", category_cols=("一级", "二级", "三级"))


def write_csv(path, rows, encoding="utf-8", sep=","):
    header = list(rows[0])
    lines = [sep.join(header)] + [sep.join(r[h] for h in header) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_every_encoding(tmp_path, encoding):
    p = tmp_path / "t.csv"
    write_csv(p, ROWS, encoding)
    rows = list(read_labeled(p, SPEC))
    assert rows[0].order.text == "朝阳区望京街道停水了" and rows[0].order.id == "1"
    assert rows[0].category == ("城乡建设", "城市建设和市政管理", "自来水供应")


def test_tsv_jsonl_xlsx_parquet_give_the_same_rows(tmp_path):
    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    write_csv(tmp_path / "t.tsv", ROWS, sep="\t")
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS), encoding="utf-8")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(ROWS[0]))
    for r in ROWS:
        ws.append(list(r.values()))
    wb.save(tmp_path / "t.xlsx")
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "t.parquet")
    expected = [(n, r) for n, r in enumerate(ROWS, start=1)]
    for name in ("t.tsv", "t.jsonl", "t.xlsx", "t.parquet"):
        assert list(read_rows(tmp_path / name)) == expected, name


def test_path_column_with_separator(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps({"text": "停水", "cat": "城乡建设->城市建设和市政管理->自来水供应"}, ensure_ascii=False), "utf-8")
    row = next(read_labeled(p, ColumnSpec(category_col="cat")))
    assert row.category == ("城乡建设", "城市建设和市政管理", "自来水供应")


def test_missing_columns_are_listed(tmp_path):
    p = tmp_path / "t.csv"
    write_csv(p, ROWS)
    with pytest.raises(InputError, match="no column.*正文.*the table has: 编号, 内容"):
        list(read_labeled(p, ColumnSpec(text_col="正文")))


def test_bad_rows_come_out_as_errors_not_exceptions(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text('{"text": "停水"}\n{broken\n[1, 2]\n', encoding="utf-8")
    out = list(read_labeled(p, ColumnSpec()))
    assert out[0].order.text == "停水"
    assert isinstance(out[1], InputError) and "row 2" in str(out[1])
    assert isinstance(out[2], InputError)


def test_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list(read_rows(tmp_path / "x.csv"))
    (tmp_path / "b.csv").write_bytes(b"a,b\n\x00\x00\x00")
    with pytest.raises(InputError, match="binary"):
        detect_encoding(tmp_path / "b.csv")
    (tmp_path / "b.doc").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="suffix"):
        list(read_rows(tmp_path / "b.doc"))
    (tmp_path / "bad.xlsx").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="XLSX"):
        list(read_rows(tmp_path / "bad.xlsx"))


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_large_files_cut_mid_character_are_detected(tmp_path, encoding):
    # Longer than the sniffed head, with multi-byte characters straddling its end.
    p = tmp_path / "big.jsonl"
    line = json.dumps({"text": "朝阳区望京街道停水了，请尽快处理"}, ensure_ascii=False) + "\n"
    for shift in range(3):  # move the characters across the sniffing boundary
        p.write_bytes(("a" * shift + line * 5000).encode(encoding))
        assert detect_encoding(p) == ("utf-8-sig" if encoding == "utf-8" else "gb18030")

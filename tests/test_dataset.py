"""🤗 datasets: decisions added to a Dataset (the batch engine's values, a cached batched map), labeled
history written to a memory-mapped Arrow dataset (the same examples as load_examples), encoder tokens."""

import dataclasses
import sys

import pytest

datasets = pytest.importorskip("datasets")

from dispatch_nlp.batch import run_batch  # noqa: E402
from dispatch_nlp.batch.hf_dataset import (  # noqa: E402
    DECISION_COLUMNS,
    dataset_examples,
    examples_dataset,
    tokenize_dataset,
)
from dispatch_nlp.batch.tables import ColumnSpec  # noqa: E402
from dispatch_nlp.errors import InputError  # noqa: E402
from dispatch_nlp.lifecycle.examples import load_examples  # noqa: E402

from .test_batch import ORDERS, _opts, _read_jsonl, _write  # noqa: E402


def _orders():
    rows = [{"工单编号": f"D{i}", "内容": f"{ORDERS[i % 6][1]}（第{i}次来电）", "标题": "诉求" if i % 2 else None}
            for i in range(13)]
    rows[4]["内容"] = "   "  # no usable text: an error row, routed to review
    return rows


def test_dispatch_dataset_adds_the_batch_engines_decisions(tmp_path, dispatcher):
    rows = _orders()
    src = _write(tmp_path / "in.jsonl", rows, "jsonl")
    run_batch(src, tmp_path / "local.jsonl", _opts(spec=ColumnSpec(text_col="内容", id_col="工单编号",
                                                                   title_col="标题")), dispatcher=dispatcher)
    local = _read_jsonl(tmp_path / "local.jsonl")
    ds = datasets.Dataset.from_list(rows)
    out = dispatcher.dispatch_dataset(ds, text_column="内容", title_column="标题", id_column="工单编号", batch_size=4)
    assert out.column_names == ds.column_names + [n for n, _ in DECISION_COLUMNS]
    assert out["工单编号"] == ds["工单编号"] and out["内容"] == ds["内容"]  # the input is kept, in order
    for got, want in zip(out, local):
        assert {n: got[n] for n, _ in DECISION_COLUMNS} == {n: want[n] for n, _ in DECISION_COLUMNS}
    assert out[4]["error"].startswith("empty") and out[4]["route"] == "review"
    assert out[0]["error"] is None and out[0]["district_code"] and out[0]["category_code"]
    assert out.features["confidence"].dtype == "float64" and out.features["deadline_hours"].dtype == "int64"


def test_dispatch_dataset_is_a_cached_map_on_disk(tmp_path, dispatcher):
    datasets.Dataset.from_list(_orders()).save_to_disk(str(tmp_path / "orders"))
    ds = datasets.load_from_disk(str(tmp_path / "orders"))
    calls = []
    counting = dispatcher.with_components(dispatcher.stages)
    counting.dispatch_batch = lambda orders, batch_size=64: calls.append(len(orders)) or dispatcher.dispatch_batch(
        orders, batch_size=batch_size)
    first = counting.dispatch_dataset(ds, text_column="内容", id_column="工单编号")
    assert sum(calls) == 12
    again = counting.dispatch_dataset(ds, text_column="内容", id_column="工单编号")
    assert sum(calls) == 12 and again.to_list() == first.to_list()  # read back from the cache file
    counting.dispatch_dataset(ds, text_column="内容", id_column="工单编号", prefix="p_")
    assert sum(calls) == 24  # other arguments: computed again


def test_dispatch_dataset_errors_name_the_fix(dispatcher, monkeypatch):
    ds = datasets.Dataset.from_list(_orders())
    with pytest.raises(InputError, match="no column.*text"):
        dispatcher.dispatch_dataset(ds, text_column="text")
    twice = dispatcher.dispatch_dataset(ds.select(range(2)), text_column="内容")
    with pytest.raises(InputError, match="already has column.*route.*prefix"):
        dispatcher.dispatch_dataset(twice, text_column="内容")
    assert "new_route" in dispatcher.dispatch_dataset(twice, text_column="内容", prefix="new_").column_names
    with pytest.raises(InputError, match="datasets.Dataset"):
        dispatcher.dispatch_dataset(ds.to_list(), text_column="内容")
    monkeypatch.setitem(sys.modules, "datasets", None)  # the runtime install has no datasets
    with pytest.raises(InputError, match=r"dispatch-nlp\[datasets\]"):
        dispatcher.dispatch_dataset(ds, text_column="内容")


SPEC = ColumnSpec(text_col="text", id_col="id", category_col="category", path_sep="/", appeal_col="appeal")


def _history(tmp_path, n=40):
    rows = [{"id": f"H{i}", "text": f"{ORDERS[i % 6][1]}（{i % 17}号楼）", "category": "城乡建设/供水/停水",
             "appeal": "投诉" if i % 3 else "求助", "split": ("train", "dev", "test", "x")[i % 4]} for i in range(n)]
    rows[7]["text"] = ""
    rows[9]["category"] = "没有/这个/分类"
    return _write(tmp_path / "history.jsonl", rows, "jsonl")


@pytest.mark.parametrize("split_col", ["split", None])
def test_examples_dataset_holds_load_examples_on_disk(tmp_path, split_col):
    from dispatch_nlp.knowledge.catalog import Catalog

    catalog, src = Catalog.load(), _history(tmp_path)
    want, want_report = load_examples(src, SPEC, catalog, split_col=split_col, dev_ratio=0.3, test_ratio=0.2)
    ds, report = examples_dataset(src, SPEC, catalog, split_col=split_col, dev_ratio=0.3, test_ratio=0.2,
                                  cache_dir=tmp_path / "cache")
    assert len(want) < 40 and len({e.split for e in want}) == 3  # drops and all three splits exercised
    assert [dataclasses.astuple(e) for e in dataset_examples(ds)] == [dataclasses.astuple(e) for e in want]
    assert report.to_dict() == want_report.to_dict()
    assert [e.id for e in dataset_examples(ds, "dev")] == [e.id for e in want if e.split == "dev"]
    # on disk, memory-mapped: the dataset's data are its two Arrow files
    assert sorted(f["filename"].rsplit("/", 1)[-1] for f in ds.cache_files) == ["examples.arrow", "splits.arrow"]
    cached, cached_report = examples_dataset(src, SPEC, catalog, split_col=split_col, dev_ratio=0.3,
                                             test_ratio=0.2, cache_dir=tmp_path / "cache")
    assert cached.to_list() == ds.to_list() and cached_report.to_dict() == report.to_dict()
    _write(src, [{"id": "N1", "text": ORDERS[0][1], "category": "城乡建设/供水/停水", "appeal": "投诉",
                  "split": "train"}], "jsonl")  # the table changed: read again
    assert len(examples_dataset(src, SPEC, catalog, split_col=split_col, cache_dir=tmp_path / "cache")[0]) == 1


def test_tokenize_dataset_matches_the_tokenizer(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<unk>": 0, "<pad>": 1, **{ch: i + 2 for i, ch in enumerate("市民反映停水暖气不热")}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    texts = ["市民反映停水", "暖气不热，市民反映" * 3, ""]
    datasets.Dataset.from_dict({"text": texts}).save_to_disk(str(tmp_path / "t"))
    ds = datasets.load_from_disk(str(tmp_path / "t"))
    out = tokenize_dataset(ds, tok, max_len=8)
    tok.enable_truncation(8)
    assert out["input_ids"] == [e.ids for e in tok.encode_batch(texts)]
    assert max(len(ids) for ids in out["input_ids"]) == 8
    assert tokenize_dataset(ds, tok, max_len=8).cache_files == out.cache_files  # the cached map, read back

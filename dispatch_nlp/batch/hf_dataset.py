"""Orders and labeled history as 🤗 ``datasets``: Arrow tables on disk, memory-mapped, for notebooks
and for histories larger than a Python list comfortably holds.

    from datasets import load_dataset
    from dispatch_nlp import Dispatcher
    ds = load_dataset("parquet", data_files="orders.parquet", split="train")
    out = Dispatcher.load().dispatch_dataset(ds, text_column="内容", id_column="工单编号")
    out.filter(lambda r: r["route"] == "auto").to_parquet("auto.parquet")

    from dispatch_nlp.batch.hf_dataset import examples_dataset
    history, report = examples_dataset("history.jsonl", spec, catalog, gazetteer, cache_dir="cache/")

``dispatch_dataset(dispatcher, ds, text_column=...)`` returns ``ds`` with the batch engine's decision
columns added (``DECISION_COLUMNS``: route, confidence, category code/path/confidence, appeal type,
district/street/community codes and names, unit, flags, the whole decision as JSON, and ``error``
for a row that could not be dispatched), computed by the batch engine's ``RowProcessor``: the same
values as ``dispatch-nlp batch`` writes. The map is batched and cached: a second call with the same
data, model and arguments reads the cached Arrow file of a dataset that lives on disk.

``examples_dataset(path, spec, ...)`` is ``load_examples`` written to an Arrow file as the table
streams by (the same examples, report and split), so a million-order history costs a few hundred
MB of disk instead of memory; ``dataset_examples(ds, split=...)`` reads ``Example`` objects back in
batches. ``tokenize_dataset`` adds the encoder's token ids with a cached batched ``map``.

``datasets`` is optional: ``pip install 'dispatch-nlp[datasets]'`` (also in the ``train`` extra).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from dispatch_nlp.batch.rows import BASE_COLUMNS, DEFAULT_MAX_CHARS, RowProcessor
from dispatch_nlp.batch.tables import ColumnSpec
from dispatch_nlp.errors import InputError
from dispatch_nlp.lifecycle.examples import DataReport, Example, iter_examples, split_names

__all__ = ["require_datasets", "DECISION_COLUMNS", "dispatch_dataset", "examples_dataset", "dataset_examples",
           "tokenize_dataset"]

INSTALL_HINT = "pip install 'dispatch-nlp[datasets]'"
# The batch engine's output columns less its row number and id (the dataset keeps its own columns).
DECISION_COLUMNS: list[tuple[str, str]] = [(n, t) for n, t in BASE_COLUMNS if n not in ("row", "id")]
_VALUE = {"str": "string", "int": "int64", "float": "float64", "bool": "bool"}
EXAMPLE_COLUMNS = [f.name for f in fields(Example)]
WRITE_BATCH = 10_000


def require_datasets():
    """The ``datasets`` module, or an ``InputError`` naming the extra that installs it."""
    try:
        import datasets
    except ImportError:
        raise InputError(f"this needs the 'datasets' package, which the runtime install leaves out: {INSTALL_HINT}") from None
    return datasets


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _model_stamp(dispatcher) -> str:
    sums = Path(dispatcher.model_dir) / "checksums.json"
    return _digest(str(dispatcher.model_dir), sums.read_text() if sums.exists() else None, dispatcher.profile,
                   [s.name for s in dispatcher.stages])


def dispatch_dataset(dispatcher, ds, *, text_column: str, title_column: str | None = None,
                     id_column: str | None = None, batch_size: int = 64, max_chars: int = DEFAULT_MAX_CHARS,
                     prefix: str = "", load_from_cache_file: bool = True):
    """``ds`` (a ``datasets.Dataset``) with the decision columns added, one decision per row, rows in
    order. ``text_column`` (and ``title_column``, ``id_column``) name the input columns; a row
    without usable text gets ``error`` and the review route, as in the batch engine (row numbers,
    which stand in for a missing id, count from 1). ``prefix`` is put before every added column's
    name (an ``InputError`` names the clashes when the dataset already has a column of that name)."""
    datasets = require_datasets()
    if not isinstance(ds, datasets.Dataset):
        raise InputError(f"dispatch_dataset takes a datasets.Dataset, not {type(ds).__name__} "
                         "(an IterableDataset or DatasetDict: pick a split / use map yourself)")
    wanted = [c for c in (text_column, title_column, id_column) if c]
    missing = [c for c in wanted if c not in ds.column_names]
    if missing:
        raise InputError(f"no column(s) {', '.join(missing)}; the dataset has: {', '.join(ds.column_names)}")
    names = [prefix + n for n, _ in DECISION_COLUMNS]
    clash = [n for n in names if n in ds.column_names]
    if clash:
        raise InputError(f"the dataset already has column(s) {', '.join(clash)}: pass prefix= (e.g. 'new_')")
    spec = ColumnSpec(text_col=text_column, title_col=title_column, id_col=id_column)
    proc = RowProcessor(dispatcher, spec, max_chars=max_chars, batch_size=batch_size)
    offset = len(BASE_COLUMNS) - len(DECISION_COLUMNS)  # the row number and id lead the processor's rows

    def decide(batch: dict, indices: list[int]) -> dict:
        raws = [{c: batch[c][i] for c in wanted} for i in range(len(indices))]
        out = proc.process([(n + 1, raw) for n, raw in zip(indices, raws)])
        return {name: [row[offset + j] for row in out] for j, name in enumerate(names)}

    features = ds.features.copy()
    for name, (_, kind) in zip(names, DECISION_COLUMNS):
        features[name] = datasets.Value(_VALUE[kind])
    fingerprint = _digest(ds._fingerprint, _model_stamp(dispatcher), wanted, spec.path_sep, max_chars, prefix)
    return ds.map(decide, batched=True, batch_size=max(1, int(batch_size)) * 16, with_indices=True,
                  features=features, new_fingerprint=fingerprint, load_from_cache_file=load_from_cache_file,
                  desc="dispatch")


# -- labeled history ------------------------------------------------------------------------------
def _example_features(datasets):
    return datasets.Features({name: datasets.Value("string") for name in EXAMPLE_COLUMNS if name != "split"})


def examples_dataset(path: str | Path, spec: ColumnSpec, catalog, gazetteer=None, *,
                     cache_dir: str | Path | None = None, split_col: str | None = None, dev_ratio: float = 0.1,
                     test_ratio: float = 0.1, seed: int = 13, encoding: str | None = None,
                     max_rows: int | None = None, leaf_of=None, progress: bool = False,
                     config: Mapping[str, Any] | None = None, refresh: bool = False):
    """``(Dataset, DataReport)``: the examples ``load_examples`` returns for the same arguments, as a
    memory-mapped Arrow dataset with the columns of ``Example`` (id, text, leaf, appeal, district,
    street, unit, time, split). Written under ``cache_dir`` (a temporary folder by default) in a
    folder named after the table (path, size, modification time), the columns, the split options,
    the text config and the catalog version; a later call with the same finds it there (pass
    ``refresh=True`` after changing ``leaf_of``, which the name cannot tell)."""
    datasets = require_datasets()
    from datasets.arrow_writer import ArrowWriter

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    stat = path.stat()
    key = _digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns, asdict(spec), split_col, dev_ratio,
                  test_ratio, seed, encoding, max_rows, dict(config or {}), getattr(catalog, "version", None),
                  gazetteer is not None)
    root = Path(cache_dir) if cache_dir else Path(tempfile.mkdtemp(prefix="dispatch-nlp-examples-"))
    folder = root / f"examples-{key}"
    report_file = folder / "report.json"
    if report_file.exists() and not refresh:
        return _open(datasets, folder), _report_from(json.loads(report_file.read_text(encoding="utf-8")))
    folder.mkdir(parents=True, exist_ok=True)
    report = DataReport()
    times: list[str | None] = []
    split_values: list[str | None] = []
    columns: dict[str, list] = {name: [] for name in EXAMPLE_COLUMNS if name != "split"}
    with ArrowWriter(features=_example_features(datasets), path=str(folder / "examples.arrow")) as writer:
        for ex, split_value in iter_examples(path, spec, catalog, gazetteer, report, split_col=split_col,
                                             encoding=encoding, max_rows=max_rows, leaf_of=leaf_of,
                                             progress=progress, config=config):
            for name, values in columns.items():
                values.append(getattr(ex, name))
            times.append(ex.time)
            split_values.append(split_value)
            if len(columns["id"]) >= WRITE_BATCH:
                writer.write_batch(columns)
                columns = {name: [] for name in columns}
        if columns["id"]:
            writer.write_batch(columns)
        writer.finalize()
    splits = split_names(times, split_values, spec, report, dev_ratio, test_ratio, seed, split_col)
    report.splits = dict(Counter(splits))
    with ArrowWriter(features=datasets.Features({"split": datasets.Value("string")}),
                     path=str(folder / "splits.arrow")) as writer:
        for i in range(0, len(splits), WRITE_BATCH):
            writer.write_batch({"split": splits[i: i + WRITE_BATCH]})
        writer.finalize()
    report_file.write_text(json.dumps(report.to_dict(), ensure_ascii=False), encoding="utf-8")
    return _open(datasets, folder), report


def _open(datasets, folder: Path):
    examples = datasets.Dataset.from_file(str(folder / "examples.arrow"))
    splits = datasets.Dataset.from_file(str(folder / "splits.arrow"))
    return datasets.concatenate_datasets([examples, splits], axis=1)


def _report_from(data: dict) -> DataReport:
    report = DataReport(**{k: v for k, v in data.items() if k not in ("unknown_categories", "unknown_places")})
    report.unknown_categories = Counter(data.get("unknown_categories", {}))
    report.unknown_places = Counter(data.get("unknown_places", {}))
    return report


def dataset_examples(ds, split: str | None = None, batch_size: int = WRITE_BATCH) -> Iterator[Example]:
    """``Example`` objects from a dataset of ``examples_dataset``'s columns (only ``split``'s when
    given), read in batches through the memory map."""
    for batch in ds.iter(batch_size=batch_size):
        for i in range(len(batch["id"])):
            if split is None or batch["split"][i] == split:
                yield Example(**{name: batch[name][i] for name in EXAMPLE_COLUMNS})


# -- encoder tokens ---------------------------------------------------------------------------------
def tokenize_dataset(ds, tokenizer, max_len: int, *, text_column: str = "text", column: str = "input_ids",
                     batch_size: int = 1000, load_from_cache_file: bool = True, encode=None):
    """``ds`` with ``column``: the token ids of ``text_column`` by a ``tokenizers.Tokenizer``
    (truncated to ``max_len``, not padded), by a batched ``map``; cached under the dataset's own
    cache folder when it lives on disk, so another run over the same data and tokenizer reads them back.
    ``encode(texts) -> id lists`` replaces the plain truncation (the encoder member passes its own)."""
    require_datasets()
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_len)
    vocab = tokenizer.to_str()  # with the settings it encodes with: the same tokenizer hashes the same

    def truncated(texts: list[str]) -> list[list[int]]:
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_len)
        return [e.ids for e in tokenizer.encode_batch(texts)]

    fn = encode or truncated

    def tokenize(batch: dict) -> dict:
        return {column: fn(batch[text_column])}

    fingerprint = _digest(ds._fingerprint, hashlib.sha256(vocab.encode()).hexdigest(), max_len, text_column, column,
                          getattr(fn, "__qualname__", None))
    return ds.map(tokenize, batched=True, batch_size=batch_size, new_fingerprint=fingerprint,
                  load_from_cache_file=load_from_cache_file, desc="tokenize")

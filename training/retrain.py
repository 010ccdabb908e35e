"""``dispatch-nlp retrain``: corrections merged over history make the challenger; it is judged
against the champion (the model in service) before anyone promotes it.

    report = retrain(history, spec, RetrainOptions(model=CURRENT, output=CHALLENGER, corrections=DB))

1. **Labels.** History rows are read with the usual column flags; the latest correction of each
   order wins over its history labels (fields the correction leaves empty keep the history value).
   A corrected order the history does not hold joins when the correction carries its text.
   Categories are expressed in the challenger's catalog: a history table labelled in an older
   revision (``history_catalog``) and corrections recorded under an older ``catalog_version`` are
   mapped through the catalog's migration map (``Catalog.migrate``); items the revision removed
   are dropped and counted.
2. **Held out, never trained on.** The *frozen evaluation set*: ``eval_data`` when given, else the
   history orders whose id hashes below ``eval_ratio`` (the same orders every run, so successive
   challengers are judged on one set); corrections apply to its labels too. The *recent
   corrections*: a share (``holdout``) of the corrected orders outside the frozen set, by id hash.
3. **Training** reuses ``dispatch_nlp.training.train.train`` with the champion's own options (read from its
   ``metrics.json``). "Fine-tuning from the current model" here means: when the champion was trained
   from a local encoder checkpoint that still exists, the challenger's encoder member is trained
   from that same checkpoint; otherwise (or when the champion has no encoder member) the challenger
   is the linear member, refitted on the merged data. Fusion weights, calibration, the dispatch
   threshold and the learned jurisdiction and unit parts are always refitted (they take seconds).
   The ONNX student of the champion is not trained further: it is an int8 export, not a checkpoint.
4. **Judgement.** Champion and challenger are evaluated on both held-out sets through the real
   ``Dispatcher``; the report (``evaluation.json`` in the challenger, checksummed with it) holds every
   head's accuracy on both and the comparison ``dispatch-nlp promote`` applies.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatch_nlp.batch.tables import ColumnSpec, read_labeled
from dispatch_nlp.dispatcher import Dispatcher, read_config, resolve_resource, write_checksums
from dispatch_nlp.errors import InputError
from dispatch_nlp.knowledge.catalog import Catalog
from dispatch_nlp.knowledge.gazetteer import Gazetteer
from dispatch_nlp.lifecycle.corrections import label_in_catalog, open_store
from dispatch_nlp.lifecycle.evaluate import evaluate_examples
from dispatch_nlp.lifecycle.examples import leaf_by_path
from dispatch_nlp.lifecycle.registry import EVALUATION_FILE, compare

log = logging.getLogger(__name__)

# The merged tables retrain writes (and train reads) use these columns.
CANONICAL_SPEC = ColumnSpec(text_col="text", title_col="title", id_col="id", time_col="created_at",
                            category_col="category_path", appeal_col="appeal_type", district_col="district",
                            street_col="street", unit_col="unit")
_INHERITED_OPTIONS = ("encoder", "student_layers", "epochs", "max_len", "batch_size", "target_precision",
                      "max_features", "max_nnz", "seed", "device", "encoder_max_train", "default_profile")


@dataclass
class RetrainOptions:
    model: Path  # the champion (current model directory)
    output: Path  # the challenger directory to write
    corrections: str | None = None  # SQLite path or SQLAlchemy URL
    eval_data: Path | None = None  # the frozen evaluation table (same column flags as the history)
    catalog: Path | None = None  # the challenger's catalog (default: the champion's)
    history_catalog: Path | None = None  # the catalog revision the history labels are written in
    since: str | None = None  # only corrections made at or after this time
    eval_ratio: float = 0.1
    holdout: float = 0.2
    dev_ratio: float = 0.1
    encoding: str | None = None
    model_version: str | None = None
    tolerance: float = 0.01
    overrides: dict | None = None  # TrainOptions fields to set instead of the champion's
    progress: bool = True


def _share(key: str, salt: str) -> float:
    h = hashlib.blake2b(f"{salt}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def _champion_catalog_path(model_dir: Path) -> Path | None:
    ref = read_config(model_dir).get("resources", {}).get("catalog", "catalog:beijing-12345.yaml")
    return None if ref == "catalog:beijing-12345.yaml" else resolve_resource(model_dir, ref)


def _read_history(path, spec: ColumnSpec, catalog, history_catalog, encoding, counts: dict) -> dict[str, dict]:
    """Order id → record with the category as a code of ``catalog``."""


    if not spec.id_col:
        raise InputError("retraining joins corrections to history by order id: give --id-col")
    records: dict[str, dict] = {}
    for row in read_labeled(path, spec, encoding=encoding):
        counts["history_rows"] += 1
        if isinstance(row, InputError):
            counts["history_bad_rows"] += 1
            continue
        code = None
        if row.category:
            old = leaf_by_path(history_catalog, row.category)
            if old is None:
                counts["history_unknown_category"] += 1
            else:
                code, _, removed = label_in_catalog(catalog, old, None, history_catalog.version)
                counts["history_category_removed"] += removed
        o = row.order
        records[o.id] = {"id": o.id, "text": o.text, "title": o.title, "created_at": o.created_at, "code": code,
                         "appeal_type": row.appeal_type, "district": row.district, "street": row.street,
                         "unit": row.unit, "corrected": False}
    return records


def _apply_corrections(records: dict[str, dict], latest: dict, catalog, counts: dict) -> None:
    for oid, c in latest.items():
        rec = records.get(oid)
        if rec is None:
            if not c.text:
                counts["corrections_unmatched"] += 1
                continue
            rec = records[oid] = {"id": oid, "text": c.text, "title": c.title, "created_at": c.corrected_at,
                                  "code": None, "appeal_type": None, "district": None, "street": None, "unit": None}
            counts["corrections_new_orders"] += 1
        if c.category_code or c.category_path:
            code, _, removed = label_in_catalog(catalog, c.category_code, c.category_path, c.catalog_version)
            if removed:
                counts["corrections_category_removed"] += 1
            else:
                rec["code"] = code
        for name in ("appeal_type", "district", "street", "unit"):
            value = getattr(c, name)
            if value:
                rec[name] = value
        rec["corrected"] = True
        counts["corrections_applied"] += 1


def _write_table(path: Path, records, catalog, split_of=None) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            if not r.get("code"):
                continue
            row = {"id": r["id"], "text": r["text"], "title": r.get("title"), "created_at": r.get("created_at"),
                   "category_path": list(catalog.get(r["code"]).path), "appeal_type": r.get("appeal_type"),
                   "district": r.get("district"), "street": r.get("street"), "unit": r.get("unit"),
                   "split": split_of(r) if split_of else "test"}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


class MigratingDispatcher:
    """A champion trained on an older catalog revision, seen through the new catalog: its predicted
    codes are migrated so both models are scored against the same labels."""

    def __init__(self, dispatcher, catalog):
        self.inner, self.catalog = dispatcher, catalog
        self.model_version = dispatcher.model_version

    def dispatch_batch(self, orders, batch_size: int = 64):
        decisions = self.inner.dispatch_batch(orders, batch_size=batch_size)
        old = self.inner.catalog.version
        for d in decisions:
            if d.category.code:
                try:
                    d.category.code = self.catalog.migrate(d.category.code, old)
                except KeyError:
                    d.category.code = None
        return decisions


def evaluate_on(dispatcher, table: Path, catalog, batch_size: int = 64) -> dict:
    from .data import load_examples

    examples, _ = load_examples(table, CANONICAL_SPEC, catalog, Gazetteer.load(), dev_ratio=0.0, test_ratio=0.0,
                                drop_near_duplicates=False)
    if not examples:
        return {}
    if dispatcher.catalog.version != catalog.version:
        dispatcher = MigratingDispatcher(dispatcher, catalog)
    report = evaluate_examples(dispatcher, examples, batch_size=batch_size)
    # Per-class detail is in the model's own metrics; keep this report readable.
    return {head: {k: v for k, v in rep.items() if k not in ("per_class", "coverage_accuracy")}
            for head, rep in report.items()}


def retrain(history: str | Path, spec: ColumnSpec, opts: RetrainOptions) -> dict[str, Any]:
    from collections import Counter

    from .train import TrainOptions, train

    t0 = time.perf_counter()
    champion = Dispatcher.load(opts.model)
    catalog_path = Path(opts.catalog) if opts.catalog else _champion_catalog_path(Path(opts.model))
    catalog = Catalog.load(catalog_path) if opts.catalog else champion.catalog
    history_catalog = Catalog.load(opts.history_catalog) if opts.history_catalog else (
        catalog if opts.catalog else champion.catalog)
    counts: Counter = Counter()

    records = _read_history(history, spec, catalog, history_catalog, opts.encoding, counts)
    latest = {}
    if opts.corrections:
        if "://" not in str(opts.corrections) and not Path(opts.corrections).exists():
            raise InputError(f"{opts.corrections}: no such corrections database")
        store = open_store(opts.corrections)
        latest = store.latest_by_order(since=opts.since)
        store.close()
    counts["corrections_orders"] = len(latest)
    frozen_ids: set[str] | None = None
    eval_records: dict[str, dict] = {}
    if opts.eval_data:
        eval_records = _read_history(opts.eval_data, spec, catalog, history_catalog, opts.encoding, Counter())
        frozen_ids = set(eval_records)
        _apply_corrections(eval_records, {k: v for k, v in latest.items() if k in frozen_ids}, catalog, Counter())
    _apply_corrections(records, {k: v for k, v in latest.items() if not frozen_ids or k not in frozen_ids},
                       catalog, counts)

    def is_frozen(r: dict) -> bool:
        return r["id"] in frozen_ids if frozen_ids is not None else _share(r["id"], "frozen-eval") < opts.eval_ratio

    if frozen_ids is None:
        eval_records = {k: r for k, r in records.items() if is_frozen(r)}
    rest = [r for r in records.values() if not is_frozen(r)]
    held = [r for r in rest if r.get("corrected") and _share(r["id"], "corrections-holdout") < opts.holdout]
    held_ids = {r["id"] for r in held}
    train_records = [r for r in rest if r["id"] not in held_ids]

    out = Path(opts.output)
    work = out.with_name(out.name + ".retrain")
    work.mkdir(parents=True, exist_ok=True)
    n_train = _write_table(work / "train.jsonl", train_records, catalog,
                           lambda r: "dev" if _share(r["id"], "dev") < opts.dev_ratio else "train")
    n_eval = _write_table(work / "frozen_eval.jsonl", eval_records.values(), catalog)
    n_held = _write_table(work / "corrections_holdout.jsonl", held, catalog)
    counts.update(train_rows=n_train, frozen_eval_rows=n_eval, corrections_holdout_rows=n_held,
                  corrections_in_training=sum(1 for r in train_records if r.get("corrected") and r.get("code")))

    # -- train from the champion's own options ----------------------------------------------------
    inherited: dict[str, Any] = {}
    metrics_file = Path(opts.model) / "metrics.json"
    if metrics_file.exists():
        champion_opts = json.loads(metrics_file.read_text(encoding="utf-8")).get("options", {})
        inherited = {k: champion_opts[k] for k in _INHERITED_OPTIONS if champion_opts.get(k) is not None}
    inherited.update(opts.overrides or {})
    encoder = inherited.get("encoder")
    if encoder and not Path(encoder).exists():
        log.warning("the champion's encoder checkpoint %s is not here: training the linear member only", encoder)
        inherited.pop("encoder")
    fine_tune = (f"encoder member trained from the champion's checkpoint {Path(inherited['encoder']).name}; "
                 "linear member, fusion, calibration, jurisdiction and units refitted"
                 if inherited.get("encoder") else
                 "linear member refitted on merged history + corrections (no encoder checkpoint to start from); "
                 "fusion, calibration, jurisdiction and units refitted")
    train_opts = TrainOptions(output=out, catalog=catalog_path, split_col="split", dev_ratio=opts.dev_ratio,
                              test_ratio=0.0, model_version=opts.model_version, progress=opts.progress, **inherited)
    train_metrics = train(work / "train.jsonl", CANONICAL_SPEC, train_opts)

    # -- champion against challenger ---------------------------------------------------------------
    challenger = Dispatcher.load(out)
    sets = {"frozen_eval": work / "frozen_eval.jsonl", "corrections": work / "corrections_holdout.jsonl"}
    evaluation = {"champion": {}, "challenger": {}}
    for name, table in sets.items():
        evaluation["champion"][name] = evaluate_on(champion, table, catalog)
        evaluation["challenger"][name] = evaluate_on(challenger, table, catalog)
    comparison = compare({k: v for k, v in evaluation["champion"].items() if v},
                         {k: v for k, v in evaluation["challenger"].items() if v}, opts.tolerance)
    report = {
        "champion": {"model_dir": str(Path(opts.model).resolve()), "model_version": champion.model_version,
                     "catalog_version": champion.catalog_version},
        "challenger": {"model_dir": str(out.resolve()), "model_version": train_metrics["model_version"],
                       "catalog_version": catalog.version},
        "fine_tune": fine_tune,
        "data": dict(counts),
        "evaluation": evaluation,
        "comparison": comparison,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / EVALUATION_FILE).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_checksums(out)
    return report


def comparison_table(comparison: dict) -> str:
    """The comparison as a Markdown table (for the terminal and the benchmark report)."""
    lines = ["| set | head | n | champion | challenger | Δ | |", "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for r in comparison["heads"]:
        lines.append(f"| {r['set']} | {r['head']} | {r['n']} | {r['champion']:.4f} | {r['challenger']:.4f} | "
                     f"{r['delta']:+.4f} | {'REGRESSED' if r['regressed'] else ''} |")
    return "\n".join(lines)

"""``dispatch-nlp train``: from a labeled table to a model directory.

    train(table, spec, TrainOptions(output=...)) -> metrics dict

Steps: load the catalog (or build it from the labels), read and clean the table (``dispatch_nlp.training.data``:
the text through the same normalize and mask components, built from the same config sections, as the
``Dispatcher`` that will load the model),
fit the members (the character n-gram linear member always; the encoder member when an encoder is
given), fit the fusion on the dev split (member weights, the weight of the catalog rules, an isotonic
calibration of the fused confidence, and the automatic-dispatch threshold that reaches the target
precision), fit the learned jurisdiction and unit parts when those columns exist, write the model
directory (config, members, label maps, metrics, model card, checksums) and evaluate it on the test
split through the same ``Dispatcher`` users load.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from dispatch_nlp.batch.tables import ColumnSpec, read_labeled
from dispatch_nlp.dispatcher import NO_RESOURCE, Dispatcher, build_segmenter, write_checksums
from dispatch_nlp.errors import InputError
from dispatch_nlp.files import replace_dir
from dispatch_nlp.knowledge.catalog import Catalog
from dispatch_nlp.knowledge.gazetteer import Gazetteer
from dispatch_nlp.knowledge.units import UnitsRegistry
from dispatch_nlp.lifecycle.evaluate import evaluate_examples
from dispatch_nlp.lifecycle.examples import leaf_by_path
from dispatch_nlp.pipeline.registry import Resources, component_names

from .classifier_fit import FUSION_MODES, fit_classifier
from .data import Example, load_examples
from .fusion import route_section
from .history_units import UNITS_TABLE, rule_accuracy, units_from_values, write_units_table
from .label_catalog import LabelPlan, catalog_from_labels, plan_label_paths

log = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    output: Path
    catalog: Path | None = None
    catalog_from_labels: bool = False
    encoding: str | None = None
    split_col: str | None = None
    dev_ratio: float = 0.1
    test_ratio: float = 0.1
    seed: int = 13
    target_precision: float = 0.97  # accuracy the automatically dispatched held-out orders must reach
    folds: int = 5  # cross-fitting folds over train+dev (fewer on small data); 0 or 1: fit on train, fuse on dev
    fusion: str = "stacked"  # stacked (the candidate re-scorer) or weights (the weight grid)
    linear_c: tuple[float, ...] = (0.5,)  # the linear member's C; several: chosen by cross-validation
    linear_fields: tuple[str, ...] = ("text",)  # what the linear member reads (text, title, statement)
    prototypes: str | None = None  # an encoder directory: add the zero-shot prototype member
    encoder: str | None = None  # a local transformers checkpoint; None: the linear member alone
    student_layers: int = 4
    epochs: float = 2.0
    max_len: int = 160
    batch_size: int = 32
    device: str = "cpu"
    max_rows: int | None = None
    max_features: int = 120_000
    max_nnz: int = 1_500_000
    model_version: str | None = None
    progress: bool = True
    data_note: str | None = None  # where the training data came from, for the model card
    encoder_max_train: int | None = None  # train the encoder member on at most this many orders (CPU budget)
    default_profile: str = "fast"  # with an encoder: which profile Dispatcher.load() runs (fast or full)
    units_from_labels: bool = False  # the unit column's values are the units (saved with the model)
    gazetteer: str | None = None  # beijing | a gazetteer TSV | none; None: beijing, none with catalog_from_labels


# The model config's preprocessing sections: what training prepares the text with and what it writes
# into config.json, so the Dispatcher loading the model runs the same components with the same settings
# (training also cuts handling trails: history has them, new orders do not).
PREPROCESS_CONFIG: dict = {"normalize": {"cut_trails": False, "max_chars": 5000}, "segment": {"engine": "rjieba"}}


def metrics_summary(test_metrics: dict) -> dict:
    """Per head the headline figures of ``evaluate_examples`` output (not the per-class tables), and
    the routing."""
    keys = ("n", "accuracy", "macro_f1", "ece", "accuracy_at_half_coverage", "coverage_at_accuracy")
    out = {h: {k: r.get(k) for k in keys} for h, r in test_metrics.items() if isinstance(r, dict) and "accuracy" in r}
    out["routing"] = test_metrics.get("routing")
    return out


def check_options(opts: TrainOptions) -> None:
    """InputError for options no recipe has."""
    if opts.fusion not in FUSION_MODES:
        raise InputError(f"--fusion {opts.fusion!r}: use one of {', '.join(FUSION_MODES)}")
    if opts.folds < 0:
        raise InputError("--folds must be 0 (fit on train, fuse on dev) or a number of folds")
    if not 0.5 <= opts.target_precision <= 1.0:
        raise InputError(f"--target-accuracy {opts.target_precision}: give a share between 0.5 and 1")
    if not opts.linear_c or any(c <= 0 for c in opts.linear_c):
        raise InputError("--linear-c takes positive numbers")


def _catalog_for(opts: TrainOptions, examples_labels: list[tuple[str, ...]]):
    if opts.catalog_from_labels:
        return catalog_from_labels(examples_labels)
    return Catalog.load(opts.catalog) if opts.catalog else Catalog.load()


def train(table: str | Path, spec: ColumnSpec, opts: TrainOptions) -> dict:
    from .model_card import write_model_card

    check_options(opts)
    t_start = time.perf_counter()
    if not spec.has_category:
        raise InputError("training needs the category: give --category-cols a,b,c or --category-col C")
    gazetteer, gazetteer_refs = _gazetteer_for(opts, spec)
    label_paths: list[tuple[str, ...]] = []
    plan: LabelPlan | None = None
    if opts.catalog_from_labels:
        # The labels define the catalog: tidy them first (spellings, blank levels, mixed depths).
        plan = plan_label_paths(Counter(r.category for r in read_labeled(table, spec, encoding=opts.encoding)
                                        if not isinstance(r, InputError) and r.category))
        label_paths = plan.paths()
    catalog = _catalog_for(opts, label_paths)
    pipeline_cfg = {"components": component_names({**PREPROCESS_CONFIG, "classifier": True}), **PREPROCESS_CONFIG}
    if gazetteer_refs["gazetteer"] == NO_RESOURCE:  # no places to look for: no jurisdiction stage
        pipeline_cfg["components"] = [n for n in pipeline_cfg["components"] if n != "jurisdiction"]
    if opts.prototypes and "statement" not in pipeline_cfg["components"]:
        # The prototype member reads the problem statement: the model runs the statement stage for it.
        pipeline_cfg["components"].insert(pipeline_cfg["components"].index("classifier"), "statement")
    leaf_of = None
    if plan is not None:
        def leaf_of(names: tuple[str, ...], plan: LabelPlan = plan) -> str | None:
            path = plan.leaf_path(names)
            return leaf_by_path(catalog, path) if path else None
    examples, report = load_examples(table, spec, catalog, gazetteer, split_col=opts.split_col,
                                     dev_ratio=opts.dev_ratio, test_ratio=opts.test_ratio, seed=opts.seed,
                                     encoding=opts.encoding, max_rows=opts.max_rows, progress=opts.progress,
                                     config=pipeline_cfg, leaf_of=leaf_of)
    history_units = _history_units(opts, spec, examples) if opts.units_from_labels else None
    labels_report: dict | None = None
    if plan is not None:
        # Rows whose label the plan skipped are left out of training, and said so; never an error that
        # tells the user to pass the flag they passed.
        labels_report = {**plan.to_dict(), "rows_without_leaf": dict(report.unknown_categories.most_common(50))}
        if labels_report["skipped_total"] or plan.collapsed or plan.spellings:
            log.info("label paths: %s", json.dumps(labels_report, ensure_ascii=False))
        report.unknown_categories = Counter()
    if report.unknown_categories:
        shown = "; ".join(f"{k} ({v} rows)" for k, v in report.unknown_categories.most_common(20))
        raise InputError(f"{table}: {len(report.unknown_categories)} category label(s) are not in catalog "
                         f"{catalog.version}: {shown}. Fix the labels, pass the right --catalog, or use "
                         "--catalog-from-labels to let the labels define the catalog.")
    labeled = [e for e in examples if e.leaf]
    train_ex = [e for e in labeled if e.split == "train"]
    dev_ex = [e for e in labeled if e.split == "dev"] or train_ex[: max(1, len(train_ex) // 10)]
    test_ex = [e for e in labeled if e.split == "test"]
    if len({e.leaf for e in train_ex}) < 2:
        raise InputError(f"{table}: training needs at least two categories with examples in the training split")
    log.info("examples: train %d, dev %d, test %d", len(train_ex), len(dev_ex), len(test_ex))

    out = Path(opts.output)
    staging = out.with_name(out.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)

    # -- members and their fusion ---------------------------------------------------------------------
    timings: dict[str, float] = {}
    resources = Resources(catalog=catalog, gazetteer=gazetteer, model_dir=staging)
    fitted = fit_classifier(opts, train_ex, dev_ex, catalog, pipeline_cfg, resources, staging,
                            dev_is_new=not report.split_method.startswith("random"))
    timings.update(fitted.info.pop("timings"))
    classifier_cfg, fusions, profiles, leaves, linear = (fitted.config, fitted.fusions, fitted.profiles,
                                                         fitted.leaves, fitted.linear)
    fusion = fusions["full"]
    segmenter = build_segmenter(catalog, gazetteer, pipeline_cfg["segment"]["engine"])

    # -- learned jurisdiction and units -----------------------------------------------------------
    extra_cfg: dict = {}
    if any(e.district for e in train_ex):
        try:
            from .jurisdiction import fit_jurisdiction
        except ImportError:
            fit_jurisdiction = None
        if fit_jurisdiction is not None:
            t0 = time.perf_counter()
            extra_cfg["jurisdiction"] = fit_jurisdiction(
                [(e.text, e.district, e.street) for e in train_ex], [(e.text, e.district, e.street) for e in dev_ex],
                gazetteer, staging, segmenter=segmenter)
            timings["jurisdiction_s"] = round(time.perf_counter() - t0, 1)
    if any(e.unit for e in train_ex):
        try:
            from .jurisdiction import fit_units
        except ImportError:
            fit_units = None
        if fit_units is not None:
            extra_cfg["units"] = fit_units(
                [(e.text, e.leaf, e.district, e.street, e.unit) for e in train_ex],
                [(e.text, e.leaf, e.district, e.street, e.unit) for e in dev_ex], staging)
            registry = history_units[1] if history_units is not None else UnitsRegistry.load()
            rule = rule_accuracy([(e.leaf, e.district, e.street, e.unit) for e in dev_ex], catalog, registry,
                                 gazetteer, catalog.settings.get("territorial_dispatch", "street"))
            if rule is not None:
                # The rule's unit is as sure as it was right on held-out history; history overrides
                # it whenever history is surer than that.
                extra_cfg["units"].update(rule_confidence=rule, rule_dev_accuracy=rule,
                                          override_min=min(extra_cfg["units"]["override_min"], max(rule, 0.05)))
            if history_units is not None:
                extra_cfg["units"]["history_units"] = len(history_units[2])
                write_units_table(staging / UNITS_TABLE, UnitsRegistry.load(), history_units[2])

    # -- the model directory ------------------------------------------------------------------------
    version = opts.model_version or dt.datetime.now(dt.UTC).strftime("%Y.%m.%d-%H%M")
    if opts.catalog_from_labels:
        catalog.save(staging / "catalog.yaml")
        catalog_ref = "catalog.yaml"
    elif opts.catalog:
        shutil.copy(opts.catalog, staging / Path(opts.catalog).name)
        catalog_ref = Path(opts.catalog).name
    else:
        catalog_ref = "catalog:beijing-12345.yaml"
    config = {
        "format_version": 1,
        "model_version": version,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "catalog_version": catalog.version,
        "resources": {"catalog": catalog_ref, **gazetteer_refs,
                      "units": UNITS_TABLE if (staging / UNITS_TABLE).exists() else "catalog:units-beijing.tsv"},
        **pipeline_cfg,
        "classifier": classifier_cfg,
        "route": {**route_section(fusion), **({"route_confidence": "unit"} if opts.units_from_labels else {})},
        **({"profiles": profiles, "default_profile": opts.default_profile} if profiles else {}),
        **extra_cfg,
    }
    (staging / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    labels = {"leaf": leaves, "appeal": linear.classes("appeal") if "appeal" in linear.heads else []}
    (staging / "labels.json").write_text(json.dumps(labels, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if opts.gazetteer not in (None, "beijing", NO_RESOURCE):
        shutil.copy(opts.gazetteer, staging / gazetteer_refs["gazetteer"])
    write_checksums(staging)

    # -- evaluate on test through the real Dispatcher, each profile ---------------------------------------
    default = config.get("default_profile", "full")
    by_profile = {name: evaluate_examples(Dispatcher.load(staging, profile=name), test_ex or dev_ex)
                  for name in fusions}
    test_metrics = by_profile[default]
    timings["total_s"] = round(time.perf_counter() - t_start, 1)
    metrics = {
        "model_version": version,
        "catalog_version": catalog.version,
        "data": {**report.to_dict(), "train": len(train_ex), "dev": len(dev_ex), "test": len(test_ex),
                 "table": Path(table).name, **({"labels": labels_report} if labels_report is not None else {})},
        "fusion": {k: v for k, v in fusions[default].items() if not k.startswith("calibration")},
        "recipe": fitted.info,
        "test": test_metrics,
        **({"profiles": {name: {"fusion": {k: v for k, v in fusions[name].items() if not k.startswith("calibration")},
                                "test": metrics_summary(m)} for name, m in by_profile.items()},
            "default_profile": default} if profiles else {}),
        "timings": timings,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()},
    }
    (staging / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_model_card(staging, metrics, config, data_note=opts.data_note)
    write_checksums(staging)
    replace_dir(staging, out)  # fsynced, the old model kept until the new one is in place
    return metrics


GAZETTEER_FILE = "gazetteer.tsv"


def _gazetteer_for(opts: TrainOptions, spec: ColumnSpec) -> tuple[Gazetteer, dict[str, str]]:
    """The gazetteer training reads places with and the config's references to it. ``--gazetteer``:
    ``beijing`` (the shipped one), a gazetteer TSV (copied into the model), or ``none``; without the
    flag, Beijing's, except for a catalog built from labels (another city's history uses a gazetteer
    only if told)."""
    choice = opts.gazetteer or (NO_RESOURCE if opts.catalog_from_labels else "beijing")
    if choice == NO_RESOURCE:
        if spec.district_col or spec.street_col:
            raise InputError("--district-col/--street-col name places, which need a gazetteer: give --gazetteer "
                             "beijing or a gazetteer TSV (a model whose catalog comes from labels has none unless told)")
        return Gazetteer([], source=NO_RESOURCE), {"gazetteer": NO_RESOURCE, "places": NO_RESOURCE}
    if choice == "beijing":
        return Gazetteer.load(), {"gazetteer": "catalog:gazetteer-beijing.tsv", "places": "catalog:places-beijing.tsv"}
    if not Path(choice).is_file():
        raise InputError(f"--gazetteer {choice!r}: use beijing, none or the path of a gazetteer TSV")
    return Gazetteer.load(choice, places=False), {"gazetteer": GAZETTEER_FILE, "places": NO_RESOURCE}


def _history_units(opts: TrainOptions, spec: ColumnSpec, examples: list[Example]):
    """``--units-from-labels``: the unit column's values as units (ids mapped in place on ``examples``);
    returns (value -> id, the merged registry, the history's new units)."""
    if not spec.unit_col:
        raise InputError("--units-from-labels needs the unit column: give --unit-col")
    registry = UnitsRegistry.load()
    ids, new = units_from_values(Counter(e.unit.strip() for e in examples if e.unit and e.unit.strip()), registry)
    for e in examples:
        e.unit = ids.get(e.unit.strip()) if e.unit else None
    log.info("units from labels: %d values, %d new units", len(ids), len(new))
    return ids, UnitsRegistry([*registry, *new], source="registry + history"), new


def examples_summary(examples: list[Example]) -> dict:
    return dict(Counter(e.split for e in examples))

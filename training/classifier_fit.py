"""Fit the classifier section of a model: its members, their held-out probabilities and the fusion.

``fit_classifier(opts, train_ex, dev_ex, catalog, pipeline_cfg, resources, staging) -> ClassifierFit``.
Two recipes:

- cross-fitted (``opts.folds >= 2``, the default): the linear member's out-of-fold probabilities over
  every labeled order (train and dev splits together, ``training.crossfit``), the member refit on all
  of them for the shipped model. The encoder member (expensive on a CPU) is fitted once on the train
  split (at most ``encoder_max_train`` orders); its held-out orders are the labeled ones it was not
  fitted on. The prototype member fits nothing: every order is held out for it.
- dev split (``opts.folds`` 0 or 1, the recipe before cross-fitting): members fitted on the train
  split, the fusion on the dev split.

The fusion of each profile (``full``: every member; ``fast``: the linear member, when there are
more) is fitted on the orders held out from all its members: the stacked re-scorer
(``opts.fusion == "stacked"``, ``training.stacking``) or the weight grid (``"weights"``,
``training.fusion``), each with its isotonic calibration and automatic-dispatch threshold.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dispatch_nlp.components.classifier import ClassifierStage
from dispatch_nlp.components.stacker import STACKER_FILE
from dispatch_nlp.pipeline import Doc
from dispatch_nlp.pipeline.registry import Resources, build_components, component_names
from dispatch_nlp.types import WorkOrder

from .crossfit import assign_folds, assign_folds_keeping_dev, crossfit_linear, fold_count
from .fusion import fit_fusion, route_section
from .stacking import fit_stacked_fusion

log = logging.getLogger(__name__)

MIN_CALIBRATION_ORDERS = 200  # a dev split smaller than this is not calibrated on alone
MAX_ENCODER_HELD = 6000  # held-out orders the encoder member predicts for the fusion (CPU budget)
FUSION_MODES = ("stacked", "weights")


@dataclass
class HeldOut:
    """A member's probabilities over ``classes`` for the pool orders ``rows`` (it was not fitted on them)."""

    rows: np.ndarray
    probs: np.ndarray
    classes: list[str]

    def widened(self, leaves: list[str]) -> HeldOut:
        """The same probabilities over ``leaves`` (a superset; 0 where the member has no column)."""
        index = {c: j for j, c in enumerate(leaves)}
        wide = np.zeros((len(self.rows), len(leaves)))
        wide[:, [index[c] for c in self.classes]] = self.probs
        return HeldOut(self.rows, wide, leaves)


@dataclass
class ClassifierFit:
    config: dict  # the model config's classifier section (full profile)
    linear: object  # the fitted linear member (its appeal classes go into labels.json)
    leaves: list[str]
    fusions: dict[str, dict]  # profile -> fusion record (weights or stacker coefficients, calibration, threshold)
    profiles: dict = field(default_factory=dict)  # the config's "profiles" section (empty: one profile)
    info: dict = field(default_factory=dict)  # recipe, folds, chosen C, timings


def rules_matrix(config: dict, resources: Resources, texts: list[str], leaves: list[str]) -> np.ndarray:
    """The rules' distribution over ``leaves`` for prepared texts: the config's segment and rules
    components, built by the same factories as the Dispatcher's, over the text the members read."""
    index = {c: i for i, c in enumerate(leaves)}
    m = np.zeros((len(texts), len(leaves)))
    names = [n for n in component_names(config) if n in ("segment", "rules")]
    docs = [Doc.from_order(WorkOrder(text=text)) for text in texts]
    for stage in build_components(config, resources, names=names):
        docs = list(stage.pipe(docs))
    for i, doc in enumerate(docs):
        for code, p in (doc.rules.distribution() if doc.rules is not None else {}).items():
            if code in index:
                m[i, index[code]] = p
    return m


def _heads(examples) -> dict[str, list[str]]:
    heads = {"leaf": [e.leaf for e in examples]}
    if any(e.appeal for e in examples):
        heads["appeal"] = [e.appeal or "其他" for e in examples]
    return heads


def _linear_fitter(opts):
    from .linear import fit_linear

    extra = {"fields": tuple(opts.linear_fields)} if tuple(opts.linear_fields) != ("text",) else {}

    def fit(train_texts, train_labels, dev_texts, dev_labels, C):
        return fit_linear(train_texts, train_labels, dev_texts, dev_labels, max_features=opts.max_features,
                          max_nnz=opts.max_nnz, C=C, **extra)
    return fit


def _statements(pipeline_cfg: dict, texts: list[str]) -> list[str | None] | None:
    """The problem statement of each text, when the model's pipeline has the statement stage."""
    if "statement" not in component_names(pipeline_cfg):
        return None
    from dispatch_nlp.components.statement import problem_statement

    return [problem_statement(t) for t in texts]


def _pick(items: list | None, rows: np.ndarray) -> list | None:
    return None if items is None else [items[i] for i in rows]


def _spread(items: list, n: int | None) -> list:
    """At most ``n`` of ``items``, evenly spread and deterministic."""
    if not n or len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def _predict(staging: Path, section, catalog, texts: list[str], rows: np.ndarray, member: str,
             statements: list[str | None] | None = None) -> HeldOut:
    """A member's leaf probabilities for the pool orders ``rows``; ``statements``: the problem
    statements the runtime's statement stage would give the member (None: no statement stage)."""
    stage = ClassifierStage.load(staging, {member: section, "weights": {}}, catalog)
    picked = [texts[i] for i in rows]
    member_out = stage.member_probs(picked, ("leaf",), _pick(statements, rows))
    classes, aligned, _ = stage.aligned_probs(picked, "leaf", member_out)
    return HeldOut(rows, aligned[member], classes)


def fit_classifier(opts, train_ex: list, dev_ex: list, catalog, pipeline_cfg: dict, resources: Resources,
                   staging: Path, dev_is_new: bool = False) -> ClassifierFit:
    """See the module docstring. ``dev_is_new``: the dev split was made by time or by a split column
    (not at random), so it stands for new orders: with cross-fitting it is a fold of its own and the
    calibration and threshold are fitted on its out-of-fold probabilities only."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    crossfit = opts.folds >= 2
    train_ids = {id(e) for e in train_ex}
    # The orders the fusion is fitted on (a dev split taken from train when the table had none counts once).
    pool = [*train_ex, *(e for e in dev_ex if id(e) not in train_ids)] if crossfit else dev_ex
    texts = [e.text for e in pool]
    statements = _statements(pipeline_cfg, texts)
    info: dict = {"recipe": "cross-fitted" if crossfit else "dev split", "fusion": opts.fusion}
    held: dict[str, HeldOut] = {}
    fit = _linear_fitter(opts)
    if crossfit:
        k = fold_count(len(pool), opts.folds)
        dev_ids = {id(e) for e in dev_ex} - train_ids
        is_dev = np.array([id(e) in dev_ids for e in pool])
        keep_dev = dev_is_new and k >= 3 and is_dev.sum() >= MIN_CALIBRATION_ORDERS
        folds = (assign_folds_keeping_dev([e.leaf for e in pool], is_dev, k, opts.seed) if keep_dev
                 else assign_folds([e.leaf for e in pool], k, opts.seed))
        calibrate_on = is_dev if keep_dev else np.ones(len(pool), dtype=bool)
        info["calibrated_on"] = "dev split (its own fold)" if keep_dev else "every out-of-fold order"
        linear, oof, lin_info = crossfit_linear(texts, _heads(pool), folds, fit, tuple(opts.linear_c))
        info.update(folds=k, linear=lin_info)
        held["linear"] = HeldOut(np.arange(len(pool)), oof["leaf"].probs, oof["leaf"].classes)
    else:
        c = tuple(opts.linear_c)
        linear = fit([e.text for e in train_ex], _heads(train_ex), texts, _heads(dev_ex),
                     C=c[0] if len(c) == 1 else c)
        info["linear"] = {"C": {h: linear.heads[h].get("C") for h in linear.heads}}  # type: ignore[attr-defined]
        folds = assign_folds([e.leaf for e in pool], fold_count(len(pool), 5), opts.seed)
        calibrate_on = np.ones(len(pool), dtype=bool)
    linear.save(staging / "linear.npz")  # type: ignore[attr-defined]
    timings["linear_s"] = round(time.perf_counter() - t0, 1)
    config: dict = {"linear": "linear.npz"}

    if opts.encoder:
        from .encoder_train import fit_encoder_member

        t1 = time.perf_counter()
        enc_train = _spread(train_ex, opts.encoder_max_train)
        enc_heads = {h: labels for h, labels in _heads(enc_train).items() if h in linear.heads}  # type: ignore[attr-defined]
        config["encoder"] = fit_encoder_member(opts, enc_train, dev_ex, enc_heads, staging)
        seen = {id(e) for e in enc_train}
        rows = np.array(_spread([i for i, e in enumerate(pool) if id(e) not in seen], MAX_ENCODER_HELD), dtype=int)
        held["encoder"] = _predict(staging, config["encoder"], catalog, texts, rows, "encoder", statements)
        timings["encoder_s"] = round(time.perf_counter() - t1, 1)
    if opts.prototypes:
        t1 = time.perf_counter()
        config["prototype"] = _fit_prototypes(opts, catalog, staging)
        rows = np.array(_spread(list(range(len(pool))), MAX_ENCODER_HELD), dtype=int)
        held["prototype"] = _predict(staging, config["prototype"], catalog, texts, rows, "prototype", statements)
        timings["prototype_s"] = round(time.perf_counter() - t1, 1)
    if not crossfit:
        held["linear"] = _predict(staging, "linear.npz", catalog, texts, np.arange(len(pool)), "linear", statements)
    leaves = sorted({c for part in held.values() for c in part.classes})  # every member's columns
    held = {m: part.widened(leaves) for m, part in held.items()}

    t1 = time.perf_counter()
    index = {c: i for i, c in enumerate(leaves)}
    gold = np.array([index.get(e.leaf, -1) for e in pool])
    rules = rules_matrix(pipeline_cfg, resources, texts, leaves)
    fusions, profiles = {}, {}
    profile_members = {"full": sorted(held)}
    if len(held) > 1:
        profile_members["fast"] = ["linear"]
    for profile, members in profile_members.items():
        rows = _common_rows([held[m] for m in members], len(pool))
        rows = rows[gold[rows] >= 0]
        probs = {m: _rows_of(held[m], rows) for m in members}
        fusion = _fit_fusion(opts, probs, rules[rows], gold[rows], folds[rows], leaves, calibrate_on[rows])
        fusion["n"] = int(len(rows))
        if fusion["fusion"] == "stacked":
            stacker = fusion.pop("stacker")
            name = STACKER_FILE if profile == "full" else f"stacker-{profile}.json"
            stacker.save(staging / name)
            fusion["stacker"] = name
        fusions[profile] = fusion
    timings["fusion_s"] = round(time.perf_counter() - t1, 1)
    config.update(_section(fusions["full"]))
    if "fast" in fusions:
        profiles["fast"] = {"classifier": {"linear": "linear.npz", **_section(fusions["fast"])},
                            "route": route_section(fusions["fast"])}
    info["timings"] = timings
    return ClassifierFit(config, linear, leaves, fusions, profiles, info)


def _section(fusion: dict) -> dict:
    out = {"weights": fusion["weights"], "fusion": fusion["fusion"]}
    if fusion["fusion"] == "stacked":
        out["stacker"] = fusion["stacker"]
    return out


def _common_rows(parts: list[HeldOut], n: int) -> np.ndarray:
    mask = np.ones(n, dtype=bool)
    for part in parts:
        has = np.zeros(n, dtype=bool)
        has[part.rows] = True
        mask &= has
    return np.flatnonzero(mask)


def _rows_of(part: HeldOut, rows: np.ndarray) -> np.ndarray:
    where = {int(r): i for i, r in enumerate(part.rows)}
    return part.probs[[where[int(r)] for r in rows]]


def _fit_fusion(opts, probs: dict[str, np.ndarray], rules: np.ndarray, gold: np.ndarray, folds: np.ndarray,
                leaves: list[str], calibrate_on: np.ndarray) -> dict:
    """The weight grid's fusion, and the stacked one over it when asked (the grid's weights then fuse
    the appeal head, and its held-out accuracy is kept for comparison)."""
    if not calibrate_on.any():
        calibrate_on = np.ones(len(gold), dtype=bool)
    grid = fit_fusion(probs, rules, gold, opts.target_precision, calibrate_on=calibrate_on)
    if opts.fusion != "stacked":
        return grid
    stacker, stacked = fit_stacked_fusion(probs, rules, gold, folds, opts.target_precision, classes=leaves,
                                          calibrate_on=calibrate_on)
    return {**stacked, "weights": grid["weights"], "stacker": stacker,
            "weights_dev_accuracy": grid["dev_accuracy"], "weights_dev_auto_coverage": grid["dev_auto_coverage"]}


def _fit_prototypes(opts, catalog, staging: Path) -> dict:
    """The zero-shot prototype member (``--prototypes ENCODER_DIR``): nothing fitted on the labels."""
    from .prototypes import fit_prototype_member  # type: ignore[import-not-found]

    return fit_prototype_member(opts.prototypes, catalog, staging)

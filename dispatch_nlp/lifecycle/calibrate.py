"""Calibrate a model on labelled orders that look real: the confidences and thresholds routing uses.

Training fits the fusion, its calibration and the automatic-dispatch threshold on generated dev
orders; real orders' confidences sit lower and rank less well, so a threshold fitted there passes
almost none of them.  ``calibrate_model(model_dir, examples)`` refits, per profile, on a small
labelled set (the challenge set's ``dev`` half, a city's own checked orders):

* ``rules_weight``: the catalog rules' weight in the category fusion (by the gold leaf's mean
  log-probability, steadier than accuracy on ~100 orders);
* ``calibration_x/y``: the top leaf's fused probability → P(leaf right);
* ``level_calibration_x/y``: a first-/second-level category's summed probability → P(level right);
* ``route_calibration_x/y`` (``dispatch_on = unit``): the route confidence → P(unit right);
* ``auto_threshold``: the least calibrated route confidence whose orders reach ``target`` accuracy.

Calibration maps are monotone and guarded against over-fitting a small set: Platt scaling on the
logit (two parameters, the default), beta calibration (three) or isotonic regression whose steps
hold at least ``min_count`` orders.  Each is judged by expected calibration error with ``folds``-fold cross-validation.

:func:`write_calibration` puts the fitted route settings into ``config.json`` (each profile its own
keys), records what the model was calibrated on (``config["calibration"]`` and a section of the model
card) and rewrites ``checksums.json``; the folder is replaced as a whole (``files.replace_dir``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dispatch_nlp.dispatcher import sha256_file
from dispatch_nlp.files import replace_dir
from dispatch_nlp.lifecycle.metrics import expected_calibration_error
from dispatch_nlp.pipeline.component import timed
from dispatch_nlp.pipeline.doc import Doc
from dispatch_nlp.routing.levels import level_masses
from dispatch_nlp.routing.router import Router
from dispatch_nlp.routing.settings import RouteSettings
from dispatch_nlp.types import DispatchDecision, WorkOrder

__all__ = ["Calibrator", "fit_platt", "fit_beta", "fit_isotonic", "fit_calibrator", "cv_ece", "least_threshold",
           "ProfileRun", "run_profile", "decide", "outcomes", "calibrate_profile", "calibrate_model",
           "write_calibration", "METHODS", "RULES_WEIGHTS"]

METHODS = ("platt", "beta", "isotonic")
RULES_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
MIN_AUTO = 10  # a threshold must send at least this many calibration orders to be trusted
CARD_BEGIN, CARD_END = "<!-- calibration:begin -->", "<!-- calibration:end -->"
_EPS = 1e-4


# -- calibration maps --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Calibrator:
    """A monotone map from a raw confidence to P(right) as points for ``np.interp`` (x from 0 to 1)."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return np.interp(values, self.x, self.y)


_GRID = np.unique(np.concatenate([np.linspace(0.0, 0.9, 19), np.linspace(0.9, 1.0, 21), [0.995, 0.999, 1.0]]))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _logistic(features: np.ndarray, y: np.ndarray, prior: np.ndarray, l2: float) -> np.ndarray:
    """Weights of P(right) = sigmoid(features @ w) (the last feature is the constant 1), by Newton's
    method with backtracking and an L2 pull of the slopes toward ``prior``."""
    penalty = np.r_[np.full(features.shape[1] - 1, l2), 0.0]

    def loss(w: np.ndarray) -> float:
        t = features @ w
        return float(np.sum(np.logaddexp(0.0, t) - y * t) + 0.5 * np.sum(penalty * (w - prior) ** 2))

    w = prior.astype(float).copy()
    for _ in range(100):
        p = 0.5 * (1.0 + np.tanh(0.5 * (features @ w)))
        grad = features.T @ (p - y) + penalty * (w - prior)
        hess = (features * (p * (1 - p))[:, None]).T @ features + np.diag(penalty + 1e-6)
        step = np.linalg.solve(hess, grad)
        scale, current = 1.0, loss(w)
        while scale > 1e-4 and loss(w - scale * step) > current:  # Newton may overshoot
            scale *= 0.5
        w = w - scale * step
        if np.abs(scale * step).max() < 1e-8:
            break
    return w


def _on_grid(values: np.ndarray) -> Calibrator:
    return Calibrator(tuple(float(v) for v in _GRID.round(5)),
                      tuple(float(v) for v in np.maximum.accumulate(np.clip(values, 0.0, 1.0)).round(5)))


def _base_rate(y: np.ndarray) -> Calibrator:
    rate = float(y.mean())
    return Calibrator((0.0, 1.0), (rate, rate))


def fit_platt(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> Calibrator:
    """P(right) = sigmoid(a·logit(x) + b) (two parameters: safe on ~100 orders); a slope that is not
    positive gives the constant base rate."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) == 0:
        return Calibrator((0.0, 1.0), (0.0, 1.0))
    z = _logit(x)
    w = _logistic(np.stack([z, np.ones_like(z)], axis=1), y, np.array([1.0, 0.0]), l2)
    if not np.all(np.isfinite(w)) or w[0] <= 0:
        return _base_rate(y)
    return _on_grid(0.5 * (1.0 + np.tanh(0.5 * (w[0] * _logit(_GRID) + w[1]))))


def fit_beta(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> Calibrator:
    """Beta calibration: P(right) = sigmoid(a·ln x − b·ln(1−x) + c) (three parameters), which can bend
    differently near 0 and near 1 where Platt's one slope cannot; a and b are kept non-negative (a
    negative one is dropped and the rest refitted) so the map rises."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) == 0:
        return Calibrator((0.0, 1.0), (0.0, 1.0))

    def feats(v: np.ndarray, keep: list[int]) -> np.ndarray:
        v = np.clip(v, _EPS, 1 - _EPS)
        cols = [np.log(v), -np.log(1 - v)]
        return np.stack([cols[k] for k in keep] + [np.ones_like(v)], axis=1)

    keep = [0, 1]
    while True:
        w = _logistic(feats(x, keep), y, np.r_[np.ones(len(keep)), 0.0], l2)
        if not np.all(np.isfinite(w)):
            return _base_rate(y)
        negative = [k for k, wk in zip(keep, w[:-1]) if wk < 0]
        if not negative:
            break
        keep = [k for k in keep if k not in negative]
        if not keep:
            return _base_rate(y)
    t = feats(_GRID, keep) @ w
    return _on_grid(0.5 * (1.0 + np.tanh(0.5 * t)))


def fit_isotonic(x: np.ndarray, y: np.ndarray, min_count: int = 10) -> Calibrator:
    """Isotonic regression (pool adjacent violators) whose every step holds ``min_count`` orders or
    more: a small step is pooled with its neighbour, so one lucky order never makes a plateau."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) == 0:
        return Calibrator((0.0, 1.0), (0.0, 1.0))
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    blocks: list[list[float]] = []  # [sum of y, count, least x, greatest x]
    for xv, yv in zip(xs, ys):
        blocks.append([yv, 1, xv, xv])
        _pool(blocks, min(min_count, len(x)))
    while len(blocks) > 1 and blocks[-1][1] < min(min_count, len(x)):
        _merge_last(blocks)
        _pool(blocks, min(min_count, len(x)))
    px, py = [0.0], [blocks[0][0] / blocks[0][1]]
    for s, n, lo, hi in blocks:
        px += [lo, hi]
        py += [s / n, s / n]
    px.append(1.0)
    py.append(py[-1])
    return Calibrator(tuple(float(v) for v in np.maximum.accumulate(np.clip(px, 0, 1))),
                      tuple(float(v) for v in np.maximum.accumulate(np.clip(py, 0, 1)).round(5)))


def _merge_last(blocks: list[list[float]]) -> None:
    s, n, _, hi = blocks.pop()
    blocks[-1][0] += s
    blocks[-1][1] += n
    blocks[-1][3] = hi


def _pool(blocks: list[list[float]], min_count: int) -> None:
    """Merge the last block backwards while it breaks monotonicity or the one before it is too small
    (a too-small last block waits: more orders may still join it)."""
    while len(blocks) > 1:
        prev, last = blocks[-2], blocks[-1]
        if prev[0] / prev[1] >= last[0] / last[1] or prev[1] < min_count:
            _merge_last(blocks)
        else:
            break


def fit_calibrator(method: str, x: np.ndarray, y: np.ndarray, min_count: int = 10) -> Calibrator:
    if method == "platt":
        return fit_platt(x, y)
    if method == "beta":
        return fit_beta(x, y)
    if method == "isotonic":
        return fit_isotonic(x, y, min_count)
    raise ValueError(f"calibration method {method!r}; use one of {', '.join(METHODS)}")


def cv_ece(method: str, x: np.ndarray, y: np.ndarray, folds: int = 5, min_count: int = 10, seed: int = 13) -> float | None:
    """Expected calibration error of ``method`` on held-out folds (each order calibrated by a map
    fitted without it); None with fewer orders than folds."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < max(folds, 2):
        return None
    fold = np.random.default_rng(seed).permutation(len(x)) % folds
    out = np.empty(len(x))
    for k in range(folds):
        held = fold == k
        out[held] = fit_calibrator(method, x[~held], y[~held], min_count)(x[held])
    return round(expected_calibration_error(y, out), 4)


def least_threshold(confidence: np.ndarray, correct: np.ndarray, target: float, min_auto: int = MIN_AUTO) -> float:
    """The least confidence whose orders at or above it are right ``target`` of the time, counting
    only thresholds that send ``min_auto`` orders or more; 1.01 (never automatic) when none does."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    if len(confidence) == 0:
        return 1.01
    order = np.argsort(-confidence, kind="stable")
    conf, hits = confidence[order], np.cumsum(correct[order])
    n = np.arange(1, len(conf) + 1)
    last = np.r_[conf[1:] != conf[:-1], True]
    ok = last & (hits / n >= target) & (n >= min_auto)
    return math.floor(float(conf[ok].min()) * 1e5) / 1e5 if ok.any() else 1.01


# -- running a profile over labelled orders ----------------------------------------------------------

@dataclass
class ProfileRun:
    """A profile's stages run once over labelled orders; routing can then be redone cheaply with
    other settings (:func:`decide`)."""

    dispatcher: Any
    docs: list[Doc]
    gold_leaf: list[str | None]
    gold_unit: list[str | None]


def run_profile(dispatcher, examples: Sequence, batch_size: int = 64) -> ProfileRun:
    """Run the dispatcher's stages (not routing) over ``examples`` (``lifecycle.examples.Example``)."""
    docs = [Doc.from_order(WorkOrder(text=e.text, id=e.id)) for e in examples]
    out: list[Doc] = []
    for i in range(0, len(docs), batch_size):
        batch = docs[i: i + batch_size]
        for stage in dispatcher.stages:
            batch = timed(stage, batch, batch_size)
        out.extend(batch)
    return ProfileRun(dispatcher, out, [e.leaf for e in examples], [e.unit for e in examples])


def router_with(dispatcher, settings: RouteSettings) -> Router:
    base = dispatcher.router
    return Router(base.catalog, base.gazetteer, base.units, settings, model_version=base.model_version,
                  unit_model=base.unit_model)


def decide(run: ProfileRun, settings: RouteSettings) -> list[DispatchDecision]:
    router = router_with(run.dispatcher, settings)
    return [router.decide(doc) for doc in run.docs]


@dataclass
class Outcomes:
    """Per order: the route confidence, whether what routing dispatches on is right, whether it went
    automatically; and the figures a report gives."""

    confidence: np.ndarray
    correct: np.ndarray
    auto: np.ndarray
    candidate: np.ndarray  # routed dispatch or review: the orders the threshold decides
    figures: dict = field(default_factory=dict)


def outcomes(run: ProfileRun, decisions: Sequence[DispatchDecision], dispatch_on: str) -> Outcomes:
    """What the decisions achieved: leaf and unit accuracy, automatic share and its accuracy (of the
    leaf and of the unit), ECE of the category and of the route confidence."""
    leaf_ok = np.array([d.category.code is not None and d.category.code == g for d, g in zip(decisions, run.gold_leaf)], float)
    unit_ok = np.array([d.units.primary is not None and d.units.primary.id == g
                        for d, g in zip(decisions, run.gold_unit)], float)
    has_unit = np.array([g is not None for g in run.gold_unit])
    auto = np.array([d.route == "dispatch" for d in decisions])
    candidate = np.array([d.route in ("dispatch", "review") for d in decisions])
    route_conf = np.array([d.confidence for d in decisions], float)
    leaf_conf = np.array([d.category.confidence for d in decisions], float)
    correct = unit_ok if dispatch_on == "unit" else leaf_ok
    confident = [d.category.confident for d in decisions]
    level_ok = [c is not None and g is not None and g.startswith(c.code) for c, g in zip(confident, run.gold_leaf)]
    n = len(decisions)

    def share(mask: np.ndarray) -> float | None:
        return round(float(mask.mean()), 4) if len(mask) and mask.any() else None

    figures = {
        "n": n,
        "leaf_accuracy": round(float(leaf_ok.mean()), 4) if n else None,
        "l1_accuracy": round(float(np.mean([bool(d.category.code and g and d.category.code[:2] == g[:2])
                                            for d, g in zip(decisions, run.gold_leaf)])), 4) if n else None,
        "unit_accuracy": share(unit_ok[has_unit]) if has_unit.any() else None,
        "auto_share": round(float(auto.mean()), 4) if n else None,
        "auto_leaf_accuracy": share(leaf_ok[auto]) if auto.any() else None,
        "auto_unit_accuracy": share(unit_ok[auto & has_unit]) if (auto & has_unit).any() else None,
        "category_ece": round(expected_calibration_error(leaf_ok, leaf_conf), 4) if n else None,
        "route_ece": round(expected_calibration_error(correct[candidate & has_unit] if dispatch_on == "unit"
                                                      else correct[candidate],
                                                      route_conf[candidate & has_unit] if dispatch_on == "unit"
                                                      else route_conf[candidate]), 4) if candidate.any() else None,
        "confident_level_share": {str(k): round(sum(c is not None and len(c.code) == k for c in confident) / max(n, 1), 4)
                                  for k in (2, 4, 6)},
        "confident_level_accuracy": round(sum(level_ok) / max(sum(c is not None for c in confident), 1), 4),
    }
    return Outcomes(route_conf, correct, auto, candidate, figures)


# -- fitting -------------------------------------------------------------------------------------------

def _fit_rules_weight(run: ProfileRun, settings: RouteSettings) -> tuple[float, dict[float, float]]:
    """The rules weight whose fused distribution gives the gold leaves the most log-probability."""
    scores = {}
    for w in RULES_WEIGHTS:
        router = router_with(run.dispatcher, dataclasses.replace(settings, rules_weight=w))
        logp = [math.log(max(router.fuse_category(doc).get(g, 0.0), _EPS))
                for doc, g in zip(run.docs, run.gold_leaf) if g]
        scores[w] = round(float(np.mean(logp)), 4) if logp else 0.0
    best = max(scores, key=lambda w: (scores[w], -abs(w - settings.rules_weight)))
    return best, scores


def _leaf_points(run: ProfileRun, settings: RouteSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(top leaf probability, leaf right) and, pooled over the first and second level, (summed
    probability of the top leaf's ancestor, ancestor right), of the orders with a gold leaf."""
    router = router_with(run.dispatcher, settings)
    top, ok, lvl, lvl_ok = [], [], [], []
    for doc, gold in zip(run.docs, run.gold_leaf):
        if not gold:
            continue
        dist = router.fuse_category(doc)
        if not dist:
            continue
        code, p = min(dist.items(), key=lambda kv: (-kv[1], kv[0]))
        top.append(p)
        ok.append(float(code == gold))
        for prefix, mass in level_masses(dist, code):
            lvl.append(mass)
            lvl_ok.append(float(gold.startswith(prefix)))
    return np.array(top), np.array(ok), np.array(lvl), np.array(lvl_ok)


def stacked_fusion(dispatcher) -> bool:
    """Whether the profile's classifier fuses with a stacker: it weighs the catalog rules itself (fitted
    on held-out orders), so routing must not add them a second time and the rules weight stays as trained."""
    return any(getattr(s, "fusion", None) == "stacked" for s in getattr(dispatcher, "stages", ()) if s.name == "classifier")


def calibrate_profile(run: ProfileRun, *, target: float = 0.9, method: str = "platt", dispatch_on: str = "unit",
                      min_count: int = 10, folds: int = 5, min_auto: int = MIN_AUTO,
                      level_target: float | None = None, fit_rules_weight: bool = True
                      ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fit one profile's route settings on ``run`` (``fit_rules_weight=False`` keeps the model's rules
    weight, and so does a stacked fusion: see :func:`stacked_fusion`). Returns (the ``route`` keys to write, a report with cross-validated ECE and the figures
    before and after)."""
    before_settings = run.dispatcher.router.settings
    before = outcomes(run, decide(run, before_settings), before_settings.dispatch_on).figures
    if fit_rules_weight and not stacked_fusion(run.dispatcher):
        rules_weight, rw_scores = _fit_rules_weight(run, before_settings)
    else:
        rules_weight, rw_scores = before_settings.rules_weight, {}
    settings = dataclasses.replace(before_settings, rules_weight=rules_weight)
    top, ok, lvl, lvl_ok = _leaf_points(run, settings)
    leaf_cal = fit_calibrator(method, top, ok, min_count)
    level_cal = fit_calibrator(method, lvl, lvl_ok, min_count)
    settings = dataclasses.replace(settings, calibration_x=leaf_cal.x, calibration_y=leaf_cal.y,
                                   level_calibration_x=level_cal.x, level_calibration_y=level_cal.y,
                                   level_threshold=level_target if level_target is not None else target,
                                   dispatch_on=dispatch_on, route_calibration_x=(), route_calibration_y=(),
                                   auto_threshold=0.0)
    # The route confidence before its own calibration (dispatch_on = unit), against what it must predict.
    raw = outcomes(run, decide(run, settings), dispatch_on)
    usable = raw.candidate & (np.array([g is not None for g in run.gold_unit]) if dispatch_on == "unit"
                              else np.ones(len(run.docs), bool))
    route_cal = None
    if dispatch_on == "unit":
        route_cal = fit_calibrator(method, raw.confidence[usable], raw.correct[usable], min_count)
        settings = dataclasses.replace(settings, route_calibration_x=route_cal.x, route_calibration_y=route_cal.y)
        calibrated = route_cal(raw.confidence)
    else:
        calibrated = raw.confidence
    threshold = least_threshold(calibrated[usable], raw.correct[usable], target, min_auto)
    settings = dataclasses.replace(settings, auto_threshold=threshold)
    after = outcomes(run, decide(run, settings), dispatch_on).figures
    route = {"rules_weight": rules_weight, "auto_threshold": threshold, "dispatch_on": dispatch_on,
             "calibration_x": list(leaf_cal.x), "calibration_y": list(leaf_cal.y),
             "level_calibration_x": list(level_cal.x), "level_calibration_y": list(level_cal.y),
             "level_threshold": settings.level_threshold,
             "route_calibration_x": list(route_cal.x) if route_cal else [],
             "route_calibration_y": list(route_cal.y) if route_cal else []}
    report = {
        "rules_weight": rules_weight, "rules_weight_logp": {str(k): v for k, v in rw_scores.items()},
        "auto_threshold": threshold, "orders": len(run.docs),
        "ece_cv": {"category": cv_ece(method, top, ok, folds, min_count),
                   "level": cv_ece(method, lvl, lvl_ok, folds, min_count),
                   **({"route": cv_ece(method, raw.confidence[usable], raw.correct[usable], folds, min_count)}
                      if dispatch_on == "unit" else {})},
        "before": before, "after": after,
    }
    return route, report


def calibrate_model(dispatchers: dict[str, Any], examples: Sequence, **kw) -> tuple[dict[str, dict], dict[str, dict]]:
    """:func:`calibrate_profile` for each profile (``{name: Dispatcher}``): (route keys, reports) by profile."""
    routes, reports = {}, {}
    for name, dispatcher in dispatchers.items():
        routes[name], reports[name] = calibrate_profile(run_profile(dispatcher, examples), **kw)
    return routes, reports


# -- writing ---------------------------------------------------------------------------------------------

def card_section(record: dict[str, Any]) -> str:
    """The model card's calibration section (between markers, replaced on each calibration)."""
    lines = [CARD_BEGIN, "## Calibration", "",
             f"Calibrated on `{record['data']}` (split `{record.get('split') or 'all'}`, {record['orders']} orders, "
             f"sha256 `{record['sha256'][:12]}…`) on {record['date']}: method {record['method']}, dispatch on "
             f"{record['dispatch_on']}, target accuracy {record['target']}.", "",
             "| profile | rules weight | threshold | ECE category (CV) | ECE route (CV) | auto share before → after "
             "| auto accuracy before → after |", "|---|---|---|---|---|---|---|"]
    key = "auto_unit_accuracy" if record["dispatch_on"] == "unit" else "auto_leaf_accuracy"
    for name, rep in record["profiles"].items():
        b, a = rep["before"], rep["after"]
        lines.append(f"| {name} | {rep['rules_weight']} | {rep['auto_threshold']} | {rep['ece_cv']['category']} "
                     f"| {rep['ece_cv'].get('route', '–')} | {b['auto_share']} → {a['auto_share']} "
                     f"| {b.get(key)} → {a.get(key)} |")
    lines += ["", "Figures on the calibration orders themselves (ECE cross-validated); judge the model on "
              "orders it was not calibrated on.", CARD_END]
    return "\n".join(lines) + "\n"


def _with_card_section(card: str, section: str) -> str:
    if CARD_BEGIN in card and CARD_END in card:
        head, rest = card.split(CARD_BEGIN, 1)
        return head + section + rest.split(CARD_END, 1)[1].lstrip("\n")
    return card.rstrip("\n") + "\n\n" + section


def write_calibration(model_dir: str | Path, routes: dict[str, dict], reports: dict[str, dict], *, data: str | Path,
                      split: str | None, method: str, target: float, dispatch_on: str,
                      write_checksums: Callable[[Path], Any], now: dt.datetime | None = None) -> dict[str, Any]:
    """Write the fitted ``routes`` (by profile; ``full`` is the config's own ``route``) into the model
    folder with the record of what it was calibrated on; the folder is replaced as a whole. Returns
    the record."""
    model_dir = Path(model_dir)
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    for name, keys in routes.items():
        if name == "full":
            config.setdefault("route", {}).update(keys)
        else:
            config.setdefault("profiles", {}).setdefault(name, {}).setdefault("route", {}).update(keys)
    orders = next(iter(reports.values()))["orders"] if reports else 0
    record = {"data": Path(data).name, "sha256": sha256_file(Path(data)), "split": split, "orders": orders,
              "method": method, "target": target, "dispatch_on": dispatch_on,
              "date": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
              "profiles": reports}
    config["calibration"] = {k: v for k, v in record.items() if k != "profiles"} | {
        "profiles": {n: {"auto_threshold": r["auto_threshold"], "rules_weight": r["rules_weight"],
                         "ece_cv": r["ece_cv"], "after": r["after"]} for n, r in reports.items()}}
    staging = Path(tempfile.mkdtemp(prefix=f".{model_dir.name}.calibrate.", dir=model_dir.parent))
    try:
        shutil.copytree(model_dir, staging, dirs_exist_ok=True)
        (staging / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        card = staging / "MODEL_CARD.md"
        text = card.read_text(encoding="utf-8") if card.exists() else ""
        card.write_text(_with_card_section(text, card_section(record)), encoding="utf-8")
        write_checksums(staging)
        replace_dir(staging, model_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return record

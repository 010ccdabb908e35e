"""Evaluate a model directory on labeled orders: one report per head.

``evaluate_examples(dispatcher, examples)``: ``examples`` carry ``id``, ``text`` and gold labels
(``leaf`` catalog code, ``appeal``, ``district``/``street`` 12-digit codes, ``unit`` id; None where
unknown). Heads: ``category`` (leaf), ``category_l1``, ``category_l2``, ``appeal_type``,
``response_level``, ``district``, ``street``, ``unit``; each with accuracy, macro-F1, per-class F1,
the most confused pairs, expected calibration error and the coverage-accuracy curve
(``dispatch_nlp.lifecycle.metrics.head_report``), plus the share routed automatically and its accuracy.
``category`` and its levels also carry ``coverage_at_accuracy``: the share of orders that could be sent
automatically at 97/98/99 % accuracy, ranked by the calibrated category confidence (the best threshold
for these orders, so an upper bound for the model's own threshold, which ``routing`` measures).
"""

from __future__ import annotations

from dispatch_nlp.lifecycle.metrics import head_report
from dispatch_nlp.types import WorkOrder


def _prefix(code: str | None, n: int) -> str | None:
    return code[:n] if code else None


def evaluate_examples(dispatcher, examples, batch_size: int = 64) -> dict:
    catalog = dispatcher.catalog
    orders = [WorkOrder(text=e.text, id=e.id) for e in examples]
    decisions = dispatcher.dispatch_batch(orders, batch_size=batch_size)
    gold_leaf = [e.leaf for e in examples]
    pred_leaf = [d.category.code for d in decisions]
    conf = [d.category.confidence for d in decisions]
    heads = {
        "category": head_report(gold_leaf, pred_leaf, conf),
        "category_l1": head_report([_prefix(c, 2) for c in gold_leaf], [_prefix(c, 2) for c in pred_leaf], conf),
        "category_l2": head_report([_prefix(c, 4) for c in gold_leaf], [_prefix(c, 4) for c in pred_leaf], conf),
        "response_level": head_report(
            [catalog.get(c).response_level if c and c in catalog else None for c in gold_leaf],
            [d.response_level.level for d in decisions]),
    }
    if any(e.appeal for e in examples):
        heads["appeal_type"] = head_report([e.appeal for e in examples],
                                           [d.appeal_type.label if d.appeal_type else None for d in decisions],
                                           [d.appeal_type.confidence if d.appeal_type else 0.0 for d in decisions])
    if any(e.district for e in examples):
        jconf = [d.jurisdiction.confidence for d in decisions]
        heads["district"] = head_report([e.district for e in examples],
                                        [d.jurisdiction.district.code if d.jurisdiction.district else None
                                         for d in decisions], jconf)
        heads["street"] = head_report([e.street for e in examples],
                                      [d.jurisdiction.street.code if d.jurisdiction.street else None
                                       for d in decisions], jconf)
    if any(e.unit for e in examples):
        heads["unit"] = head_report([e.unit for e in examples],
                                    [d.units.primary.id if d.units.primary else None for d in decisions],
                                    [d.confidence for d in decisions])
    auto = [i for i, d in enumerate(decisions) if d.route == "dispatch"]
    auto_correct = [gold_leaf[i] == pred_leaf[i] for i in auto if gold_leaf[i]]
    # A model that dispatches on the unit (route dispatch_on = unit) is right when the unit is.
    auto_unit = [bool(decisions[i].units.primary and decisions[i].units.primary.id == examples[i].unit)
                 for i in auto if examples[i].unit]
    heads["routing"] = {
        "n": len(decisions),
        "auto_dispatch_share": round(len(auto) / max(len(decisions), 1), 4),
        "auto_dispatch_category_accuracy": round(sum(auto_correct) / len(auto_correct), 4) if auto_correct else None,
        "auto_dispatch_unit_accuracy": round(sum(auto_unit) / len(auto_unit), 4) if auto_unit else None,
        "routes": {r: sum(d.route == r for d in decisions) for r in sorted({d.route for d in decisions})},
    }
    return heads

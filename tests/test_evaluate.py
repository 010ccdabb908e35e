"""evaluate_examples' routing figures: what the automatically dispatched orders got right."""

from dataclasses import replace
from types import SimpleNamespace

from dispatch_nlp.lifecycle.evaluate import evaluate_examples


class _AllAutomatic:
    """The shipped model's decisions, every one routed automatically (the figures count those)."""

    def __init__(self, dispatcher):
        self.inner, self.catalog = dispatcher, dispatcher.catalog

    def dispatch_batch(self, orders, batch_size=64):
        return [replace(d, route="dispatch") for d in self.inner.dispatch_batch(orders, batch_size=batch_size)]


def test_automatic_orders_are_scored_on_their_unit_as_well_as_their_category(dispatcher):
    texts = ["朝阳区望京街道望京西园三区小区连续三天停水，希望尽快恢复供水。",
             "海淀区中关村街道某小区门口道路破损，坑洼积水，要求修复。"]
    decisions = dispatcher.dispatch_batch(texts)
    assert all(d.units.primary is not None for d in decisions)
    examples = [SimpleNamespace(text=t, id=str(i), leaf=d.category.code, appeal=None, district=None, street=None,
                                unit=d.units.primary.id if i == 0 else "no-such-unit")
                for i, (t, d) in enumerate(zip(texts, decisions))]
    routing = evaluate_examples(_AllAutomatic(dispatcher), examples)["routing"]
    assert routing["auto_dispatch_share"] == 1.0
    assert routing["auto_dispatch_category_accuracy"] == 1.0
    assert routing["auto_dispatch_unit_accuracy"] == 0.5

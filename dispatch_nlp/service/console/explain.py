"""One order, explained for an operator: ``explain(dispatcher, order)`` runs the dispatcher's stages on
the order and returns ``(decision, view)`` where ``view`` is a JSON-ready dict with

- ``text``: the text the model read, normalized and with personal data masked (``<手机号>``...),
  the title first when there is one (``title_len`` characters of it, with the line break);
- ``marks``: spans of that text to highlight, each ``{start, end, kind, label}``; kinds are
  ``keyword`` (a catalog keyword of the decided category or one of its parents), ``other_keyword``
  (a keyword of another category), ``place`` (the place that decided the jurisdiction),
  ``other_place`` (another place mention), ``emergency``, ``exclusion`` and ``pii`` (a masked piece).

Offsets are in ``text`` (the masked text), so the page never needs the raw text back.
"""

from __future__ import annotations

from typing import Any

from dispatch_nlp.pipeline.component import timed
from dispatch_nlp.pipeline.doc import Doc
from dispatch_nlp.types import DispatchDecision, WorkOrder


def _ancestors(code: str | None) -> set[str]:
    return {code[:n] for n in (2, 4, 6) if code and len(code) >= n}


def explain(dispatcher: Any, order: WorkOrder) -> tuple[DispatchDecision, dict[str, Any]]:
    """The decision for ``order`` (the same as ``dispatcher.dispatch`` gives) and the view above."""
    docs = [Doc.from_order(order)]
    for stage in dispatcher.stages:
        docs = timed(stage, docs, 1)
    doc = docs[0]
    decision = dispatcher.router_for(doc).decide(doc)  # a cascade's sure order: its fast profile's router
    return decision, {"text": doc.text, "title_len": _title_len(doc), "marks": marks(doc, decision)}


def _title_len(doc: Doc) -> int:
    """Characters of ``doc.text`` that come from the title (0 without one)."""
    if not doc.title_len or doc.mapped is None:
        return doc.title_len
    return sum(1 for o in doc.mapped.offsets if o < doc.title_len)


def marks(doc: Doc, decision: DispatchDecision) -> list[dict[str, Any]]:
    """The highlight spans of ``doc.text`` (non-overlapping, in text order; a decisive mark wins over
    an overlapping lesser one)."""
    decided = _ancestors(decision.category.code)
    found: list[tuple[int, dict[str, Any]]] = []  # (priority, mark): lower wins an overlap
    for p in doc.pii:
        found.append((0, {"start": p.masked_start, "end": p.masked_end, "kind": "pii",
                          "label": "已遮蔽的个人信息"}))
    rules = doc.rules
    if rules is not None:
        for m in rules.matches:
            if m.kind in ("emergency", "exclusion"):
                found.append((1, {"start": m.start, "end": m.end, "kind": m.kind,
                                  "label": "紧急线索" if m.kind == "emergency" else "非受理线索"}))
            elif m.code and m.code in decided:
                found.append((2, {"start": m.start, "end": m.end, "kind": "keyword", "label": "类别关键词"}))
            else:
                found.append((5, {"start": m.start, "end": m.end, "kind": "other_keyword",
                                  "label": f"其他类别关键词（{m.code or ''}）"}))
    j = doc.jurisdiction
    if j is not None:
        deciding = j.mention
        for mention in j.mentions:
            is_deciding = deciding is not None and (mention.start, mention.end) == (deciding.start, deciding.end)
            found.append((3 if is_deciding else 4, {"start": mention.start, "end": mention.end,
                                                    "kind": "place" if is_deciding else "other_place",
                                                    "label": "属地依据" if is_deciding else "地名"}))
        if deciding is not None and not any((x.start, x.end) == (deciding.start, deciding.end) for x in j.mentions):
            found.append((3, {"start": deciding.start, "end": deciding.end, "kind": "place", "label": "属地依据"}))
    n = len(doc.text)
    taken = [False] * n
    out = []
    for _, mark in sorted(found, key=lambda pm: (pm[0], pm[1]["start"])):
        s, e = max(0, mark["start"]), min(n, mark["end"])
        if s >= e or any(taken[s:e]):
            continue
        taken[s:e] = [True] * (e - s)
        out.append({**mark, "start": s, "end": e})
    return sorted(out, key=lambda m: m["start"])

"""The supervisor's figures, from the decision log and the corrections store:

- ``hourly``: orders per hour of the last 24 h, split by route;
- ``automatic``: the share of orders dispatched automatically (route ``dispatch``) and how many of those
  an operator corrected afterwards (a correction of the same ``order_id`` in the store whose category,
  unit or division differs from the decision): ``accuracy = 1 - corrected / automatic`` is an upper
  bound of the true accuracy (an uncorrected error stays unseen);
- ``top_categories`` / ``top_places``: the most frequent leaves and streets of the last 24 h with their
  daily mean over the 7 days before;
- ``hot_spots``: category × street pairs whose count in the last 24 h is improbable under the
  baseline: with ``λ`` the pair's daily mean over the previous 7 days (``(n + 0.5) / 7``, so that a pair
  never seen still has a small expected rate), the pair is flagged when ``P(X >= count) < ALPHA`` for
  ``X ~ Poisson(λ)`` and the count is at least ``MIN_HOT``. ``bound`` is the smallest count that
  would be flagged.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from dispatch_nlp.service.console.decision_log import Entry

HOUR, DAY = 3600.0, 86400.0
BASELINE_DAYS = 7
ALPHA = 0.001
MIN_HOT = 3
TOP = 10


def poisson_tail(k: int, lam: float) -> float:
    """``P(X >= k)`` for ``X ~ Poisson(lam)``."""
    if k <= 0:
        return 1.0
    term, cdf = math.exp(-lam), 0.0
    for i in range(k):
        cdf += term
        term *= lam / (i + 1)
    return max(0.0, 1.0 - cdf)


def poisson_bound(lam: float, alpha: float = ALPHA) -> int:
    """The smallest ``k`` with ``P(X >= k) < alpha``: a count at or above it is flagged."""
    k = 0
    while poisson_tail(k, lam) >= alpha:
        k += 1
    return k


def _changed(entry: Entry, c: Any) -> bool:
    """Whether a correction says something else than the decision did."""
    if c.category_code and c.category_code != entry.category_code:
        return True
    if c.category_path and list(c.category_path) != entry.category_path:
        return True
    if c.unit and c.unit != (entry.unit or {}).get("id"):
        return True
    return any(getattr(c, f) and getattr(c, f) != (getattr(entry, f) or {}).get("code") for f in ("district", "street"))


def summarize(entries: list[Entry], corrections: dict[str, Any], now: float) -> dict[str, Any]:
    """All the figures above for the 24 h before ``now`` (``corrections``: latest per order id)."""
    day_start, base_start = now - DAY, now - DAY * (1 + BASELINE_DAYS)
    recent: list[Entry] = []
    base: list[Entry] = []
    per_hour: list[Counter] = [Counter() for _ in range(24)]
    for e in entries:  # one pass: the log may hold a few hundred thousand decisions
        if day_start <= e.at < now:
            recent.append(e)
            per_hour[min(23, int((e.at - day_start) // HOUR))][e.route] += 1
        elif base_start <= e.at < day_start:
            base.append(e)
    hours = [{"start": day_start + h * HOUR, "total": sum(c.values()), "routes": dict(c)}
             for h, c in enumerate(per_hour)]
    auto = [e for e in recent if e.route == "dispatch"]
    checked = [e for e in auto if e.order_id in corrections]
    wrong = [e for e in checked if _changed(e, corrections[e.order_id])]
    names: dict[str, str] = {}
    for e in recent + base:
        if e.category_code:
            names[e.category_code] = " > ".join(e.category_path)
        if e.street:
            names[e.street["code"]] = e.street["name"]
    return {
        "now": now, "orders_24h": len(recent), "orders_baseline": len(base), "hourly": hours,
        "routes_24h": dict(Counter(e.route for e in recent).most_common()),
        "automatic": {"orders": len(auto), "share": round(len(auto) / len(recent), 4) if recent else None,
                      "corrected": len(checked), "corrected_changed": len(wrong),
                      "accuracy_bound": round(1 - len(wrong) / len(auto), 4) if auto else None},
        "corrections_24h": sum(1 for e in recent if e.order_id in corrections),
        "top_categories": _top(Counter(e.category_code for e in recent if e.category_code),
                               Counter(e.category_code for e in base if e.category_code), names),
        "top_places": _top(Counter(e.street["code"] for e in recent if e.street),
                           Counter(e.street["code"] for e in base if e.street), names),
        "hot_spots": hot_spots(recent, base, names),
        "alpha": ALPHA, "min_hot": MIN_HOT, "baseline_days": BASELINE_DAYS,
    }


def _top(now: Counter, before: Counter, names: dict[str, str]) -> list[dict[str, Any]]:
    return [{"code": k, "name": names.get(k, k), "count": n, "baseline_daily": round(before[k] / BASELINE_DAYS, 2)}
            for k, n in sorted(now.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]]


def hot_spots(recent: list[Entry], base: list[Entry], names: dict[str, str]) -> list[dict[str, Any]]:
    """Category × street pairs over their Poisson bound, highest surprise first."""
    def pairs(es: list[Entry]) -> Counter:
        return Counter((e.category_code, e.street["code"]) for e in es if e.category_code and e.street)

    now, before = pairs(recent), pairs(base)
    out = []
    for (cat, street), n in now.items():
        lam = (before[(cat, street)] + 0.5) / BASELINE_DAYS
        bound = max(poisson_bound(lam), MIN_HOT)
        if n >= bound:
            out.append({"category": cat, "category_name": names.get(cat, cat), "street": street,
                        "street_name": names.get(street, street), "count": n, "baseline_daily": round(lam, 3),
                        "bound": bound, "p": poisson_tail(n, lam)})
    return sorted(out, key=lambda h: (h["p"], -h["count"], h["category"], h["street"]))[:TOP]

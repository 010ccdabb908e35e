"""Training of the learned jurisdiction member and the learned unit override.

``fit_jurisdiction(train, dev, gazetteer, out_dir) -> dict``: rows are ``(text, district_code,
street_code)`` (normalized, masked text; 12-digit codes or None).  Writes
``jurisdiction_learned.npz`` into ``out_dir`` and returns the ``"jurisdiction"`` config section
(file names relative to ``out_dir``): the fusion weights and thresholds fitted on ``dev``.

``fit_units(train, dev, out_dir) -> dict``: rows are ``(text, category_code, district_code,
street_code, unit_id)``.  Writes ``units_learned.json`` and returns the ``"units"`` section.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from dispatch_nlp.components.jurisdiction import FusedJurisdiction, GazetteerJurisdiction
from dispatch_nlp.components.jurisdiction.learned import (
    GRAM_MAX,
    TOP_K_DISTRICTS,
    TOP_K_STREETS,
    LearnedJurisdiction,
    iter_grams,
)
from dispatch_nlp.components.jurisdiction.text_member import TEXT_MEMBER_FILE, TextBlendedLearned
from dispatch_nlp.components.members.linear import LinearMember
from dispatch_nlp.knowledge.gazetteer import normalize_code
from dispatch_nlp.pipeline import Doc
from dispatch_nlp.routing.units_learned import UnitModel, text_grams, unit_template
from dispatch_nlp.text.segment import Segmenter
from dispatch_nlp.types import WorkOrder

from .linear import fit_linear

__all__ = ["fit_jurisdiction", "fit_units", "LEARNED_FILE", "UNITS_FILE"]

LEARNED_FILE = "jurisdiction_learned.npz"
UNITS_FILE = "units_learned.json"
MIN_DF = 2
DISTRICT_PURITY = 0.6
STREET_PURITY = 0.5
MAX_GRAMS = 400_000
MAX_DOCS = 300_000


def _labels(gazetteer, district, street) -> tuple[str | None, str | None]:
    """Clean 12-digit (district, street) codes; the district follows from the street when missing."""
    s = normalize_code(street) if street not in (None, "") else None
    if s is not None:
        s = s[:9] + "000"
        div = gazetteer.get(s)
        s = s if div is not None and div.level == "street" else None
    d = normalize_code(district) if district not in (None, "") else None
    if d is not None:
        d = d[:6] + "000000"
    if d is None and s is not None:
        d = s[:6] + "000000"
    if d is not None and gazetteer.get(d) is None:
        d = None
    if s is not None and d is not None and s[:6] != d[:6]:
        s = None  # contradictory labels: trust the district only
    return d, s


def _default_segmenter(gazetteer):
    words = {s for s, _, kind in gazetteer.surfaces() if len(s) >= 2 and kind != "short"}
    return Segmenter(words)


def learn_table(rows, gazetteer) -> LearnedJurisdiction:
    """The gram table and priors from labeled rows ``(text, district, street)``."""
    districts = [d.code for d in gazetteer.districts()]
    streets = [d.code for d in gazetteer.streets()]
    d_index = {c: i for i, c in enumerate(districts)}
    s_index = {c: i for i, c in enumerate(streets)}
    d_prior = np.full(len(districts), 0.5)
    s_prior = np.full(len(streets), 0.1)
    df: Counter = Counter()
    labeled = []
    for text, district, street in rows[:MAX_DOCS]:
        d, s = _labels(gazetteer, district, street)
        if d is None:
            continue
        d_prior[d_index[d]] += 1
        if s is not None:
            s_prior[s_index[s]] += 1
        grams = iter_grams(text or "")
        df.update(grams)
        labeled.append((grams, d_index[d], s_index.get(s) if s else None))
    keep = {g for g, n in df.items() if n >= MIN_DF}
    d_counts: dict[str, Counter] = defaultdict(Counter)
    s_counts: dict[str, Counter] = defaultdict(Counter)
    for grams, di, si in labeled:
        for g in grams & keep:
            d_counts[g][di] += 1
            if si is not None:
                s_counts[g][si] += 1
    entries = []
    for g, dc in d_counts.items():
        d_tot = sum(dc.values())
        top_d = dc.most_common(TOP_K_DISTRICTS)
        sc = s_counts.get(g, Counter())
        s_tot = sum(sc.values())
        top_s = sc.most_common(TOP_K_STREETS)
        pd_ = top_d[0][1] / d_tot
        ps_ = top_s[0][1] / s_tot if s_tot else 0.0
        if not (pd_ >= DISTRICT_PURITY or (s_tot >= MIN_DF and ps_ >= STREET_PURITY)):
            continue
        # Strength as evidence: purity times how much history stands behind it (0: not used).
        st_d = pd_ * math.log1p(d_tot) + len(g) * 1e-3 if pd_ >= DISTRICT_PURITY else 0.0
        st_s = ps_ * math.log1p(s_tot) + len(g) * 1e-3 if s_tot >= MIN_DF and ps_ >= STREET_PURITY else 0.0
        entries.append((max(st_d, st_s), g, top_d, d_tot, top_s, s_tot, st_d, st_s))
    entries.sort(key=lambda e: -e[0])
    entries = entries[:MAX_GRAMS]
    n = len(entries)
    d_idx = np.full((n, TOP_K_DISTRICTS), -1, dtype=np.int32)
    d_cnt = np.zeros((n, TOP_K_DISTRICTS))
    s_idx = np.full((n, TOP_K_STREETS), -1, dtype=np.int32)
    s_cnt = np.zeros((n, TOP_K_STREETS))
    d_tot = np.zeros(n)
    s_tot = np.zeros(n)
    strength = np.zeros(n)
    s_strength = np.zeros(n)
    grams = []
    for i, (_, g, top_d, dt, top_s, stot, st_d, st_s) in enumerate(entries):
        grams.append(g[:GRAM_MAX])
        for j, (k, c) in enumerate(top_d):
            d_idx[i, j], d_cnt[i, j] = k, c
        for j, (k, c) in enumerate(top_s):
            s_idx[i, j], s_cnt[i, j] = k, c
        d_tot[i], s_tot[i], strength[i], s_strength[i] = dt, stot, st_d, st_s
    return LearnedJurisdiction(
        grams=grams, d_idx=d_idx, d_cnt=d_cnt, d_tot=d_tot, s_idx=s_idx, s_cnt=s_cnt, s_tot=s_tot,
        strength=strength, s_strength=s_strength, districts=districts, streets=streets,
        d_prior=d_prior / d_prior.sum(), s_prior=s_prior / s_prior.sum(), alpha=1.0,
    )


def _dev_features(fused: FusedJurisdiction, rows, segmenter, gazetteer):
    feats = []
    for text, district, street in rows:
        d, s = _labels(gazetteer, district, street)
        doc = Doc.from_order(WorkOrder(text=text or ""))
        doc.tokens = segmenter.tokenize(doc.text)
        gev = fused.gaz.evidence(doc)
        lev = fused.learned.predict(doc.text)
        gd, gs = fused.gaz_vectors(gev)
        feats.append((gd, gs, lev.district_logp, lev.street_logp, d, s))
    return feats


def _fit_weights(feats, d_index, s_index):
    """Grid search of the fusion weights maximizing the dev log-likelihood."""
    grid_g = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)
    grid_l = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)

    def ll(weights, level):
        wg, wl = weights
        total = 0.0
        for gd, gs, ld, ls, d, s in feats:
            if level == "d" and d is not None:
                z, y = wg * gd + wl * ld, d_index[d]
            elif level == "s" and s is not None:
                z, y = wg * gs + wl * ls, s_index[s]
            else:
                continue
            m = z.max()
            total += z[y] - m - math.log(np.exp(z - m).sum())
        return total

    best = {}
    for level in ("d", "s"):
        # Ties (a dev set with no gazetteer mention says nothing about wg) go to the larger weights.
        best[level] = max(((g, lw) for g in grid_g for lw in grid_l), key=lambda w: (round(ll(w, level), 6), w))
    return best


def fit_jurisdiction(train, dev, gazetteer, out_dir, *, segmenter=None) -> dict:
    """Learn place strings and priors from ``train``, fit the fusion on ``dev``; see the module doc."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train = [tuple(r) for r in train]
    dev = [tuple(r) for r in dev]
    learned = learn_table(train, gazetteer)
    learned.save(out_dir / LEARNED_FILE)
    config = {"learned": LEARNED_FILE, "mode": "fused", "n_grams": len(learned), "n_train": len(train)}
    segmenter = segmenter or _default_segmenter(gazetteer)
    gaz = GazetteerJurisdiction(gazetteer)
    text_section = _fit_text_member(train, dev, gazetteer, learned, out_dir) if dev else None
    member = learned
    if text_section is not None:
        member = TextBlendedLearned(learned, LinearMember.load(out_dir, TEXT_MEMBER_FILE),
                                    text_section["district_weight"], text_section["street_weight"])
    fused = FusedJurisdiction(gaz, member, config)
    if text_section is not None:
        config["text_member"] = text_section
    if dev:
        feats = _dev_features(fused, dev, segmenter, gazetteer)
        d_index = {c: i for i, c in enumerate(learned.districts)}
        s_index = {c: i for i, c in enumerate(learned.streets)}
        w = _fit_weights(feats, d_index, s_index)
        config["weights"] = {"gaz_district": w["d"][0], "learned_district": w["d"][1],
                             "gaz_street": w["s"][0], "learned_street": w["s"][1]}
        config["abstain_below"] = _fit_abstention(feats, w, d_index)
        config["street_min"] = 0.5
    else:
        config["weights"] = {"gaz_district": 8.0, "learned_district": 1.0, "gaz_street": 8.0, "learned_street": 1.0}
        config["abstain_below"], config["street_min"] = 0.5, 0.5
    return config


TEXT_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _fit_text_member(train, dev, gazetteer, learned, out_dir: Path) -> dict | None:
    """A char n-gram classifier of district and street on the training rows and, per level, the weight
    of its posterior in the mixture with the learned member's that is right most often on dev (ties:
    the smaller weight). None when the rows name fewer than two districts."""
    rows = [(text, *_labels(gazetteer, d, s)) for text, d, s in train]
    rows = [(t, d, s) for t, d, s in rows if d]
    dev_rows = [(text, *_labels(gazetteer, d, s)) for text, d, s in dev]
    dev_rows = [(t, d, s) for t, d, s in dev_rows if d]
    if len({d for _, d, _ in rows}) < 2 or not dev_rows:
        return None
    heads = {"district": [d for _, d, _ in rows], "street": [s or "" for _, _, s in rows]}
    dev_heads = {"district": [d for _, d, _ in dev_rows], "street": [s or "" for _, _, s in dev_rows]}
    text = fit_linear([t for t, _, _ in rows], heads, [t for t, _, _ in dev_rows], dev_heads)
    text.save(out_dir / TEXT_MEMBER_FILE)
    section: dict = {"file": TEXT_MEMBER_FILE}
    probe = TextBlendedLearned(learned, text, 0.0, 0.0)
    levs = [learned.predict(t) for t, _, _ in dev_rows]
    probs = [probe.text_probs(t) for t, _, _ in dev_rows]
    for head, labels, gold_at in (("district", learned.districts, 1), ("street", learned.streets, 2)):
        index = {c: i for i, c in enumerate(labels)}
        scored = []
        for w in TEXT_WEIGHTS:
            probe.weights[head] = w
            right = n = 0
            for row, lev, p in zip(dev_rows, levs, probs):
                gold = row[gold_at]
                if not gold or gold not in index or head not in p:
                    continue
                logp = lev.district_logp if head == "district" else lev.street_logp
                n += 1
                right += int(np.argmax(probe._mix(logp, p[head], head))) == index[gold]
            scored.append((right / n if n else 0.0, -w))
        acc, neg_w = max(scored)
        section[f"{head}_weight"] = -neg_w
        section.setdefault("dev_accuracy", {})[head] = round(acc, 4)
    return section


def _fit_abstention(feats, w, d_index, target: float = 0.97) -> float:
    """The least confidence threshold at which the district answers kept on dev are ``target`` right."""
    wg, wl = w["d"]
    scored = []
    for gd, _gs, ld, _ls, d, _s in feats:
        z = wg * gd + wl * ld
        p = np.exp(z - z.max())
        p /= p.sum()
        k = int(np.argmax(p))
        scored.append((float(p[k]), d is not None and d_index[d] == k))
    for thr in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8):
        kept = [ok for p, ok in scored if p >= thr]
        if kept and sum(kept) / len(kept) >= target:
            return thr
    return 0.8


def fit_units(train, dev, out_dir, *, override_min: float = 0.7, min_support: float = 5.0) -> dict:
    """Unit templates per category, (category, district) and (category, n-gram); see the module doc."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    glob: Counter = Counter()
    by_cat: dict[str, Counter] = defaultdict(Counter)
    by_cd: dict[str, Counter] = defaultdict(Counter)
    by_cg: dict[str, Counter] = defaultdict(Counter)
    for text, cat, district, street, unit in train:
        if not cat or not unit:
            continue
        t = unit_template(str(unit), district, street)
        glob[t] += 1
        for k in range(2, len(cat) + 1, 2):
            by_cat[cat[:k]][t] += 1
        if district:
            by_cd[f"{cat}|{str(district)[:6]}"][t] += 1
        for g in text_grams(text or ""):
            by_cg[f"{cat}|{g}"][t] += 1
    # Keep only n-grams that point at another unit than their category's majority, purely.
    grams = {}
    for key, c in by_cg.items():
        n = sum(c.values())
        t, top = c.most_common(1)[0]
        cat = key.split("|", 1)[0]
        if n >= 3 and top / n >= 0.9 and by_cat[cat].most_common(1)[0][0] != t:
            grams[key] = dict(c)
    model = UnitModel({"global": dict(glob), "by_category": {k: dict(v) for k, v in by_cat.items()},
                       "by_category_district": {k: dict(v) for k, v in by_cd.items()},
                       "by_category_gram": grams}, override_min=override_min, min_support=min_support)
    model.save(out_dir / UNITS_FILE)
    config = {"file": UNITS_FILE, "override_min": override_min, "min_support": min_support}
    rows = [r for r in dev if r[1] and r[4]]
    if rows:
        right = 0
        for text, cat, district, street, unit in rows:
            pred = model.predict(text, cat, district, street)
            right += pred is not None and pred.template == unit_template(str(unit), district, street)
        config["dev_template_accuracy"] = round(right / len(rows), 4)
    return config

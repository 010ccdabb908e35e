"""The model card: what a hotline centre's engineers need to know about a model directory."""

from __future__ import annotations

from pathlib import Path

from dispatch_nlp.dispatcher import apply_profile


def _fmt(v) -> str:
    return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def _coverage(rep: dict) -> str:
    cov = rep.get("coverage_at_accuracy") or {}
    return " / ".join(_fmt(cov.get(k)) for k in ("0.97", "0.98", "0.99")) if cov else "–"


def _profiles_section(metrics: dict, config: dict) -> list[str]:
    """Both profiles side by side: what the encoder buys on the test split."""
    profiles = metrics.get("profiles") or {}
    if len(profiles) < 2:
        return []
    names = sorted(profiles, key=lambda n: n != metrics.get("default_profile"))
    lines = ["", "## Profiles", "",
             f"`Dispatcher.load()` runs the `{metrics.get('default_profile')}` profile; "
             "`Dispatcher.load(profile=...)` / `--profile` picks the other. fast = linear member + catalog rules; "
             "full = every member. Each has its own fusion, calibration and threshold fitted on held-out orders.", "",
             "| head | " + " | ".join(f"{n} accuracy" for n in names) + " |",
             "| --- |" + " --- |" * len(names)]
    heads = [h for h in profiles[names[0]]["test"] if h != "routing"]
    for h in heads:
        lines.append(f"| {h} | " + " | ".join(_fmt(profiles[n]["test"].get(h, {}).get("accuracy")) for n in names) + " |")
    lines.append("")
    for n in names:
        r = profiles[n]["test"].get("routing") or {}
        f = profiles[n].get("fusion", {})
        lines.append(f"- {n}: weights {f.get('weights')} ({f.get('fusion')}), rules weight {f.get('rules_weight')}, "
                     f"threshold {f.get('auto_threshold')}; routed automatically {_fmt(r.get('auto_dispatch_share'))} "
                     f"of test orders, category accuracy among them {_fmt(r.get('auto_dispatch_category_accuracy'))}")
    return lines


def _labels_lines(labels: dict | None) -> list[str]:
    """What ``--catalog-from-labels`` did to the label paths (merged spellings, collapsed branches, skipped rows)."""
    if not labels:
        return []
    def some(d: dict) -> str:
        return "; ".join(f"{k} ({v})" for k, v in list(d.items())[:10]) or "none"
    return [f"- Labels: {labels.get('paths')} catalog paths. Spellings merged: "
            f"{'; '.join(f'{k} → {v}' for k, v in labels.get('spellings_merged', {}).items()) or 'none'}. "
            f"Branches trained at their own level (deeper rows merged): {some(labels.get('collapsed_to_level', {}))}. "
            f"Cut to three levels: {some(labels.get('cut_to_three_levels', {}))}. "
            f"Blank first level given its one parent: {some(labels.get('blank_first_level_filled', {}))}. "
            f"Rows skipped ({labels.get('skipped_total', 0)}; a shallow label of a deeper branch): "
            f"{some(labels.get('skipped_rows', {}))}."]


def _history_lines(config: dict) -> list[str]:
    """What the model learned from history besides the category: units, the jurisdiction text member, places."""
    lines = []
    units = config.get("units") or {}
    if units:
        lines.append(f"- Units: learned from history (`{units.get('file')}`, dev template accuracy "
                     f"{units.get('dev_template_accuracy')}); the catalog rule's unit confidence is its dev accuracy "
                     f"{units.get('rule_confidence', 'not measured (1.0)')}"
                     + (f"; {units['history_units']} units defined by the history's unit column (`units.tsv`)"
                        if "history_units" in units else "")
                     + (f"; routing by unit confidence (at least {config.get('route', {}).get('unit_auto_threshold', 0.8)})"
                        if config.get("route", {}).get("route_confidence") == "unit" else "") + ".")
    text = (config.get("jurisdiction") or {}).get("text_member")
    if text:
        lines.append(f"- Jurisdiction: a char n-gram classifier mixed into the learned member (weights district "
                     f"{text.get('district_weight')}, street {text.get('street_weight')}; dev accuracy "
                     f"{text.get('dev_accuracy')}).")
    gaz = (config.get("resources") or {}).get("gazetteer")
    if gaz == "none":
        lines.append("- Places: no gazetteer (trained with --gazetteer none or a catalog from labels without one).")
    return lines


def _recipe_lines(metrics: dict) -> list[str]:
    """How the labels were used: cross-fitted (every member refit on train+dev) or a dev split."""
    recipe = metrics.get("recipe") or {}
    data, fusion = metrics.get("data", {}), metrics.get("fusion", {})
    if not recipe:
        return []
    if recipe.get("recipe") == "cross-fitted":
        lines = [f"- Labels used: every labeled order of the train and dev splits ({_fmt(fusion.get('n'))} for the "
                 f"fusion): {recipe.get('folds')}-fold cross-fitting gives out-of-fold member probabilities, on which "
                 "the fusion, its calibration and the automatic-dispatch threshold are fitted; the shipped linear "
                 f"member is refit on all of them (C {recipe.get('linear', {}).get('C')}). The test split "
                 f"({data.get('test')} orders) is used only for the figures below."]
        if "encoder_s" in (metrics.get("timings") or {}):
            lines.append("- The encoder member is fitted once on the train split (at most --encoder-max-train orders; "
                         "not refit: its cost on a CPU); its held-out orders are the labeled ones it did not see.")
    else:
        lines = ["- Labels used: members fitted on the train split, the fusion on the dev split (--folds 0)."]
    if fusion.get("fusion") == "stacked":
        lines.append(f"- Fusion: stacked (a re-scorer of each order's candidate leaves from the members' probabilities, "
                     f"ranks and agreement and the catalog rules); held-out accuracy {_fmt(fusion.get('oof_accuracy', fusion.get('dev_accuracy')))} "
                     f"against {_fmt(fusion.get('weights_dev_accuracy'))} for the best weight grid; gold leaf among the "
                     f"candidates for {_fmt(fusion.get('candidate_recall'))} of orders.")
    return lines


def write_model_card(model_dir: Path, metrics: dict, config: dict, *, data_note: str | None = None,
                     latency: dict | None = None) -> Path:
    data = metrics.get("data", {})
    profile = metrics.get("default_profile")
    # The header describes what Dispatcher.load() runs: the default profile's members and threshold.
    run_cfg, _ = apply_profile(config, profile or "full", model_dir)
    clf = run_cfg.get("classifier", {})
    lines = [
        f"# Model card: dispatch_nlp {metrics.get('model_version')}",
        "",
        f"- Catalog: {config.get('resources', {}).get('catalog')} (version {metrics.get('catalog_version')})",
        f"- Created: {config.get('created')}",
        *([f"- Default profile: {profile} (of {', '.join(['full', *sorted(config.get('profiles', {}))])}; see Profiles)"]
          if profile else []),
        f"- Members{' (' + profile + ')' if profile else ''}: {', '.join(sorted(clf.keys() - {'weights', 'fusion', 'stacker'}))}; "
        f"weights {clf.get('weights')} ({clf.get('fusion', 'mean')} fusion); rules weight "
        f"{run_cfg.get('route', {}).get('rules_weight')}",
        f"- Automatic dispatch threshold: {run_cfg.get('route', {}).get('auto_threshold')} "
        f"(target accuracy {metrics.get('fusion', {}).get('target_precision')} on held-out orders, their coverage "
        f"{metrics.get('fusion', {}).get('dev_auto_coverage')})",
        "",
        "## Data",
        data_note or f"Trained on `{data.get('table')}`.",
        "",
        f"- Rows read {data.get('rows')}, unreadable {data.get('bad_rows')}, empty {data.get('empty')}, "
        f"exact duplicates dropped {data.get('exact_duplicates')}, near duplicates dropped from dev/test "
        f"{data.get('near_duplicates_dropped')}, handling trails cut {data.get('trails_cut')}.",
        f"- Split: {data.get('split_method')}: train {data.get('train')}, dev {data.get('dev')}, test {data.get('test')}.",
        *_recipe_lines(metrics),
        *_labels_lines(data.get("labels")),
        *_history_lines(config),
        "",
        f"## Test metrics (per head{', profile ' + metrics['default_profile'] if metrics.get('profiles') else ''})",
        "",
        "| head | n | accuracy | macro-F1 | ECE | accuracy of the most confident half | share at 97 / 98 / 99 % accuracy |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for head, rep in metrics.get("test", {}).items():
        if head == "routing" or not isinstance(rep, dict) or "accuracy" not in rep:
            continue
        lines.append(f"| {head} | {rep.get('n')} | {_fmt(rep.get('accuracy'))} | {_fmt(rep.get('macro_f1'))} | "
                     f"{_fmt(rep.get('ece'))} | {_fmt(rep.get('accuracy_at_half_coverage'))} | {_coverage(rep)} |")
    routing = metrics.get("test", {}).get("routing", {})
    if routing:
        lines += ["", f"Routed automatically: {_fmt(routing.get('auto_dispatch_share'))} of test orders, with category "
                      f"accuracy {_fmt(routing.get('auto_dispatch_category_accuracy'))} among them. Routes: {routing.get('routes')}."]
    lines += _profiles_section(metrics, config)
    if latency:
        lines += ["", "## Latency", "", *(f"- {k}: {v}" for k, v in latency.items())]
    lines += ["", "## Timings", "", *(f"- {k}: {v}" for k, v in metrics.get("timings", {}).items()), ""]
    path = model_dir / "MODEL_CARD.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path

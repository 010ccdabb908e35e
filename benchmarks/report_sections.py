"""The sections of ``REPORT.md``: each takes the harness result dict (a few also the plot file
names) and returns the section's Markdown lines; ``render`` puts them together into ``REPORT.md``."""

from __future__ import annotations

import json

from .report_format import (
    ENCODER_VARIANTS,
    EXPECTED_VARIANTS,
    HEAD_ORDER,
    _get,
    _lengths,
    _stages,
    fmt,
    pct_fmt,
    skipped_variants,
    table,
)


# -- sections -------------------------------------------------------------------------------------
def _machine(result: dict) -> list[str]:
    m = result.get("machine") or {}
    libs = m.get("libraries") or {}
    threads = m.get("threads") or {}
    rows = [
        ["CPU", m.get("cpu_model", "unknown")],
        ["cores", f"{m.get('usable_cores')} usable of {m.get('cpu_count')}"],
        ["CPU flags", ", ".join(m.get("cpu_flags") or []) or "none of the listed"],
        ["memory", fmt(m.get("memory_gib"), 1, " GiB")],
        ["Python, platform", f"{m.get('python')}, {m.get('platform')}"],
        ["ONNX Runtime intra-op threads", fmt(threads.get("onnxruntime_intra_op"))
         + (f" (DISPATCH_NLP_THREADS={threads['DISPATCH_NLP_THREADS']})" if threads.get("DISPATCH_NLP_THREADS") else "")],
        ["load average (1, 5, 15 min) at start", ", ".join(fmt(x, 2) for x in m.get("load_average_start") or [])],
        ["load average at end", ", ".join(fmt(x, 2) for x in m.get("load_average_end") or []) or "–"],
    ]
    out = ["## Machine", ""] + table(["", ""], rows, "ll")
    out.append("Libraries: " + ", ".join(f"{k} {v}" for k, v in libs.items() if v)
               + (" (not installed: " + ", ".join(k for k, v in libs.items() if not v) + ")"
                  if any(not v for v in libs.values()) else "") + ".")
    load = (m.get("load_average_start") or [0])[0]
    cores = m.get("usable_cores") or m.get("cpu_count") or 1
    if load and load > 0.5 * cores:
        out.append("")
        out.append(f"**The machine was busy** (1-minute load {load:.2f} on {cores} cores when the run started): "
                   "absolute times are inflated; the ratios, measured round robin within this run, hold better.")
    return out + [""]


def _headline(result: dict) -> list[str]:
    lat = result.get("latency") or {}
    lengths = _lengths(lat)
    mid = "300" if "300" in lengths else (lengths[len(lengths) // 2] if lengths else None)
    rows = []
    if mid:
        for key, v in lat.items():
            e2e = _get(v, "lengths", mid, "end_to_end_ms") or {}
            rows.append([f"latency, {v.get('label', key)}, {mid} chars (p50 / p99)",
                         f"{fmt(e2e.get('p50'), 1)} / {fmt(e2e.get('p99'), 1)} ms"])
    for name, per in (result.get("latency_ratios") or {}).items():
        if mid and mid in per and per[mid].get("encoder_speedup"):
            rows.append([f"speed-up, {name.replace('_', ' ')}, {mid} chars (encoder member p50)",
                         f"{fmt(per[mid]['encoder_speedup'], 2)}×"])
    runs = _get(result, "batch", "runs") or []
    if runs:
        best = max(runs, key=lambda r: r.get("orders_per_s_steady") or r.get("orders_per_s") or 0)
        rows.append([f"batch throughput, best (workers {best['workers']}, batch {best['batch_size']})",
                     f"{fmt(best.get('orders_per_s'))} orders/s ({fmt(best.get('orders_per_s_steady'))} without start-up)"])
    heads = _get(result, "accuracy", "heads") or {}
    for h in ("category", "appeal_type", "district", "street", "unit"):
        if isinstance(heads.get(h), dict) and heads[h].get("accuracy") is not None:
            rows.append([f"accuracy, {h} (test split, n={heads[h].get('n')})", pct_fmt(heads[h]["accuracy"])])
    routing = heads.get("routing") or {}
    if routing.get("auto_dispatch_share") is not None:
        rows.append(["dispatched automatically / category accuracy of those",
                     f"{pct_fmt(routing['auto_dispatch_share'])} / {pct_fmt(routing.get('auto_dispatch_category_accuracy'))}"])
    full = _get(result, "accuracy_full_profile", "heads") or {}
    if full:
        r = full.get("routing") or {}
        rows.append([f"profile full: accuracy, category (n={_get(full, 'category', 'n')}) / dispatched automatically "
                     "/ category accuracy of those",
                     f"{pct_fmt(_get(full, 'category', 'accuracy'))} / {pct_fmt(r.get('auto_dispatch_share'))} / "
                     f"{pct_fmt(r.get('auto_dispatch_category_accuracy'))}"])
    mem = result.get("memory") or {}
    if mem:
        rows.append(["default model load time (fresh process)", fmt(mem.get("load_s"), 2, " s")])
        rows.append([f"peak RSS (load + {mem.get('orders')} orders)", fmt(mem.get("peak_rss_mib"), 0, " MiB")])
    size = result.get("model_size") or {}
    if size:
        rows.append(["model size on disk", fmt(size.get("total_mib"), 1, " MiB")])
    tr = result.get("training") or {}
    for name in ("linear", "linear_shipped", "student"):
        spt = _get(tr, name, "seconds_per_1000")
        if spt is not None:
            rows.append([f"training time per 1,000 orders, {name.replace('_', ' ')}", fmt(spt, 1, " s")])
    if not rows:
        return []
    return ["## Headline", ""] + table(["measure", "value"], rows, "lr")


def _latency(result: dict) -> list[str]:
    lat = result.get("latency") or {}
    if not lat:
        return ["## Latency", "", "Not measured in this run.", ""]
    prof = result.get("profile") or {}
    model = result.get("model") or {}
    out = ["## Latency of one order", "",
           f"One order at a time through `Dispatcher.dispatch`, up to {prof.get('reps')} timed calls per variant and "
           f"length after {prof.get('warmup')} warm-up call(s), variants round robin (one call each in turn) so drift "
           "hits them alike"
           + ("; the torch eager variants have a round of their own, after the others (interleaved with ONNX Runtime "
              "calls, torch's busy-waiting OpenMP threads starve the runtime's on few cores)"
              if any(v.get("group") == "torch" for v in lat.values()) else "")
           + (f"; a variant leaves the round once it has {prof.get('min_reps')} calls and has spent "
              f"{fmt(prof.get('variant_budget_s'), 0)} s in them (the slow torch variants), so look at `n`, and read "
              "p99 of a small `n` as the worst call seen" if prof.get("variant_budget_s") else "")
           + ". Orders are generated test orders cut or joined to exactly the length. Times are "
           "milliseconds of wall time; stage times are the pipeline's own `timings_ms`; the member columns "
           "add up the time spent inside each classifier member per order."
           + (f" The encoder sees at most {model.get('encoder_max_len_tokens')} tokens: longer orders are "
              "truncated before it." if model.get("encoder_max_len_tokens") and
              any(k in lat for k in ENCODER_VARIANTS) else ""), ""]
    calls = {}
    for v in lat.values():
        for node in v.get("lengths", {}).values():
            for name, c in (node.get("member_calls_per_order") or {}).items():
                calls[name] = max(calls.get(name, 0), c)
    if any(c > 1 for c in calls.values()):
        out += [f"Note: the classifier stage calls each member once per head it serves, so every member runs "
                f"{max(calls.values())} times per order ({', '.join(f'{k}: {c}' for k, c in sorted(calls.items()))} "
                "calls); the member times below include all calls.", ""]
    stages = _stages(lat)
    for length in _lengths(lat):
        base = _get(lat, "rules", "lengths", length, "end_to_end_ms", "p50")
        ref_key = "linear" if "linear" in lat else None
        ref = _get(lat, ref_key, "lengths", length, "end_to_end_ms", "p50") if ref_key else None
        rows, srows = [], []  # end to end, per stage
        for key, v in lat.items():
            node = v.get("lengths", {}).get(length)
            if not node:
                continue
            e2e = node.get("end_to_end_ms") or {}
            members = node.get("members_ms") or {}
            rows.append([f"{v.get('label', key)} (`{key}`)", e2e.get("n"), fmt(e2e.get("p50"), 2), fmt(e2e.get("p95"), 2),
                         fmt(e2e.get("p99"), 2),
                         fmt(e2e["p50"] / ref, 2) + "×" if ref and e2e.get("p50") else "–",
                         fmt(_get(members, "linear", "p50"), 2), fmt(_get(members, "encoder", "p50"), 2)])
            st = node.get("stages_ms") or {}
            srows.append([f"`{key}`"] + [f"{fmt(_get(st, s, 'p50'), 2)} / {fmt(_get(st, s, 'p99'), 2)}" for s in stages])
        out += [f"### {length} characters", ""]
        out += table(["variant", "n", "p50", "p95", "p99", "p50 ÷ linear-only p50", "linear member p50",
                      "encoder member p50"], rows)
        if base:
            out += [f"Rules only (no classifier) p50: {fmt(base, 2)} ms.", ""]
        out += ["Per stage, p50 / p99 (ms):", ""]
        out += table(["variant"] + stages, srows)
    ratios = result.get("latency_ratios") or {}
    if ratios:
        out += ["### Ratios (p50 of the slower ÷ p50 of the faster, this run)", ""]
        rows = []
        for name, per in ratios.items():
            for length, r in sorted(per.items(), key=lambda kv: int(kv[0])):
                rows.append([name.replace("_", " "), length, fmt(r.get("encoder_speedup"), 2) + "×"
                             if r.get("encoder_speedup") else "–",
                             fmt(r.get("e2e_speedup"), 2) + "×" if r.get("e2e_speedup") else "–"])
        out += table(["comparison", "chars", "encoder member", "end to end"], rows, "lrrr")
    notes = [(k, v["note"]) for k, v in lat.items() if v.get("note")]
    if notes:
        out += ["Variant notes:", ""] + [f"- `{k}`: {n}" for k, n in notes] + [""]
    return out


def _batch(result: dict) -> list[str]:
    b = result.get("batch") or {}
    runs = b.get("runs") or []
    if not runs:
        return ["## Batch throughput", "", "Not measured in this run.", ""]
    rows = [[r["workers"], r["batch_size"], r.get("chunk_size"), r.get("rows"), fmt(r.get("seconds"), 2),
             fmt(r.get("orders_per_s")), fmt(r.get("orders_per_s_steady")), r.get("errors")] for r in runs]
    out = ["## Batch throughput", "",
           f"{b.get('rows')} generated orders (mean {fmt(b.get('mean_chars'))} characters). {b.get('note', '')}. "
           "Start-up per worker count (1-row input): "
           + ", ".join(f"{w} worker(s) {fmt(s, 2)} s" for w, s in (b.get("startup_s") or {}).items()) + ".", ""]
    out += table(["workers", "batch size", "chunk", "rows", "seconds", "orders/s", "orders/s without start-up",
                  "errors"], rows)
    return out


def _accuracy(result: dict, plot_files: dict) -> list[str]:
    acc = result.get("accuracy") or {}
    heads = acc.get("heads") or {}
    if not heads:
        return ["## Accuracy", "", "Not measured in this run.", ""]
    data = acc.get("data") or {}
    out = ["## Accuracy per head", "",
           f"The shipped model on the test split of the generated corpus (`{_get(result, 'corpus', 'command')}`: "
           f"splits {data.get('splits')}; the test split holds families of templates no training order came from; "
           f"{pct_fmt(acc.get('keyword_free_share'))} of its orders name no catalog keyword). {acc.get('test_orders')} "
           f"test orders, scored in {fmt(acc.get('seconds'))} s. ECE: expected calibration error over 10 bins; "
           "accuracy at half coverage: the accuracy of the most confident half.", ""]
    rows = []
    for h in [h for h in HEAD_ORDER if h in heads] + sorted(set(heads) - set(HEAD_ORDER)):
        rep = heads[h]
        if not isinstance(rep, dict) or h == "routing":
            continue
        rows.append([h, rep.get("n"), pct_fmt(rep.get("accuracy")), fmt(rep.get("macro_f1"), 3),
                     fmt(rep.get("ece"), 3), pct_fmt(rep.get("accuracy_at_half_coverage"))])
    out += table(["head", "n", "accuracy", "macro F1", "ECE", "accuracy at half coverage"], rows)
    routing = heads.get("routing")
    if isinstance(routing, dict):
        out += [f"Routing: {pct_fmt(routing.get('auto_dispatch_share'))} dispatched automatically, category accuracy "
                f"of those {pct_fmt(routing.get('auto_dispatch_category_accuracy'))}; routes "
                + ", ".join(f"{k} {v}" for k, v in (routing.get("routes") or {}).items()) + ".", ""]
    for name, title in (("coverage_accuracy", "Coverage–accuracy"), ("reliability", "Reliability")):
        if name in plot_files:
            out += [f"![{title}](plots/{plot_files[name]})", ""]
    rel = acc.get("reliability") or {}
    if rel:
        out += ["Reliability (confidence bins of 0.1; mean confidence → accuracy, n):", ""]
        rows = []
        for h, bins in rel.items():
            cells = [f"{fmt(b['confidence'], 2)}→{fmt(b['accuracy'], 2)} ({b['n']})" if b.get("n") else "–"
                     for b in bins]
            rows.append([h] + cells)
        header = ["head"] + [f"{b['lo']:.1f}–{b['hi']:.1f}" for b in next(iter(rel.values()))]
        out += table(header, rows)
    juris = acc.get("jurisdiction_by_mention") or {}
    if juris:
        out += ["### Jurisdiction by mention type", "",
                "The kind of the finest place the order names for its problem (`caller_only`: only the caller's "
                "own address; `none`: no place). Abstained: no district given (the order goes to review).", ""]
        rows = [[t, r.get("n"), pct_fmt(r.get("district_acc")), pct_fmt(r.get("street_acc")),
                 pct_fmt(r.get("abstained"))] for t, r in sorted(juris.items(), key=lambda kv: -kv[1].get("n", 0))]
        out += table(["mention type", "n", "district accuracy", "street accuracy", "abstained"], rows)
    return out


def _resources(result: dict) -> list[str]:
    out = ["## Memory, model size, load time", ""]
    mem = result.get("memory") or {}
    model = result.get("model") or {}
    if mem:
        rows = [["import dispatch_nlp", fmt(mem.get("import_s"), 2, " s")],
                ["Dispatcher.load() of the model", fmt(mem.get("load_s"), 2, " s")],
                ["first order after load", fmt(mem.get("first_dispatch_ms"), 1, " ms")],
                [f"{mem.get('orders')} orders one at a time (mean {fmt(mem.get('mean_chars'))} chars)",
                 fmt(mem.get("dispatch_s"), 2, " s")],
                ["RSS after load", fmt(mem.get("rss_after_load_mib"), 0, " MiB")],
                ["peak RSS", fmt(mem.get("peak_rss_mib"), 0, " MiB")]]
        out += [f"{mem.get('note', '')}.", ""] + table(["", ""], rows, "lr")
    if model.get("load_s_in_process") is not None:
        out += [f"In the harness process (libraries already imported) the load took {fmt(model['load_s_in_process'], 2)} s"
                + (f"; the full encoder checkpoint loaded in {fmt(model.get('encoder_load_s'), 1)} s" if
                   model.get("encoder_load_s") is not None else "")
                + (f"; ONNX exports this run: {model.get('onnx_export_s')}" if model.get("onnx_export_s") else
                   ("; ONNX exports came from the cache" if model.get("encoder_layers") else "")) + ".", ""]
    size = result.get("model_size") or {}
    if size:
        rows = [[f"`{name}`", fmt(b / 2**20, 2, " MiB") if b >= 2**20 else fmt(b / 1024, 1, " KiB")]
                for name, b in sorted(size.get("files_bytes", {}).items(), key=lambda kv: -kv[1])]
        rows.append(["**total**", f"**{fmt(size.get('total_mib'), 2, ' MiB')}**"])
        out += [f"Model directory `{model.get('model_dir')}` (model `{model.get('model_version')}`, members: "
                f"{', '.join(model.get('members') or []) or 'none'}):", ""] + table(["file", "size"], rows, "lr")
    return out


def _training(result: dict) -> list[str]:
    tr = result.get("training") or {}
    if not tr:
        return []
    out = ["## Training time per 1,000 orders", ""]
    rows = []
    for name in ("linear", "linear_shipped", "student"):
        r = tr.get(name)
        if not isinstance(r, dict):
            continue
        secs = r.get("seconds", r.get("seconds_total_with_export"))
        if secs is None and r.get("seconds_teacher") is not None:
            secs = (r.get("seconds_teacher") or 0) + (r.get("seconds_train") or 0)
        rows.append([name.replace("_", " "), fmt(r.get("orders")), fmt(secs, 1), fmt(r.get("seconds_per_1000"), 1),
                     r.get("how") or r.get("source") or ""])
    out += table(["member", "orders", "seconds", "seconds per 1,000", "how"], rows, "lrrrl")
    if tr.get("shipped_timings"):
        out += ["The shipped model's own training run (its `metrics.json`): "
                + ", ".join(f"{k} {v} s" for k, v in tr["shipped_timings"].items()) + ".", ""]
    cores = _get(result, "machine", "usable_cores")
    out += [f"Measured on this machine's {cores} cores.", ""]
    return out


def _summarise_other(name: str, data: dict) -> list[str]:
    """A few headline figures of another benchmark's result file."""
    if not isinstance(data, dict):
        return [f"`{json.dumps(data)[:200]}`", ""]
    if name == "batch" and data.get("runs"):
        rows = [[r.get("engine"), fmt(r.get("rows")), fmt(r.get("seconds"), 2), fmt(r.get("rows_per_s")),
                 fmt(r.get("rows_per_s_steady")), fmt(r.get("peak_rss_mib"), 0)] for r in data["runs"]]
        return table(["engine", "rows", "seconds", "rows/s", "rows/s without start-up", "peak RSS MiB"], rows)
    if name == "service" and data.get("dispatch"):
        rows = [[r.get("clients"), r.get("requests"), fmt(r.get("throughput_rps")), fmt(r.get("p50_ms"), 1),
                 fmt(r.get("p99_ms"), 1), pct_fmt(r.get("error_rate"))] for r in data["dispatch"]]
        return table(["clients", "requests", "requests/s", "p50 ms", "p99 ms", "errors"], rows)
    if name == "jurisdiction" and isinstance(data.get("results"), dict):
        rows = [[m, pct_fmt(r.get("district_acc")), pct_fmt(r.get("street_acc")), pct_fmt(r.get("community_acc")),
                 pct_fmt(r.get("abstention_rate")), fmt(r.get("ms_per_order"), 2)]
                for m, r in data["results"].items() if isinstance(r, dict)]
        return [f"{data.get('test_rows')} test rows."] + [""] + table(
            ["method", "district", "street", "community", "abstained", "ms/order"], rows)
    if name == "retrain" and isinstance(data.get("comparison"), dict):
        rows = [[r.get("set"), r.get("head"), r.get("n"), pct_fmt(r.get("champion")), pct_fmt(r.get("challenger")),
                 "yes" if r.get("regressed") else "no"] for r in data["comparison"].get("heads", [])]
        promo = data.get("promotion")
        lead = [f"Promotion: {json.dumps(promo, ensure_ascii=False)[:300]}", ""] if promo is not None else []
        return lead + table(["set", "head", "n", "champion", "challenger", "regressed"], rows, "llrrrl")
    special = _before_after(name, data)
    if special is not None:
        return special
    scalars = [(k, v) for k, v in data.items() if isinstance(v, (int, float, str, bool)) and v is not None]
    if not scalars:
        return ["(no scalar figures; see the file)", ""]
    return table(["figure", "value"], [[k, fmt(v, 3) if isinstance(v, float) else fmt(v)] for k, v in scalars[:14]],
                 "lr")


def _value(cell) -> float | None:
    return cell.get("value") if isinstance(cell, dict) else cell


def _before_after(name: str, data: dict) -> list[str] | None:
    """The result files that keep a ``before`` and an ``after`` run side by side (and the security check)."""
    before, after = data.get("before") or {}, data.get("after") or {}
    if name == "address" and after.get("per_pattern"):
        heads = ("district", "street", "street_open", "first_hop", "abstained")
        rows = [[p, (c.get("district") or {}).get("n")] + [
            f"{pct_fmt(_value((before.get('per_pattern', {}).get(p) or {}).get(h)))} → {pct_fmt(_value(c.get(h)))}"
            for h in heads] for p, c in after["per_pattern"].items()]
        return table(["pattern", "n", *heads], rows, "lr" + "r" * len(heads))
    if name == "emergency" and after:
        keys = ("orders", "live_calls", "not_live", "false_transfers", "false_transfers_on_letters", "missed_emergencies")
        return table(["figure", "before", "after"], [[k, fmt(before.get(k)), fmt(after.get(k))] for k in keys], "lrr")
    if name == "history" and after.get("after_train"):
        ref = after.get("reference_char_ngram") or {}
        rows = [[h, pct_fmt((before.get("after_train") or {}).get(h)), pct_fmt(after["after_train"].get(h)),
                 pct_fmt(ref.get(h))] for h in ("district", "street", "unit")]
        return table(["head", "before", "after", "char n-gram reference"], rows, "lrrr")
    if name == "pii" and after:
        rows = [[k, f"{fmt(b.get('precision'), 3)} / {fmt(b.get('recall'), 3)}",
                 f"{fmt(a.get('precision'), 3)} / {fmt(a.get('recall'), 3)}", a.get("gold")]
                for k, a in after.items() if isinstance(a, dict) and "recall" in a
                for b in [before.get(k) or {}]]
        return table(["kind", "before P / R", "after P / R", "gold spans"], rows, "lrrr")
    if name == "security" and isinstance(data.get("items"), list):
        rows = [[i.get("item"), i.get("status"), "pass" if i.get("pass") else "FAIL"] for i in data["items"]]
        return [f"{json.dumps(data.get('summary'))}", ""] + table(["attack", "HTTP status", "result"], rows, "lrl")
    return None


def _others(result: dict) -> list[str]:
    other = result.get("other_benchmarks") or {}
    if not other:
        return []
    out = ["## The other benchmarks", "",
           "Result files under `benchmarks/results/` written by the single-purpose benchmarks, folded in as they "
           "are (not re-run by this command; each was produced by the command shown, on the date shown).", ""]
    for name, o in other.items():
        out += [f"### {name}", "", f"Command: `{o.get('command')}`"
                + (f"; file `{o['file']}`" if o.get("file") else "")
                + (f"; produced {o['date']} ({o.get('date_from')})" if o.get("date") else "") + ".", ""]
        if o.get("missing"):
            out += ["No result file: run the command to produce it.", ""]
        elif o.get("error"):
            out += [f"Result file {o['error']}.", ""]
        else:
            out += _summarise_other(name, o.get("data"))
    return out


def _skipped(result: dict, plot_note: str | None) -> list[str]:
    missing = skipped_variants(result)
    other = {k: v for k, v in (result.get("skipped") or {}).items()
             if k not in EXPECTED_VARIANTS and k != "encoders"}
    model = result.get("model") or {}
    lat = result.get("latency") or {}
    out = ["## Skipped and stand-ins", ""]
    lines = [f"- variant `{k}` ({EXPECTED_VARIANTS[k]}): **not measured**: {reason}" for k, reason in missing.items()]
    lines += [f"- {k}: {v}" for k, v in other.items()]
    if model.get("profile") and model.get("profile") != "full":
        lines.append(f"- `Dispatcher.load()` runs the model's `{model['profile']}` profile (the `pipeline` row, and "
                     "the batch, accuracy and memory sections); the `pipeline_full` row is the same model with every "
                     "member (`profile=\"full\"`), and its accuracy is in the headline.")
    if "encoder" not in (model.get("members") or []):
        lines.append(f"- the shipped model (`{model.get('model_version')}`) has no encoder member, so the `pipeline` "
                     "row is the linear-only pipeline"
                     + ("; the `onnx_int8_student` row (linear member + an int8 student exported here with random "
                        "heads, fused as the pipeline fuses them) stands in for the fused pipeline's cost; its "
                        "accuracy is not measured" if "onnx_int8_student" in lat else "")
                     + ".")
    if plot_note:
        lines.append(f"- plots: {plot_note}")
    if not lines:
        lines = ["Nothing: every variant and section was measured in this run."]
    return out + lines + [""]


# -- the report -----------------------------------------------------------------------------------
def render(result: dict, plot_files: dict[str, str], plot_note: str | None = None) -> str:
    model = result.get("model") or {}
    m = result.get("machine") or {}
    prof = result.get("profile") or {}
    lines = [
        "# dispatch_nlp benchmark report", "",
        f"Written by `{result.get('command', 'dispatch-nlp bench')}` (profile **{prof.get('name')}**), started "
        f"{result.get('started')}, took {fmt(result.get('seconds'), 0)} s; model `{model.get('model_version')}` "
        f"(members: {', '.join(model.get('members') or []) or 'none'}). Load average at start "
        f"{', '.join(fmt(x, 2) for x in m.get('load_average_start') or [])}, at end "
        f"{', '.join(fmt(x, 2) for x in m.get('load_average_end') or []) or '–'}. Every figure is in "
        "`results/bench.json`; the numbers come from this one run on the machine below, which is shared and "
        "noisy: compare ratios and medians within the report, not absolute times across reports.", "",
    ]
    lines += _machine(result)
    lines += _headline(result)
    lines += _latency(result)
    if "latency" in plot_files:
        lines += [f"![Latency](plots/{plot_files['latency']})", ""]
    lines += _batch(result)
    if "throughput" in plot_files:
        lines += [f"![Throughput](plots/{plot_files['throughput']})", ""]
    lines += _accuracy(result, plot_files)
    lines += _resources(result)
    lines += _training(result)
    lines += _others(result)
    lines += _skipped(result, plot_note)
    steps = result.get("timings_s") or {}
    if steps:
        lines += ["## Run time per step", ""] + table(["step", "seconds"], [[k, fmt(v, 1)] for k, v in steps.items()])
    return "\n".join(lines).rstrip() + "\n"

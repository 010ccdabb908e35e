"""Section 2 of the benchmark report: latency. ``build_variants`` loads the model and the encoder
variants to compare (a list of ``Variant``: a dispatcher with its members timed in place);
``measure_latency`` times them round robin on texts of each length and returns the per-stage and
end-to-end summaries; ``latency_ratios`` divides p50s within that result."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .common import ROOT, Profile, log, summary
from .machine import _ort_threads


# -- 2. latency -----------------------------------------------------------------------------------
@dataclass
class Variant:
    key: str
    label: str
    dispatcher: object
    members: dict = field(default_factory=dict)  # name -> TimedMember inside the classifier stage
    note: str = ""
    group: str = "main"  # variants are timed round robin within their group, groups one after the other


def _with_classifier(base, members: dict, weights: dict):
    """The loaded ``Dispatcher``'s model with a classifier stage holding ``members`` (or none)."""
    from dispatch_nlp.components.classifier import ClassifierStage

    stages = [s for s in base.stages if s.name != "classifier"]
    if members:
        stages.append(ClassifierStage(members, {m: weights.get(m, 1.0) for m in members}, base.catalog))
    return base.with_components(stages)


def build_variants(prof: Profile, model_dir, encoder_dir: Path | None, cache_dir: Path, skipped: dict) -> tuple[list[Variant], dict]:
    from dispatch_nlp import Dispatcher

    from .encoders import TimedMember

    t0 = time.perf_counter()
    shipped = Dispatcher.load(model_dir)  # its default profile, as users get it
    info = {"model_dir": str(shipped.model_dir), "model_version": shipped.model_version,
            "stages": [s.name for s in shipped.stages], "load_s_in_process": round(time.perf_counter() - t0, 2),
            "profile": shipped.profile, "profiles": shipped.info()["profiles"]}
    # Every member of the model: the "full" profile (the same dispatcher when that is the default).
    every = shipped if shipped.profile == "full" else Dispatcher.load(model_dir, profile="full")
    clf = next((s for s in every.stages if s.name == "classifier"), None)
    weights = dict(clf.weights) if clf else {}
    linear = clf.members.get("linear") if clf else None
    shipped_encoder = clf.members.get("encoder") if clf else None
    info["members"] = sorted(clf.members) if clf else []
    info["weights"] = weights
    variants = [Variant("rules", "rules only (no classifier)", _with_classifier(shipped, {}, {}),
                        note="the shipped model's stages without the classifier stage")]
    if linear is not None:
        m = {"linear": TimedMember(linear)}
        variants.append(Variant("linear", "linear member only", _with_classifier(shipped, m, {"linear": 1.0}), m))
    else:
        skipped["linear"] = "the model has no linear member"
    enc_weights = {"linear": weights.get("linear", 1.0), "encoder": weights.get("encoder", 1.0)}

    def with_encoder(key, label, member, note=""):
        m = {"encoder": TimedMember(member)}
        if linear is not None:
            m = {"linear": TimedMember(linear), **m}
        group = "torch" if key.startswith("torch") else "main"
        variants.append(Variant(key, label, _with_classifier(shipped, m, enc_weights), m, note, group))

    meta = shipped_encoder.meta if shipped_encoder is not None else {}
    max_len = int(meta.get("max_len", 160))
    student_layers = int(meta.get("layers", 4))
    info["encoder_max_len_tokens"] = max_len
    factory = None
    if prof.encoders and encoder_dir is not None and (encoder_dir / "config.json").exists():
        try:
            import torch  # noqa: F401
        except ImportError:
            skipped["encoders"] = "torch is not installed (pip install -e '.[train]')"
        else:
            n_before = len(variants)
            try:
                from .encoders import EncoderFactory

                classes = ({h: shipped_encoder.classes(h) for h in shipped_encoder.heads} if shipped_encoder is not None
                           else {h: linear.classes(h) for h in ("leaf", "appeal") if linear is not None and h in linear.heads})
                factory = EncoderFactory(encoder_dir, classes, max_len, cache_dir, _ort_threads(), log=log)
                full = factory.layers_full
                info["encoder_dir"] = str(encoder_dir)
                info["encoder_layers"] = full
                info["encoder_params_m"] = round(sum(p.numel() for p in factory.encoder.parameters()) / 1e6, 1)
                src = encoder_dir.relative_to(ROOT) if encoder_dir.is_relative_to(ROOT) else encoder_dir
                plus = "the linear member + " if linear is not None else ""
                note = f"{plus}the prepared encoder {src} with random heads, fused as the pipeline fuses members (latency only)"
                with_encoder("torch_full", f"torch eager, full encoder ({full} layers)", factory.torch_member(full), note)
                files = factory.onnx_files(full)
                note_onnx = note.replace("random heads", "random heads, exported and fused by ONNX Runtime's transformer "
                                                        "optimizer")
                with_encoder("onnx_fp32_full", f"ONNX fp32, full encoder ({full} layers)", factory.onnx_member(files["fp32"]),
                             note_onnx)
                with_encoder("onnx_int8_full", f"ONNX int8, full encoder ({full} layers)", factory.onnx_member(files["int8"]),
                             note_onnx + ", dynamic int8 quantization")
                with_encoder("torch_student", f"torch eager, student ({student_layers} layers)",
                             factory.torch_member(student_layers),
                             f"{plus}the first {student_layers} layers of {src} with random heads (the student's shape; "
                             "latency only)")
                if shipped_encoder is None:
                    files = factory.onnx_files(student_layers)
                    with_encoder("onnx_int8_student", f"ONNX int8, student ({student_layers} layers)",
                                 factory.onnx_member(files["int8"]),
                                 note=f"{plus}exported here from the first {student_layers} layers of {src}, random "
                                      "heads, int8 (the shipped model has no encoder member: this stands in for its "
                                      "fused pipeline; latency only)")
                info["encoder_load_s"] = round(factory.load_s, 1)
                info["onnx_export_s"] = factory.export_s
            except Exception as exc:  # noqa: BLE001 - a broken export must not sink the whole report
                del variants[n_before:]
                skipped["encoders"] = f"could not be built: {type(exc).__name__}: {str(exc)[:300]}"
                log(f"  encoder variants skipped: {skipped['encoders']}")
    elif prof.encoders and encoder_dir is None:
        skipped["encoders"] = "no encoder checkpoint given (--encoder)"
    elif prof.encoders:
        skipped["encoders"] = f"no prepared encoder at {encoder_dir} (python -m dispatch_nlp.training.encoder prepare -o work/encoder)"
    else:
        skipped["encoders"] = "not measured in this profile"
    if shipped_encoder is not None:
        with_encoder("onnx_int8_student", f"ONNX int8, student ({student_layers} layers, shipped)", shipped_encoder,
                     note="the shipped model's encoder member")
    # The shipped model as users get it (and its full profile when that is not the default), with its
    # members timed in place. The default profile's pipeline comes last: the later steps use it.
    pipelines = ([("pipeline_full", f"full pipeline, profile full ({shipped.model_version})", every)]
                 if every is not shipped else [])
    pipelines.append(("pipeline", f"full pipeline, Dispatcher.load() ({shipped.model_version}, profile "
                                  f"{shipped.profile})", shipped))
    for key, label, dispatcher in pipelines:
        timed_members = {}
        stage = next((s for s in dispatcher.stages if s.name == "classifier"), None)
        for name in list(stage.members) if stage is not None else []:
            stage.members[name] = timed_members[name] = TimedMember(stage.members[name])
        variants.append(Variant(key, label, dispatcher, timed_members))
    return variants, info


def measure_latency(variants: list[Variant], texts: dict[int, list[str]], prof: Profile) -> dict:
    """Round robin: for each length, each call of every variant in turn (drift hits all alike).

    The torch eager variants form their own round, timed after the others: interleaved with ONNX
    Runtime calls, torch's busy-waiting OpenMP threads starve the runtime's on 2 cores (a torch call
    right after an ONNX call measured 5-20 times slower than alone). The runtime's own threads do
    not spin (``dispatch_nlp.components.members.encoder.session_options``), so its sessions can take turns.

    A variant leaves the round once it has ``prof.min_reps`` timed calls and has spent
    ``prof.variant_budget_s`` seconds in them (torch eager on 1,000 characters takes seconds an
    order on 2 cores); the others go on to ``prof.reps``. Each summary says its ``n``."""
    out: dict = {v.key: {"label": v.label, "note": v.note, "group": v.group, "lengths": {}} for v in variants}
    groups: dict[str, list[Variant]] = {}
    for v in variants:
        groups.setdefault(v.group, []).append(v)
    for length, pool in texts.items():
        rec = {v.key: {"e2e": [], "stages": {}, "members": {}, "calls": {}} for v in variants}
        spent = {v.key: 0.0 for v in variants}
        for members in groups.values():
            time.sleep(prof.settle_s)  # let the previous group's worker threads go idle
            for i in range(prof.warmup):
                for v in members:
                    v.dispatcher.dispatch(pool[i % len(pool)])
                    for m in v.members.values():
                        m.take()
            for i in range(prof.reps):
                text = pool[i % len(pool)]
                active = [v for v in members
                          if len(rec[v.key]["e2e"]) < prof.min_reps or spent[v.key] < prof.variant_budget_s]
                if not active:
                    break
                for v in active:
                    t0 = time.perf_counter()
                    dec = v.dispatcher.dispatch(text)
                    wall = time.perf_counter() - t0
                    spent[v.key] += wall
                    r = rec[v.key]
                    r["e2e"].append(wall * 1000)
                    for stage, ms in dec.timings_ms.items():
                        if stage != "total":
                            r["stages"].setdefault(stage, []).append(ms)
                    for name, m in v.members.items():
                        ms, calls = m.take()
                        r["members"].setdefault(name, []).append(ms)
                        r["calls"][name] = calls
        for v in variants:
            r = rec[v.key]
            out[v.key]["lengths"][str(length)] = {
                "end_to_end_ms": summary(r["e2e"]),
                "stages_ms": {s: summary(x) for s, x in r["stages"].items()},
                "members_ms": {s: summary(x) for s, x in r["members"].items()},
                "member_calls_per_order": r["calls"],
            }
        log(f"  latency {length} chars: " + ", ".join(
            f"{v.key} {out[v.key]['lengths'][str(length)]['end_to_end_ms']['p50']:.1f} (n={len(rec[v.key]['e2e'])})"
            for v in variants) + " ms p50")
    return out


def latency_ratios(lat: dict) -> dict:
    """int8 student against torch eager (the hot-path target), per length, on the encoder member's
    own time and end to end; plus same-model ratios (int8 vs torch eager of the same layers)."""
    def p50(key, length, what):
        try:
            node = lat[key]["lengths"][str(length)]
            return node["end_to_end_ms"]["p50"] if what == "e2e" else node["members_ms"]["encoder"]["p50"]
        except KeyError:
            return None

    pairs = {
        "int8_student_vs_torch_eager_full": ("torch_full", "onnx_int8_student"),
        "int8_full_vs_torch_eager_full": ("torch_full", "onnx_int8_full"),
        "fp32_full_vs_torch_eager_full": ("torch_full", "onnx_fp32_full"),
        "int8_student_vs_torch_eager_student": ("torch_student", "onnx_int8_student"),
    }
    out = {}
    for name, (slow, fast) in pairs.items():
        per = {}
        for length in sorted({int(x) for v in lat.values() for x in v["lengths"]}):
            row = {}
            for what in ("encoder", "e2e"):
                a, b = p50(slow, length, what), p50(fast, length, what)
                row[f"{what}_speedup"] = round(a / b, 2) if a and b else None
            per[str(length)] = row
        if any(v["encoder_speedup"] for v in per.values()):
            out[name] = per
    return out

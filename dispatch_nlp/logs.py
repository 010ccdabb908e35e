"""Logging that never prints personal data.

``MaskingFilter`` rewrites every record that passes through a handler: the formatted message (with
its arguments) and any exception text are run through PII masking. ``setup_logging(level)`` installs
it on the root handler the CLI and the service use; library users who configure logging themselves
add ``MaskingFilter()`` to their handlers.
"""

from __future__ import annotations

import logging

from dispatch_nlp.text.pii import mask_text


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not leak the raw args either
            message = str(record.msg)
        record.msg = mask_text(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.exc_text = mask_text(f"{type(exc).__name__}: {exc}")
            record.exc_info = None
        return True


def setup_logging(level: str | int = "WARNING") -> logging.Handler:
    """Log to stderr through the masking filter. Returns the handler (idempotent)."""
    root = logging.getLogger()
    for h in root.handlers:
        if getattr(h, "_dispatch_nlp", False):
            h.setLevel(level)
            root.setLevel(level)
            return h
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    handler._dispatch_nlp = True  # type: ignore[attr-defined]
    handler.setLevel(level)
    root.addHandler(handler)
    root.setLevel(level)
    return handler

"""The ``dispatch-nlp`` command line: one module per command group; ``main`` is the entry point."""

from dispatch_nlp.cli.main import main

__all__ = ["main"]

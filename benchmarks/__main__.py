"""``python -m benchmarks``: the one-run benchmark report (see ``benchmarks/harness.py``)."""

import sys

from .harness import main

sys.exit(main())

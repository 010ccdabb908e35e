"""``python -m dispatch_nlp.cli``: the same as the ``dispatch-nlp`` command."""

import sys

from dispatch_nlp.cli.main import main

sys.exit(main())

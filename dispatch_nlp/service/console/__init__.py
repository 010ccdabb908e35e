"""The operator console: a static page (``static/``) served under ``/console`` by ``dispatch-nlp serve``,
and the Python behind its JSON calls (``routes/console.py``):

- ``explain``: one order → its decision plus the masked text with the words that decided it marked;
- ``lookup``: the catalog tree search, the gazetteer search and the unit registry filtered by duty;
- ``decision_log``: what the service decided recently (masked text only for review orders), the
  review queue and the supervisor's figures read from it;
- ``supervisor``: orders per hour and route, automatic share and its accuracy against corrections,
  top categories and places, hot spots flagged against a Poisson bound of the baseline.

Nothing personal leaves the service through the console but the masked text; the page keeps the API
key in memory only (no cookie, no browser storage) and puts nothing typed into a URL.
"""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"

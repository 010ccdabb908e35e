import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def dispatcher():
    """The shipped default model, loaded once for the whole run."""
    from dispatch_nlp import Dispatcher

    return Dispatcher.load()


@pytest.fixture(scope="session")
def cli_path() -> str:
    """The installed console script (tests run the real entry point, not main())."""
    path = Path(sys.executable).parent / "dispatch-nlp"
    assert path.exists(), "dispatch-nlp is not installed in this environment: pip install -e ."
    return str(path)


# The Beijing gazetteer, a segmenter with its place names and the gazetteer jurisdiction member: loaded
# once per test module (tests of the gazetteer, units, jurisdiction and settings share them).
@pytest.fixture(scope="module")
def gaz():
    from dispatch_nlp.knowledge.gazetteer import Gazetteer

    return Gazetteer.load()


@pytest.fixture(scope="module")
def seg(gaz):
    from dispatch_nlp.text.segment import Segmenter

    return Segmenter({s for s, _, k in gaz.surfaces() if len(s) >= 2 and k != "short"})


@pytest.fixture(scope="module")
def stage(gaz):
    from dispatch_nlp.components.jurisdiction import GazetteerJurisdiction

    return GazetteerJurisdiction(gaz)


def generated_bodies(seed: int, n: int, prefix: str) -> list[dict]:
    """``n`` generated orders as POST /v1/dispatch bodies (id ``<prefix>-<i>``, text, title, channel)."""
    from dispatch_nlp.training.corpus import load_generator

    return [{"id": f"{prefix}-{i}", "text": rec["text"], "title": rec.get("title"), "channel": rec.get("channel")}
            for i, rec in enumerate(load_generator(seed=seed).generate(n))]

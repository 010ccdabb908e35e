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

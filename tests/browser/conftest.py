"""A real service on a loopback port (uvicorn in a thread, in this process so that the tests can read
its decision log and corrections store) and a real headless Chromium driven by Playwright.

The browser is the system's Chromium (Debian's ``chromium`` package; ``DISPATCH_NLP_CHROMIUM`` names
another binary): nothing is downloaded. Without it these tests fail rather than skip: ``.ci/browser.sh``
installs it in CI.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..conftest import ROOT

VIEWPORT = {"width": 1366, "height": 768}
SHOTS = ROOT / "docs" / "console"


def chromium_path() -> str:
    for candidate in (os.environ.get("DISPATCH_NLP_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("no Chromium: install Debian's chromium (bash .ci/browser.sh) or set DISPATCH_NLP_CHROMIUM")


@dataclass
class LiveService:
    url: str
    app: Any  # the FastAPI app (its state holds the decision log and the store)
    keys: dict[str, str]  # role -> secret

    @property
    def log(self):
        return self.app.state.decision_log

    @property
    def store(self):
        return self.app.state.store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def service(dispatcher, tmp_path) -> Iterator[LiveService]:
    """A fresh service per test: its own keys, corrections database and (empty) decision log."""
    import uvicorn

    from dispatch_nlp.service import ServiceSettings, create_app
    from dispatch_nlp.service.keys import KdfSettings, add_key

    keys_file = tmp_path / "keys.json"
    cheap = KdfSettings(n=2 ** 10)  # test keys: a cheap derivation
    keys = {role: add_key(keys_file, f"{role}-1", role, cheap) for role in ("dispatch", "operator")}
    boundary = create_app(ServiceSettings(corrections=str(tmp_path / "corrections.db"), keys_file=str(keys_file)),
                          dispatcher=dispatcher)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(boundary, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the service did not start"
        time.sleep(0.05)
    yield LiveService(f"http://127.0.0.1:{port}", boundary.app, keys)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="package")  # stopped after the browser tests: a live Playwright keeps an event loop running
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture()
def page(browser) -> Iterator[Any]:
    # The tests' own waits evaluate expressions in the page, which its CSP forbids (no eval):
    # test_the_page_runs_under_its_csp checks the page without this bypass.
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", bypass_csp=True)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def connect(page: Any, service: LiveService, role: str = "operator") -> None:
    """Open the console and give it a key (typed, as an operator would)."""
    page.goto(service.url + "/console")
    page.fill("#key", service.keys[role])
    page.press("#key", "Enter")
    page.wait_for_function("document.getElementById('who').textContent.includes('-1')")


def shot(page: Any, name: str) -> Path:
    """A screenshot of the viewport, kept in docs/console/ for the README (a 128-colour palette PNG:
    a third of the size, the same picture for flat UI colours)."""
    import io

    from PIL import Image

    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path

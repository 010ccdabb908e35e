"""A ``dispatch-nlp serve`` process on loopback for the benchmarks that talk HTTP (service_bench,
security_check): a free port, the server started from the installed console script, waited for until
``/v1/health`` answers 200, and stopped at the end.

    with live_server(["--corrections", db, "--keys-file", keys], cwd=tmp) as base:
        httpx.get(base + "/v1/model", headers=auth)
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

CLI = os.path.join(os.path.dirname(sys.executable), "dispatch-nlp")


class ServerDidNotStart(RuntimeError):
    """The server exited or did not answer ``/v1/health`` in time; the message holds its last stderr."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BaseURL(str):
    """The server's base URL (``http://127.0.0.1:P``), with the server's process id as ``.pid``."""

    pid: int


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its live children (the workers of
    ``serve --workers N``); Linux ``/proc`` only, NaN elsewhere."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        pids = [pid]
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = Path(f"/proc/{pid}/task/{task.name}/children")
            pids += [int(c) for c in children.read_text().split()] if children.exists() else []
        total = 0
        for p in pids:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / ticks
    except (OSError, ValueError):
        return float("nan")


@contextlib.contextmanager
def live_server(args: list[str], *, cwd: str | Path, model: str | None = None,
                timeout_s: float = 90.0) -> Iterator[BaseURL]:
    """Run ``dispatch-nlp serve --port P ARGS`` and yield its base URL (``http://127.0.0.1:P``, a ``str``
    whose ``.pid`` is the server's process)."""
    import httpx

    port = free_port()
    base = BaseURL(f"http://127.0.0.1:{port}")
    cmd = [CLI, "serve", "--port", str(port), *args] + (["--model", model] if model else [])
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    base.pid = server.pid
    try:
        deadline = time.time() + timeout_s
        while True:
            try:
                if httpx.get(base + "/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or server.poll() is not None:
                err = (server.stderr.read() if server.stderr else b"").decode(errors="replace")[-2000:]
                raise ServerDidNotStart(err)
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()

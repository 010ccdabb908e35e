"""What the operator console costs and what it saves, measured with a real headless Chromium (the
system's ``chromium``, driven by Playwright) against ``dispatch-nlp serve`` on loopback:

    python -m dispatch_nlp.benchmarks.console_bench [--requests 400] [--corrections 8]

- **correction**: an order typed and dispatched, then its category corrected through the catalog search
  (type a name, Enter picks the first leaf, Ctrl+Enter submits): the operator's steps and the wall time
  from the decision on screen to the correction stored (scripted, so the time is the console's and the
  service's, not a person's thinking);
- **page weight**: the bytes of the page and its assets on first load (no CDN, no compression);
- **dispatch latency**: ``POST /v1/dispatch`` p50/p99 from one client sending ``--requests`` requests
  back to back, once alone and once while the browser corrects orders and refreshes the supervisor
  view in a loop (the console in use); then while the console's own API calls of such a cycle are
  replayed once a second without a browser (the service's share of the cost, Chromium's CPU left out),
  in ``--rounds`` rounds interleaved with rounds alone, so that the machine's drift hits both alike.

Writes ``benchmarks/results/console.json``. Server, client and browser share the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from dispatch_nlp.benchmarks.live_server import live_server

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "朝阳区望京街道望京西园三区路灯不亮，晚上很黑",
    "海淀区学院路街道石油大院小区楼下施工噪音扰民，每天到凌晨",
    "东城区东华门街道南池子大街有人占道经营",
    "西城区金融街街道丰汇园小区垃圾清运不及时，味道很大",
    "丰台区卢沟桥街道某小区电梯经常停运，老人上下楼困难",
    "海淀区学院路街道石油大院停水三天了，一直没人管",
]
CORRECT_STEPS = ["type the category name in the search (Alt+C focuses it)", "Enter: take the first leaf",
                 "Ctrl+Enter: submit"]


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def load(base: str, key: str, n: int, out: list[float]) -> None:
    """``n`` dispatch requests back to back; their latencies (ms) appended to ``out``."""
    import httpx

    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as c:
        for i in range(n):
            t0 = time.perf_counter()
            r = c.post("/v1/dispatch", json={"id": f"L-{i}", "text": TEXTS[i % len(TEXTS)]})
            out.append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()


def summary(ms: list[float]) -> dict:
    return {"requests": len(ms), "p50_ms": round(percentile(ms, 0.5), 2), "p99_ms": round(percentile(ms, 0.99), 2),
            "mean_ms": round(statistics.fmean(ms), 2)}


def replay(base: str, key: str, stop: threading.Event, pause_s: float, counter: list[int]) -> None:
    """The console's own calls for one correction cycle (analyze, catalog search, units, correction,
    supervisor), without a browser, every ``pause_s`` seconds until ``stop``."""
    import httpx

    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as c:
        while not stop.is_set():
            i = counter[0]
            d = c.post("/console/api/analyze", json={"order": {"id": f"R-{i}", "text": TEXTS[i % len(TEXTS)]}}).json()
            code = c.post("/console/api/catalog/search", json={"q": "停气"}).json()["results"][0]["code"]
            c.post("/console/api/units", json={"category_code": code})
            c.post("/v1/corrections", json={"order_id": f"R-{i}", "category_code": code,
                                            "decision": d["decision"]}).raise_for_status()
            c.get("/console/api/supervisor").raise_for_status()
            counter[0] += 1
            stop.wait(pause_s)


def correct_once(page, i: int) -> float:
    """Dispatch one order in the console and correct its category; seconds from decision to stored."""
    page.fill("#o-id", f"CB-{i}")
    page.fill("#o-text", TEXTS[i % len(TEXTS)])
    page.press("#o-text", "Control+Enter")
    page.wait_for_selector(f"#decision dd:has-text('CB-{i}')")
    t0 = time.perf_counter()
    page.fill("#cat-q", "停气")  # step 1
    page.wait_for_selector("#cat-results button")
    page.press("#cat-q", "Enter")  # step 2
    page.wait_for_selector("#cat-picked:has-text('停气')")
    page.keyboard.press("Control+Enter")  # step 3
    page.wait_for_selector(f"#fix-status:has-text('CB-{i}')")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--corrections", type=int, default=8, help="corrections timed before the load phases")
    ap.add_argument("--rounds", type=int, default=4, help="interleaved rounds of the no-browser comparison")
    ap.add_argument("--pause", type=float, default=1.0, help="seconds between replayed console cycles")
    ap.add_argument("--chromium", default=os.environ.get("DISPATCH_NLP_CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("-o", "--output", default=str(ROOT / "benchmarks" / "results" / "console.json"))
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from dispatch_nlp.service.keys import add_key

    with tempfile.TemporaryDirectory() as tmp:
        key = add_key(Path(tmp) / "keys.json", "bench-op", "operator")
        server_args = ["--corrections", str(Path(tmp) / "c.db"), "--keys-file", str(Path(tmp) / "keys.json"),
                       "--write-rate", "0"]
        with live_server(server_args, cwd=tmp) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            sizes: dict[str, int] = {}
            page.on("response", lambda r: sizes.__setitem__(r.url.split("/")[-1], len(r.body()))
                    if "/console" in r.url and "/api/" not in r.url else None)
            page.goto(base + "/console")
            page.wait_for_load_state("networkidle")
            page.fill("#key", key)
            page.press("#key", "Enter")
            page.wait_for_selector("#who:has-text('bench-op')")
            warm: list[float] = []
            load(base, key, 30, warm)
            times = [correct_once(page, i) for i in range(args.corrections)]

            alone: list[float] = []
            load(base, key, args.requests, alone)
            busy: list[float] = []
            worker = threading.Thread(target=load, args=(base, key, args.requests, busy))
            worker.start()
            done = 0
            while worker.is_alive():  # the console in use: corrections and supervisor refreshes
                correct_once(page, 1000 + done)
                page.keyboard.press("Alt+3")
                page.wait_for_selector("#c-orders b")
                page.keyboard.press("Alt+1")
                done += 1
            worker.join()
            browser.close()
            # Interleaved rounds (alone, console calls) so that the machine's drift hits both alike.
            alone_rounds: list[float] = []
            api_only: list[float] = []
            cycles = [0]
            for _ in range(args.rounds):
                load(base, key, args.requests // args.rounds, alone_rounds)
                stop = threading.Event()
                console_calls = threading.Thread(target=replay, args=(base, key, stop, args.pause, cycles))
                console_calls.start()
                load(base, key, args.requests // args.rounds, api_only)
                stop.set()
                console_calls.join()
    result = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count()},
        "correction": {"steps": len(CORRECT_STEPS), "how": CORRECT_STEPS, "n": len(times),
                       "wall_s_median": round(statistics.median(times), 3), "wall_s_max": round(max(times), 3)},
        "queue_correction_keys": ["C: open the order on the correction screen (search focused)", *CORRECT_STEPS],
        "page_weight": {"files": dict(sorted(sizes.items())), "total_bytes": sum(sizes.values()),
                        "requests": len(sizes)},
        "dispatch_without_console": summary(alone),
        "dispatch_with_console": {**summary(busy), "console_corrections_meanwhile": done,
                                  "note": "Chromium and Playwright run on the same cores as the server"},
        "dispatch_with_console_calls_no_browser": {**summary(api_only), "console_cycles_meanwhile": cycles[0],
                                                   "pause_s": args.pause, "rounds": args.rounds},
        "dispatch_without_console_interleaved": {**summary(alone_rounds), "rounds": args.rounds},
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""An attack list against a live ``dispatch-nlp serve`` on loopback, and what the server answered and
stored for each item.

    python benchmarks/security_check.py [--model DIR]

Starts the server as a subprocess (127.0.0.1, a free port, a temporary keys file with one key per
role and a temporary SQLite corrections store), then sends each attack: requests without a key,
with a forged key and with too little role; a reload by a cross-site form POST; a correction dated
in the future, with an unknown category code, with oversized fields and with personal data in every
field; 10,000 malformed orders in one batch request; formula cells (in the corrections export and in
a ``batch`` XLSX output). For each item it records the status, whether the reply echoes any of the
values sent that must not come back, how many rows the store gained and which kinds of personal data
the store holds afterwards (read straight from the SQLite file, every table and column), and whether
the outcome is the expected one. Writes ``benchmarks/results/security.json`` and
``benchmarks/SECURITY.md`` (a Markdown table). Items owned by other parts of the hardening (the
corrections validation, the personal-data masker, safe spreadsheets) are reported as they are.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from dispatch_nlp.benchmarks.live_server import ServerDidNotStart, live_server

ROOT = Path(__file__).resolve().parents[1]
CLI = os.path.join(os.path.dirname(sys.executable), "dispatch-nlp")

# Personal data of each kind the README promises never to store raw nor echo.
PII = {"phone": "13812345678", "id_number": "110105194912310021", "name": "欧阳娜娜",
       "address": "望京西园三区12号楼3单元402室", "email": "zhang.san@example.com"}
PII_TEXT = (f"{PII['name']}（电话{PII['phone']}，身份证{PII['id_number']}）住{PII['address']}，"
            f"邮箱{PII['email']}")
FORMULA = '=HYPERLINK("http://attacker.example/x","点我")'
CORRECTION = {"order_id": "SEC-0", "kind": "改派", "unit": "utility_water"}



def store_dump(db: Path) -> tuple[int, str]:
    """(rows in the corrections table, every stored value of every table as one text)."""
    if not db.exists():
        return 0, ""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        parts, rows = [], 0
        for t in tables:
            data = con.execute(f'SELECT * FROM "{t}"').fetchall()
            if t == "corrections":
                rows = len(data)
            parts.append(json.dumps(data, ensure_ascii=False, default=str))
        return rows, "\n".join(parts)
    finally:
        con.close()


def error_fields(r: Any) -> list[str]:
    """The fields a refusal names (names only; the reply's messages are not copied into the report)."""
    try:
        return [f["field"] for f in r.json()["error"]["fields"]][:5]
    except (ValueError, KeyError, TypeError):
        return []


def pii_kinds(text: str) -> list[str]:
    return sorted(k for k, v in PII.items() if v in text)


class Check:
    def __init__(self, base: str, db: Path, secrets: dict[str, str]):
        import httpx

        self.http = httpx.Client(base_url=base, timeout=120)
        self.db, self.secrets, self.items = db, secrets, []

    def key(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[role]}"} if role else {}

    def run(self, item: str, owner: str, expect: str, method: str, path: str, *, role: str | None = None,
            body: Any = None, headers: dict | None = None, content: bytes | None = None,
            must_not_echo: tuple[str, ...] = (), ok: Any = None) -> dict:
        rows0, dump0 = store_dump(self.db)
        t0 = time.perf_counter()
        r = self.http.request(method, path, json=body if content is None else None, content=content,
                              headers={**self.key(role), **(headers or {})})
        seconds = time.perf_counter() - t0
        rows1, dump1 = store_dump(self.db)
        echoed = sorted({k for k, v in PII.items() if v in r.text} | {"formula" for v in must_not_echo
                                                                     if v == FORMULA and v in r.text}
                        | {"secret" for v in self.secrets.values() if v in r.text})
        rec = {"item": item, "owner": owner, "request": f"{method.upper()} {path}" + (f" ({role} key)" if role else
                                                                                       " (no key)" if not headers
                                                                                       else ""),
               "expect": expect, "status": r.status_code, "retry_after": r.headers.get("retry-after"),
               "www_authenticate": r.headers.get("www-authenticate"), "reply_bytes": len(r.content),
               "seconds": round(seconds, 3), "error_fields": error_fields(r), "echoed": echoed, "stored_rows": rows1 - rows0,
               "stored_pii_new": sorted(set(pii_kinds(dump1)) - set(pii_kinds(dump0)))}
        rec["pass"] = bool(ok(r, rec)) if ok else None
        self.items.append(rec)
        return rec


def nothing_stored(codes: tuple[int, ...]):
    return lambda r, rec: r.status_code in codes and rec["stored_rows"] == 0 and not rec["echoed"]


def attacks(c: Check) -> None:
    corr = {**CORRECTION, "order_id": "SEC-unauth"}
    for path, body in (("/v1/corrections", corr), ("/v1/dispatch", {"text": "停水"}),
                       ("/v1/dispatch/batch", {"orders": [{"text": "停水"}]})):
        c.run(f"no key: {path}", "auth", "401, nothing stored", "post", path, body=body, ok=nothing_stored((401,)))
    c.run("no key: /v1/model", "auth", "401", "get", "/v1/model", ok=nothing_stored((401,)))
    c.run("no key: /v1/admin/reload", "auth", "401", "post", "/v1/admin/reload", ok=nothing_stored((401,)))
    c.run("cross-site form POST to /v1/admin/reload", "auth", "401 (a form cannot set Authorization)", "post",
          "/v1/admin/reload", content=b"wait=true", headers={"content-type": "application/x-www-form-urlencoded",
                                                             "origin": "https://evil.example"},
          ok=nothing_stored((401,)))
    forged = "dnk.admin-1." + "A" * 43
    c.run("forged admin key (right shape, wrong secret)", "auth", "401", "post", "/v1/admin/reload",
          headers={"Authorization": f"Bearer {forged}"}, ok=lambda r, rec: r.status_code == 401 and forged not in r.text)
    c.run("wrong role: dispatch key writes a correction", "auth", "403, nothing stored", "post", "/v1/corrections",
          role="dispatch", body={**CORRECTION, "order_id": "SEC-role"}, ok=nothing_stored((403,)))
    c.run("wrong role: operator key reloads the model", "auth", "403", "post", "/v1/admin/reload", role="operator",
          ok=nothing_stored((403,)))
    c.run("operator spoofed in the body", "auth", "stored; the operator is the key id, the body's name/phone not "
          "stored", "post", "/v1/corrections", role="operator",
          body={**CORRECTION, "order_id": "SEC-spoof", "operator": f"张三 {PII['phone']}"},
          ok=lambda r, rec: r.status_code == 201 and "phone" not in rec["stored_pii_new"] and not rec["echoed"])
    c.run("future-dated correction (2999-01-01)", "corrections", "422, nothing stored", "post", "/v1/corrections",
          role="operator", body={**CORRECTION, "order_id": "SEC-future", "corrected_at": "2999-01-01T00:00:00+08:00"},
          ok=nothing_stored((422,)))
    c.run("unknown category code under another catalog version", "corrections", "422, nothing stored", "post",
          "/v1/corrections", role="operator",
          body={**CORRECTION, "order_id": "SEC-code", "category_code": "999999", "catalog_version": "1999.01"},
          ok=nothing_stored((422,)))
    blob = {"model_version": "x", "catalog_version": None, "junk": "停" * 100_000}
    c.run("oversized decision object (300 KB)", "corrections", "422, or stored reduced to the fields retraining "
          "needs", "post", "/v1/corrections", role="operator",
          body={**CORRECTION, "order_id": "SEC-blob", "decision": blob},
          ok=lambda r, rec: r.status_code == 422 or (r.status_code == 201 and store_dump(c.db)[1].count("停") < 1000))
    c.run("oversized correction text (20,001 characters)", "corrections", "422, nothing stored", "post",
          "/v1/corrections", role="operator", body={**CORRECTION, "order_id": "SEC-long", "text": "停" * 20_001},
          ok=nothing_stored((422,)))
    c.run("oversized order text (20,001 characters)", "service", "422", "post", "/v1/dispatch", role="dispatch",
          body={"text": "停" * 20_001}, ok=lambda r, rec: r.status_code == 422)
    malformed = {"orders": [{"txt": i, "channel": [i]} for i in range(10_000)]}
    c.run("10,000 malformed orders in one batch request", "service", "413/422 quickly, a bounded reply, the server "
          "alive after", "post", "/v1/dispatch/batch", role="dispatch", body=malformed,
          ok=lambda r, rec: r.status_code in (413, 422) and rec["seconds"] < 10 and rec["reply_bytes"] < 200_000
          and c.http.get("/v1/health").status_code == 200)
    c.run("personal data in every free-text correction field", "corrections", "stored with no raw personal data; "
          "the reply echoes none", "post", "/v1/corrections", role="operator",
          body={"order_id": "SEC-pii", "operator": PII_TEXT, "kind": "改派", "unit": "utility_water",
                "text": PII_TEXT, "title": PII_TEXT, "reason": PII_TEXT,
                "decision": {"model_version": "x", "order_id": PII["phone"], "text": PII_TEXT,
                             "category": {"code": "01", "path": [PII_TEXT]}, "spans": [{"text": PII_TEXT}]}},
          ok=lambda r, rec: r.status_code == 201 and not rec["stored_pii_new"] and not rec["echoed"])
    c.run("personal data as the order_id", "corrections", "422, or stored with no raw personal data; never echoed",
          "post", "/v1/corrections", role="operator", body={**CORRECTION, "order_id": f"SEC-{PII['phone']}"},
          ok=lambda r, rec: not rec["stored_pii_new"] and not rec["echoed"])
    for field in ("unit", "catalog_version", "corrected_at", "category_path"):
        value: Any = [PII_TEXT] if field == "category_path" else PII_TEXT
        c.run(f"personal data in an invalid {field}", "corrections", "422 naming the field, never the value",
              "post", "/v1/corrections", role="operator", body={**CORRECTION, "order_id": "SEC-echo", field: value},
              ok=nothing_stored((422,)))
    c.run("personal data in an invalid order field", "service", "422, never the value", "post", "/v1/dispatch",
          role="dispatch", body={"text": PII_TEXT, "channel": 7, "title": [PII_TEXT]},
          ok=lambda r, rec: r.status_code == 422 and not rec["echoed"])
    c.run("formula as a correction's order_id", "corrections", "422 (not an order id), or stored and exported as "
          "text", "post", "/v1/corrections", role="operator", body={**CORRECTION, "order_id": FORMULA},
          must_not_echo=(FORMULA,), ok=lambda r, rec: r.status_code in (201, 422) and not rec["echoed"])
    c.run("formula as a correction's text, title and reason", "spreadsheets", "stored; exported as text (see the "
          "export item)", "post", "/v1/corrections", role="operator",
          body={**CORRECTION, "order_id": "SEC-formula", "text": FORMULA + " 停水", "title": "=1+1",
                "reason": "@SUM(A1)"}, must_not_echo=(FORMULA,), ok=lambda r, rec: r.status_code == 201)
    statuses = []
    for i in range(150):
        statuses.append(c.http.post("/v1/corrections", json={**CORRECTION, "order_id": f"SEC-rate-{i}"},
                                    headers=c.key("ratelimited")))
    limited = [r for r in statuses if r.status_code == 429]
    c.items.append({"item": "150 writes at once with one operator key", "owner": "auth",
                    "request": "POST /v1/corrections x150 (operator key)", "expect": "429 with Retry-After after the "
                    "burst (100)", "status": sorted({r.status_code for r in statuses}),
                    "retry_after": limited[0].headers.get("retry-after") if limited else None,
                    "accepted": sum(r.status_code == 201 for r in statuses), "limited": len(limited), "echoed": [],
                    "pass": bool(limited) and all(r.headers.get("retry-after") for r in limited)})


def export_checks(c: Check, tmp: Path, model: str | None) -> None:
    """Formula cells in files we write: the corrections export (CSV) and a batch XLSX output."""
    out = tmp / "export.csv"
    p = subprocess.run([CLI, "corrections", "export", "--db", str(c.db), "-o", str(out)], capture_output=True,
                       text=True, cwd=tmp)
    cells = []
    if out.exists():  # read as CSV proper: a quoted cell may hold a newline or a CR
        with open(out, encoding="utf-8", newline="") as fh:
            cells = [cell for row in csv.reader(fh) for cell in row]
    carried = [x for x in cells if "HYPERLINK" in x or x.lstrip("'") in ("=1+1", "@SUM(A1)")]
    live = [x for x in cells if x.startswith(("=", "+", "-", "@", "\t", "\r")) and not _number(x)]
    c.items.append({"item": "formula cells in the corrections export (CSV)", "owner": "spreadsheets",
                    "request": "dispatch-nlp corrections export -o export.csv", "expect": "no cell starts with = + - @",
                    "status": p.returncode, "live_formula_cells": len(live),
                    "formula_payload_cells": len(carried), "echoed": [],
                    "pass": p.returncode == 0 and not live})
    src = tmp / "orders.jsonl"
    src.write_text(json.dumps({"id": FORMULA, "text": "=1+1 停水了"}, ensure_ascii=False) + "\n", encoding="utf-8")
    xlsx = tmp / "out.xlsx"
    cmd = [CLI, "batch", str(src), "-o", str(xlsx), "-q"] + (["-m", model] if model else [])
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
    formulas = 0
    if xlsx.exists():
        with zipfile.ZipFile(xlsx) as z:
            formulas = sum(z.read(n).count(b"<f>") + z.read(n).count(b"<f ") for n in z.namelist()
                           if n.startswith("xl/worksheets/"))
    c.items.append({"item": "formula cells in a batch XLSX output", "owner": "spreadsheets",
                    "request": "dispatch-nlp batch orders.jsonl -o out.xlsx", "expect": "no <f> element",
                    "status": p.returncode, "live_formula_cells": formulas, "echoed": [],
                    "pass": xlsx.exists() and formulas == 0})


def _number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def markdown(report: dict) -> str:
    lines = ["# Security check: the attack list against a live server", "",
             "Made by `python benchmarks/security_check.py` (a `dispatch-nlp serve` subprocess on 127.0.0.1 with "
             "a temporary keys file and SQLite store). *echoed*: kinds of values sent that came back in the reply; "
             "*rows*: rows the store gained; *new PII stored*: kinds of personal data found in the store (every "
             "table and column) after the item and not before. Owner: the part of the hardening that makes the "
             "item pass (auth: access control; corrections: validation and personal data; spreadsheets: safe "
             "cells; service: request limits).", "",
             f"Run {report['finished']}, commit {report['commit']}: {report['summary']['passed']} passed, "
             f"{report['summary']['failed']} failed of {report['summary']['items']}.", "",
             "| # | attack | owner | expected | status | echoed | rows | new PII stored | result |",
             "| ---: | --- | --- | --- | --- | --- | ---: | --- | --- |"]
    for i, it in enumerate(report["items"], 1):
        status = it["status"]
        if it.get("reply_bytes", 0) > 10_000:
            status = f"{status}, {it['reply_bytes']:,}-byte reply in {it['seconds']} s"
        if it.get("retry_after"):
            status = f"{status} (Retry-After {it['retry_after']})"
        if "live_formula_cells" in it:
            status = f"exit {it['status']}, {it['live_formula_cells']} formula cells"
        if "limited" in it:
            status = f"{it['accepted']}×201, {it['limited']}×429 (Retry-After {it['retry_after']})"
        lines.append(f"| {i} | {it['item']} | {it['owner']} | {it['expect']} | {status} | "
                     f"{', '.join(it.get('echoed') or []) or '–'} | {it.get('stored_rows', '–')} | "
                     f"{', '.join(it.get('stored_pii_new') or []) or '–'} | {'pass' if it['pass'] else 'FAIL'} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="model directory (default: the shipped model)")
    ap.add_argument("-o", "--output", default=str(ROOT / "benchmarks" / "results" / "security.json"))
    ap.add_argument("--markdown", default=str(ROOT / "benchmarks" / "SECURITY.md"))
    args = ap.parse_args()

    from dispatch_nlp.service.keys import add_key

    tmp = Path(tempfile.mkdtemp(prefix="seccheck-"))
    keys, db = tmp / "keys.json", tmp / "corrections.db"
    secrets = {role: add_key(keys, f"{role}-1", role) for role in ("dispatch", "operator", "admin")}
    secrets["ratelimited"] = add_key(keys, "ops-rate", "operator")
    try:
        with live_server(["--corrections", str(db), "--keys-file", str(keys)], cwd=tmp, model=args.model) as base:
            check = Check(base, db, secrets)
            attacks(check)
    except ServerDidNotStart as exc:
        print(exc, file=sys.stderr)
        return 1
    export_checks(check, tmp, args.model)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                            ":!benchmarks/SECURITY.md", ":!benchmarks/results/security.json"],
                           capture_output=True, text=True, cwd=ROOT).stdout.strip()
    commit = commit.strip() + (" with uncommitted changes in the tree" if dirty else "")
    passed = sum(bool(it["pass"]) for it in check.items)
    report = {"finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": commit,
              "summary": {"items": len(check.items), "passed": passed, "failed": len(check.items) - passed},
              "pii_kinds": sorted(PII), "items": check.items}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    Path(args.markdown).write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Write the built part of ``catalog/places-beijing.tsv`` from ``catalog/places-beijing-sources.tsv``.

    python catalog/build_places.py [--check]

The places table keeps its hand-curated head (everything before the ``BUILT_MARK`` line); the rows
after the mark are regenerated from the source table, whose district and street *names* are resolved
against ``catalog/gazetteer-beijing.tsv``: a street must lie inside its district, a name already in
the curated head is skipped (the head wins), a linear feature gets one row per district.  Exits 1
naming every row that does not resolve.  ``--check``: exit 1 if the table is not what the build writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "places-beijing-sources.tsv"
TABLE = HERE / "places-beijing.tsv"
GAZETTEER = HERE / "gazetteer-beijing.tsv"
BUILT_MARK = "# -- rows below are built by catalog/build_places.py from places-beijing-sources.tsv; do not edit --"


def _rows(path: Path) -> list[list[str]]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    return [ln.split("\t") for ln in lines[1:]]


def build(sources: Path = SOURCES, table: Path = TABLE, gazetteer: Path = GAZETTEER) -> tuple[str, list[str]]:
    """The new table text and the problems found (empty when every row resolves)."""
    districts: dict[str, str] = {}
    streets: dict[tuple[str, str], str] = {}
    for f in _rows(gazetteer):
        code, name, level, parent = f[0], f[1], f[2], f[3]
        if level == "district":
            districts[name] = code
        elif level == "street":
            streets[parent, name] = code
    text = table.read_text(encoding="utf-8")
    head = text.split(BUILT_MARK)[0].rstrip("\n") + "\n"
    curated = {f[0] for f in (ln.split("\t") for ln in head.splitlines() if ln and not ln.startswith("#"))}
    out: list[str] = []
    problems: list[str] = []
    seen: set[str] = set()
    for f in _rows(sources):
        f += [""] * (5 - len(f))
        name, dnames, sname, kind, aliases = (x.strip() for x in f[:5])
        if name in curated or name in seen:
            continue
        seen.add(name)
        dlist = dnames.split("|")
        if kind == "linear" and (len(dlist) < 2 or sname):
            problems.append(f"{name}: a linear feature names two districts or more and no street")
            continue
        if kind != "linear" and len(dlist) != 1:
            problems.append(f"{name}: only a linear feature names several districts")
            continue
        for dname in dlist:
            dcode = districts.get(dname)
            if dcode is None:
                problems.append(f"{name}: no district {dname!r} in the gazetteer")
                continue
            code = dcode
            if sname:
                scode = streets.get((dcode, sname))
                if scode is None:
                    problems.append(f"{name}: no street {sname!r} inside {dname}")
                    continue
                code = scode
            out.append("\t".join((name, code, kind, aliases, "")))
    return head + BUILT_MARK + "\n" + "\n".join(out) + "\n", problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    text, problems = build()
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    if args.check:
        return 0 if TABLE.read_text(encoding="utf-8") == text else 1
    TABLE.write_text(text, encoding="utf-8")
    print(f"{TABLE}: {text.count(chr(10)) - text.split(BUILT_MARK)[0].count(chr(10)) - 1} built rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())

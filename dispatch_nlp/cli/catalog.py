"""``dispatch-nlp catalog validate PATH`` and ``dispatch-nlp catalog diff OLD NEW``.

Exit codes: 0 clean, 1 problems found, 2 a file could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from dispatch_nlp.errors import CatalogError
from dispatch_nlp.files import atomic_write
from dispatch_nlp.knowledge.catalog import Catalog, diff, validate
from dispatch_nlp.knowledge.gazetteer import Gazetteer
from dispatch_nlp.knowledge.units import UNIT_TYPES_HEADER, UnitsRegistry, read_unit_type_names

EXIT_OK, EXIT_PROBLEMS, EXIT_UNREADABLE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``catalog`` command (with ``validate`` and ``diff``) to the main CLI."""
    p = subparsers.add_parser(
        "catalog",
        help="check a dispatch catalog or compare two versions",
        description="Check a dispatch catalog file or compare two versions of one.",
    )
    sub = p.add_subparsers(dest="catalog_command", metavar="{validate,diff}")
    sub.required = True

    v = _subcommand(
        sub,
        cmd_validate,
        "report every problem of a catalog file (exit 1 if any)",
        "Report every problem of a catalog file (YAML or JSON), each naming the item path or line and what to "
        "fix. Exit 0 clean, 1 problems, 2 unreadable.",
    )
    v.add_argument("path", help="catalog file (.yaml/.yml/.json), or a gazetteer, places or units table (.tsv)")
    v.add_argument(
        "--units",
        metavar="PATH",
        help="units registry (TSV) to check unit types and ids against; default: the vocabulary of docs/contracts.md",
    )
    d = _subcommand(
        sub,
        cmd_diff,
        "list added, removed, renamed and moved items between two catalogs",
        "List items added, removed, renamed and moved (by parent change or by the new catalog's migration map) "
        "from OLD to NEW.",
    )
    d.add_argument("old", help="the earlier catalog file")
    d.add_argument("new", help="the later catalog file")
    d.add_argument("--json", action="store_true", help="print the diff as JSON")
    d.add_argument("-o", "--output", metavar="PATH", help="write the listing or JSON here instead of stdout")


def _subcommand(
    sub: argparse._SubParsersAction, func: Callable[[argparse.Namespace], int], help_text: str, description: str
) -> argparse.ArgumentParser:
    """A ``catalog`` subcommand named after its ``cmd_<name>`` function, which it runs."""
    p = sub.add_parser(func.__name__.removeprefix("cmd_"), help=help_text, description=description)
    p.set_defaults(func=func)
    return p


def _unreadable(path: str) -> str | None:
    """A message when ``path`` cannot be opened for reading, else None."""
    p = Path(path)
    if not p.exists():
        return f"{path}: no such file"
    if p.is_dir():
        return f"{path}: is a folder, not a catalog file"
    try:
        with p.open("rb"):
            pass
    except OSError as exc:
        return f"{path}: cannot read ({exc.strerror or exc})"
    return None


def _all_readable(command: str, paths: Iterable[str]) -> bool:
    """True when every path can be read; else says which cannot (on stderr) and returns False."""
    for path in paths:
        msg = _unreadable(path)
        if msg:
            print(f"dispatch-nlp catalog {command}: {msg}", file=sys.stderr)
            return False
    return True


def _print_problems(head: str, problems: list[str]) -> None:
    print(head)
    for problem in problems:
        print(f"  - {problem}")


def cmd_validate(args: argparse.Namespace) -> int:
    if not _all_readable("validate", [args.path] + ([args.units] if args.units else [])):
        return EXIT_UNREADABLE
    units = None
    if args.units:
        try:
            units = UnitsRegistry.load(args.units)
        except CatalogError as exc:
            _print_problems(
                f"units registry {args.units}: {len(exc.problems)} problem(s); fix it before checking units:",
                exc.problems,
            )
            return EXIT_PROBLEMS
    if args.path.lower().endswith((".tsv", ".txt")):
        return _validate_table(args.path)
    problems = validate(args.path, units=units)
    if problems:
        _print_problems(f"{args.path}: {len(problems)} problem(s)", problems)
        return EXIT_PROBLEMS
    catalog = Catalog.load(args.path, units=units)
    per_level: dict[int, int] = {}
    for item in catalog.items.values():
        per_level[item.level] = per_level.get(item.level, 0) + 1
    levels = ", ".join(f"L{k}: {v}" for k, v in sorted(per_level.items()))
    print(
        f"{args.path}: OK — {catalog.id} {catalog.version}, {len(catalog.items)} items ({levels}), "
        f"{len(catalog.leaves())} leaves, fingerprint {catalog.fingerprint()}"
    )
    return EXIT_OK


def _validate_table(path: str) -> int:
    """Gazetteer, places, units and unit type name tables: told apart by their header line."""
    header = ""
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for line in fh:
            if line.strip() and not line.startswith("#"):
                header = line.strip()
                break
    cols = header.split("\t")
    if cols[:3] == ["code", "name", "level"]:
        kind, problems = "gazetteer", Gazetteer.validate(path)
    elif cols[:3] == ["name", "code", "kind"]:
        kind, problems = "places table", Gazetteer.load(places=False).validate_places(path)
    elif cols[:2] == ["id", "name"]:
        kind, problems = "units registry", UnitsRegistry.validate(path, gazetteer=Gazetteer.load())
    elif cols == UNIT_TYPES_HEADER:
        kind, problems = "unit type names", _unit_type_name_problems(path)
    else:
        print(f"{path}: not a catalog table: the header should start with code/name/level (gazetteer), "
              "name/code/kind (places), id/name (units registry) or be unit_type/level/name (unit type names)")
        return EXIT_PROBLEMS
    if problems:
        _print_problems(f"{path}: {kind}, {len(problems)} problem(s)", problems)
        return EXIT_PROBLEMS
    print(f"{path}: OK — {kind}")
    return EXIT_OK


def _unit_type_name_problems(path: str) -> list[str]:
    try:
        read_unit_type_names(path)
    except CatalogError as exc:
        return list(exc.problems)
    return []


# One line per entry of each section of a diff, in the order the listing shows them.
_DIFF_LINES: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("added", lambda e: f"  + {e['code']}  {e['path']}"),
    ("removed", lambda e: f"  - {e['code']}  {e['path']}" + (f"  ({e['via']})" if e.get("via") else "")),
    ("renamed", lambda e: f"  ~ {e['code']}  {e['old_name']} → {e['new_name']}  ({e['new_path']})"),
    ("moved", lambda e: f"  > {e['old_code']} {e['old_path']}  →  {e['new_code']} {e['new_path']}  (by {e['via']})"),
)


def format_diff(result: dict[str, Any]) -> str:
    """The diff as a readable listing."""
    old, new = result["old"], result["new"]
    lines = [
        f"catalog diff {old['catalog']} {old['version']} → {new['catalog']} {new['version']}: "
        f"{len(result['added'])} added, {len(result['removed'])} removed, {len(result['renamed'])} renamed, "
        f"{len(result['moved'])} moved"
    ]
    for key, line in _DIFF_LINES:
        if result[key]:
            lines.append(f"{key}:")
            lines += [line(e) for e in result[key]]
    return "\n".join(lines) + "\n"


def cmd_diff(args: argparse.Namespace) -> int:
    if not _all_readable("diff", (args.old, args.new)):
        return EXIT_UNREADABLE
    catalogs = []
    for path in (args.old, args.new):
        try:
            catalogs.append(Catalog.load(path))
        except CatalogError as exc:
            _print_problems(
                f"{path}: {len(exc.problems)} problem(s); run 'dispatch-nlp catalog validate {path}':", exc.problems
            )
            return EXIT_PROBLEMS
    result = diff(catalogs[0], catalogs[1])
    text = json.dumps(result, ensure_ascii=False, indent=2) + "\n" if args.json else format_diff(result)
    if args.output:
        atomic_write(args.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK

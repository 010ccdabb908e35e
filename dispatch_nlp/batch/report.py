"""What a run tells its user: the summary (rows, routes, flags, errors, time) and, with a label to
compare, the change report a centre needs after a catalog or model revision (``OUTPUT.changes.json``
and a readable ``OUTPUT.changes.md``)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from dispatch_nlp.files import atomic_write


class Summary:
    """Counts over output rows; fed the rows in order as they are written."""

    def __init__(self, names: list[str]):
        self.ix = {n: i for i, n in enumerate(names)}
        self.rows = 0
        self.routes: Counter = Counter()
        self.flags: Counter = Counter()
        self.errors: Counter = Counter()
        self.seconds = 0.0

    def add(self, rows: list[list]) -> None:
        r, f, e = self.ix["route"], self.ix["flags"], self.ix["error"]
        for row in rows:
            self.rows += 1
            self.routes[row[r]] += 1
            if row[f]:
                self.flags.update(row[f].split(","))
            if row[e]:
                self.errors[row[e].split(":", 1)[0]] += 1

    def to_dict(self) -> dict:
        return {"rows": self.rows, "routes": dict(self.routes.most_common()), "flags": dict(self.flags.most_common()),
                "errors": sum(self.errors.values()), "errors_by_kind": dict(self.errors.most_common()),
                "seconds": round(self.seconds, 3),
                "rows_per_second": round(self.rows / self.seconds, 1) if self.seconds > 0 else None}


def summary_text(d: dict) -> str:
    """The end-of-run summary for people (``Summary.to_dict()`` in, a few lines out)."""
    def fmt(c: dict) -> str:
        return ", ".join(f"{k} {v}" for k, v in c.items()) or "none"

    rate = f" ({d['rows_per_second']:.0f} rows/s)" if d.get("rows_per_second") else ""
    return (f"rows: {d['rows']} in {d['seconds']:.1f} s{rate}\n"
            f"routes: {fmt(d['routes'])}\n"
            f"flags: {fmt(d['flags'])}\n"
            f"errors: {d['errors']}" + (f" ({fmt(d['errors_by_kind'])})" if d["errors"] else ""))


class ChangeReport:
    """Which categories moved where, and how many orders now go somewhere else."""

    def __init__(self, names: list[str]):
        self.ix = {n: i for i, n in enumerate(names)}
        self.rows = 0
        self.compared = 0
        self.unchanged = 0
        self.not_in_catalog: Counter = Counter()
        self.bad_rows = 0
        self.moves: Counter = Counter()
        self.first_level: Counter = Counter()
        self.route_changed = 0
        self.route_compared = 0
        self.route_moves: Counter = Counter()
        self.by_new_route: Counter = Counter()
        self.versions: dict = {}

    def add(self, rows: list[list]) -> None:
        g = {n: i for n, i in self.ix.items()}
        if rows and not self.versions:
            self.versions = {"catalog_version": rows[0][g["catalog_version"]],
                             "model_version": rows[0][g["model_version"]]}
        for row in rows:
            self.rows += 1
            label = row[g["label_before"]]
            if label is None:
                continue
            if row[g["error"]]:
                self.bad_rows += 1
                continue
            if row[g["code_before"]] is None:
                self.not_in_catalog[label] += 1
                continue
            self.compared += 1
            before = (row[g["code_before"]], row[g["path_before"]])
            after = (row[g["category_code"]], row[g["category_path"]])
            if not row[g["category_changed"]]:
                self.unchanged += 1
            else:
                self.moves[(before, after)] += 1
                self.by_new_route[row[g["route"]]] += 1
                first = (before[1].split(" > ")[0], (after[1] or "(none)").split(" > ")[0])
                if first[0] != first[1]:
                    self.first_level[first] += 1
            if row[g["route_changed"]] is not None:
                self.route_compared += 1
                if row[g["route_changed"]]:
                    self.route_changed += 1
                    dec = json.loads(row[g["decision"]])
                    after_dest = _destination(dec)
                    self.route_moves[(row[g["unit_before"]] or "unassigned", after_dest)] += 1

    def to_dict(self) -> dict:
        def cat(code, path):
            return {"code": code, "path": path}

        return {
            **self.versions,
            "rows": self.rows,
            "with_label": self.compared + self.bad_rows + sum(self.not_in_catalog.values()),
            "compared": self.compared,
            "unchanged": self.unchanged,
            "category_changed": self.compared - self.unchanged,
            "category_changed_share": round((self.compared - self.unchanged) / self.compared, 4) if self.compared else None,
            "not_in_catalog": sum(self.not_in_catalog.values()),
            "not_in_catalog_labels": dict(self.not_in_catalog.most_common(50)),
            "bad_rows": self.bad_rows,
            "route_compared": self.route_compared,
            "route_changed": self.route_changed,
            "moves": [{"from": cat(*b), "to": cat(*a), "count": n} for (b, a), n in self.moves.most_common()],
            "moves_first_level": [{"from": b, "to": a, "count": n} for (b, a), n in self.first_level.most_common()],
            "moved_orders_by_new_route": dict(self.by_new_route.most_common()),
            "destination_changes": [{"from": b, "to": a, "count": n} for (b, a), n in self.route_moves.most_common(200)],
        }

    def write(self, output: Path, meta: dict) -> tuple[Path, Path]:
        data = {**meta, **self.to_dict()}
        jpath = output.with_name(output.name + ".changes.json")
        mpath = output.with_name(output.name + ".changes.md")
        atomic_write(jpath, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        atomic_write(mpath, markdown(data))
        return jpath, mpath


def _destination(dec: dict) -> str:
    if dec["route"] == "emergency_transfer":
        return f"transfer:{dec.get('transfer_to')}"
    if dec["route"] in ("out_of_scope", "return_to_district"):
        return dec["route"]
    primary = (dec.get("units") or {}).get("primary")
    return primary["id"] if primary else "unassigned"


def markdown(d: dict, limit: int = 50) -> str:
    share = f" ({d['category_changed_share']:.1%})" if d.get("category_changed_share") is not None else ""
    lines = [
        f"# Reclassification changes: {d.get('input', '')}",
        "",
        f"Catalog {d.get('catalog_version')}, model {d.get('model_version') or 'rules only'}; "
        f"existing labels from column `{d.get('compare_col')}`.",
        "",
        "| | orders |", "| --- | ---: |",
        f"| rows | {d['rows']} |",
        f"| with an existing label | {d['with_label']} |",
        f"| compared | {d['compared']} |",
        f"| same category | {d['unchanged']} |",
        f"| category changed | {d['category_changed']}{share} |",
        f"| label not in the catalog | {d['not_in_catalog']} |",
        f"| unreadable rows | {d['bad_rows']} |",
        f"| destination changed (unit, transfer or scope) | {d['route_changed']} of {d['route_compared']} |",
        "",
    ]
    if d["moves_first_level"]:
        lines += ["## Moves between first-level categories", "", "| from | to | orders |", "| --- | --- | ---: |"]
        lines += [f"| {m['from']} | {m['to']} | {m['count']} |" for m in d["moves_first_level"][:limit]]
        lines.append("")
    if d["moves"]:
        lines += [f"## Category moves (top {min(limit, len(d['moves']))} of {len(d['moves'])})", "",
                  "| from | to | orders |", "| --- | --- | ---: |"]
        lines += [f"| {m['from']['path']} ({m['from']['code']}) | {m['to']['path'] or '(no category)'} "
                  f"({m['to']['code'] or '-'}) | {m['count']} |" for m in d["moves"][:limit]]
        lines.append("")
    if d["moved_orders_by_new_route"]:
        lines += ["## Moved orders by new route", "", "| route | orders |", "| --- | ---: |"]
        lines += [f"| {k} | {v} |" for k, v in d["moved_orders_by_new_route"].items()]
        lines.append("")
    if d["destination_changes"]:
        lines += ["## Destination changes (top)", "", "| before | now | orders |", "| --- | --- | ---: |"]
        lines += [f"| {m['from']} | {m['to']} | {m['count']} |" for m in d["destination_changes"][:limit]]
        lines.append("")
    if d["not_in_catalog_labels"]:
        lines += ["## Labels not in the catalog", "", "| label | orders |", "| --- | ---: |"]
        lines += [f"| {k} | {v} |" for k, v in list(d["not_in_catalog_labels"].items())[:limit]]
        lines.append("")
    return "\n".join(lines)

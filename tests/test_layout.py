"""The package layout's rules, read from the source with ``ast`` (nothing is imported):

- the runtime (``dispatch_nlp/`` outside ``cli/``) never imports training or benchmark code, and the
  CLI reaches it only inside command functions (lazily);
- nothing in ``dispatch_nlp/``, ``training/`` or ``benchmarks/`` edits ``sys.path``;
- no module there is over 500 lines, except the generated tables listed below;
- the ``[train]`` extra that ``dispatch_nlp.training`` checks for is setup.cfg's.
"""

from __future__ import annotations

import ast
import configparser
import re
from pathlib import Path

import pytest

from .conftest import ROOT

MAX_LINES = 500
# Modules allowed over MAX_LINES: generated tables only, each with the reason (path relative to ROOT).
GENERATED_TABLES: dict[str, str] = {}

TOOL_PACKAGES = ("dispatch_nlp.training", "dispatch_nlp.benchmarks", "training", "benchmarks")
SOURCE_DIRS = ("dispatch_nlp", "training", "benchmarks")
SYS_PATH_METHODS = {"insert", "append", "extend", "remove", "pop", "clear", "__setitem__", "__iadd__"}


def _modules(*dirs: str) -> list[Path]:
    return sorted(p for d in dirs for p in (ROOT / d).rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _package_of(path: Path) -> str:
    """The dotted package a module lives in, as installed (training/ and benchmarks/ under dispatch_nlp)."""
    parts = list(path.relative_to(ROOT).parent.parts)
    if parts and parts[0] in ("training", "benchmarks"):
        parts = ["dispatch_nlp", *parts]
    return ".".join(parts)


def _imported(node: ast.AST, path: Path) -> list[str]:
    """Absolute module names an import statement names (relative ones resolved; ``from X import y``
    gives both X and X.y, since y may be a module)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            pkg = _package_of(path).split(".")  # level 1: the module's folder; each level more: one up
            pkg = pkg[: len(pkg) - (node.level - 1)]
            base = ".".join([*pkg, base] if base else pkg)
        return [base] + [f"{base}.{a.name}" for a in node.names]
    if (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return [node.args[0].value]
    return []


def _is_tool(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in TOOL_PACKAGES)


def _runtime_modules() -> list[Path]:
    skip = ("dispatch_nlp/training/", "dispatch_nlp/benchmarks/", "dispatch_nlp/cli/")
    return [p for p in _modules("dispatch_nlp") if not _rel(p).startswith(skip)]


def test_the_runtime_never_imports_training_or_benchmark_code():
    modules = _runtime_modules()
    assert len(modules) > 30 and not any(_rel(p).startswith("dispatch_nlp/cli/") for p in modules)
    found = []
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            found += [f"{_rel(path)}:{node.lineno}: {name}" for name in _imported(node, path) if _is_tool(name)]
    assert not found, "runtime modules import training/benchmark code:\n" + "\n".join(found)


def test_the_cli_reaches_training_and_benchmarks_only_lazily():
    """Inside command functions only: ``dispatch-nlp dispatch`` must not import torch's neighbourhood."""
    found = []
    for path in _modules("dispatch_nlp/cli"):
        for node in ast.parse(path.read_text("utf-8"), str(path)).body:  # module level only
            found += [f"{_rel(path)}:{node.lineno}: {name}" for name in _imported(node, path) if _is_tool(name)]
    assert not found, "CLI modules import training/benchmark code at module level:\n" + "\n".join(found)


def _is_sys_path(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name)
            and node.value.id == "sys")


def _sys_path_edits(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_sys_path(node.func.value) \
                and node.func.attr in SYS_PATH_METHODS:
            lines.append(node.lineno)  # sys.path.insert(...), .append(...), ...
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for t in targets:
                if _is_sys_path(t) or (isinstance(t, ast.Subscript) and _is_sys_path(t.value)):
                    lines.append(node.lineno)  # sys.path = ..., sys.path += ..., sys.path[:0] = ...
        elif isinstance(node, ast.ImportFrom) and node.module == "sys" and any(a.name == "path" for a in node.names):
            lines.append(node.lineno)  # from sys import path: a handle to edit it by another name
    return lines


def test_nothing_edits_sys_path():
    found = [f"{_rel(p)}:{n}" for p in _modules(*SOURCE_DIRS) for n in _sys_path_edits(ast.parse(p.read_text("utf-8")))]
    assert not found, "sys.path edited at:\n" + "\n".join(found)


@pytest.mark.parametrize("source, edits", [
    ("import sys\nsys.path.insert(0, 'x')\n", 1),
    ("import sys\nsys.path.append('x')\n", 1),
    ("import sys\nsys.path = ['x']\n", 1),
    ("import sys\nsys.path += ['x']\n", 1),
    ("import sys\nsys.path[:0] = ['x']\n", 1),
    ("import sys\nprint(sys.path, len(sys.path))\n", 0),
])
def test_the_sys_path_check_sees_the_usual_edits(source, edits):
    assert len(_sys_path_edits(ast.parse(source))) == edits


def test_the_import_check_sees_relative_and_dynamic_imports():
    path = ROOT / "dispatch_nlp" / "batch" / "run.py"
    tree = ast.parse("from .. import training\nimport importlib\nimportlib.import_module('benchmarks.harness')\n"
                     "from dispatch_nlp.routing import router\n")
    names = [n for node in ast.walk(tree) for n in _imported(node, path)]
    assert [n for n in names if _is_tool(n)] == ["dispatch_nlp.training", "benchmarks.harness"]


def test_no_module_over_500_lines_except_generated_tables():
    long = {_rel(p): n for p in _modules(*SOURCE_DIRS) if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES}
    unexpected = {p: n for p, n in long.items() if p not in GENERATED_TABLES}
    assert not unexpected, f"modules over {MAX_LINES} lines (split them by responsibility): {unexpected}"
    stale = [p for p in GENERATED_TABLES if p not in long]
    assert not stale, f"listed as long generated tables but missing or short now (drop them from the list): {stale}"


def test_the_train_extra_checked_on_import_is_setup_cfgs():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    declared = {re.split(r"[<>=!~ ;\[]", line.strip(), maxsplit=1)[0].lower().replace("-", "_")
                for line in cfg["options.extras_require"]["train"].splitlines() if line.strip()}
    tree = ast.parse((ROOT / "training" / "__init__.py").read_text("utf-8"))
    checked = next(ast.literal_eval(n.value) for n in tree.body
                   if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "TRAIN_EXTRA" for t in n.targets))
    assert set(checked) == declared


def test_every_package_folder_is_installed():
    """A package folder missing from setup.cfg's list works in the editable checkout and is silently left
    out of a wheel: every folder with an ``__init__.py`` must be listed, under its installed name."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    listed = {line.strip() for line in cfg["options"]["packages"].splitlines() if line.strip()}
    mapped = {"dispatch_nlp": ROOT / "dispatch_nlp", "dispatch_nlp.training": ROOT / "training",
              "dispatch_nlp.benchmarks": ROOT / "benchmarks"}
    found = set()
    for name, folder in mapped.items():
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder).parts
            if "__pycache__" not in rel:
                found.add(".".join((name, *rel)))
    assert found - listed == set(), f"package folders not in setup.cfg [options] packages: {sorted(found - listed)}"
    assert listed - found == set(), f"setup.cfg lists packages that do not exist: {sorted(listed - found)}"


def test_the_old_spark_import_path_still_works_and_warns():
    import importlib
    import sys

    sys.modules.pop("dispatch_nlp.spark", None)
    with pytest.warns(DeprecationWarning, match="dispatch_nlp.batch.spark"):
        old = importlib.import_module("dispatch_nlp.spark")
    from dispatch_nlp.batch.spark import reclassify

    assert old.reclassify is reclassify


def test_python_dash_m_dispatch_nlp_cli_still_runs():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "dispatch_nlp.cli", "--version"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()

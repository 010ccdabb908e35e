"""Reading a catalog file: YAML (with the line of every mapping, for messages) or JSON by suffix.

``source_of(path_or_data)`` returns ``(Source | None, problems)``: a :class:`Source` holds the parsed
data, the name to put in messages and the line numbers; None with the problems when the file cannot
be read or parsed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader that remembers the line of every mapping (by object id) for messages."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.lines: dict[int, int] = {}


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[dict]:
    data: dict = {}
    yield data
    data.update(loader.construct_mapping(node))
    loader.lines[id(data)] = node.start_mark.line + 1


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


class Source:
    """Parsed catalog data plus where it came from (for messages)."""

    def __init__(self, data: Any, name: str, lines: dict[int, int] | None = None):
        self.data = data
        self.name = name
        self.lines = lines or {}

    def where(self, obj: Any) -> str:
        """`` [line N]`` for a mapping read from YAML, else ``""``."""
        line = self.lines.get(id(obj))
        return f" [line {line}]" if line else ""


def read_file(path: Path) -> tuple[Source | None, list[str]]:
    """Parse ``path``; raises OSError when it cannot be read, returns problems for bad syntax."""
    raw = path.read_bytes()
    name = str(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [f"{name}: not UTF-8 text (byte {exc.start}); save the catalog as UTF-8"]
    if path.suffix.lower() == ".json":
        try:
            return Source(json.loads(text), name), []
        except json.JSONDecodeError as exc:
            return None, [f"{name}: line {exc.lineno}, column {exc.colno}: JSON syntax error: {exc.msg}"]
    loader = _LineLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return None, [f"{name}: {at}YAML syntax error: {exc.problem or exc}; fix the indentation or quoting there"]
    except yaml.YAMLError as exc:
        return None, [f"{name}: YAML error: {exc}"]
    finally:
        loader.dispose()
    return Source(data, name, loader.lines), []


def source_of(data_or_path: Any) -> tuple[Source | None, list[str]]:
    """A :class:`Source` from a path (str or Path) or from already parsed data."""
    if isinstance(data_or_path, (str, Path)):
        path = Path(data_or_path)
        try:
            return read_file(path)
        except OSError as exc:
            return None, [f"{path}: cannot read the file ({exc.strerror or exc}); check the path"]
    return Source(data_or_path, "<catalog data>"), []

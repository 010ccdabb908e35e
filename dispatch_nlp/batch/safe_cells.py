"""Spreadsheet cells that cannot execute: the one rule every table writer of the project follows.

A spreadsheet program (Excel, WPS, LibreOffice) reads a cell that starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return as a formula, so an order text or id such as ``=HYPERLINK("http://…","…")``
would become a live link or a computation when the output is opened. The rule:

- **text** (every ``str`` value: ids, order texts, labels, paths; anything read from input) is written
  as text. In XLSX it is a string cell, never a formula, whatever it starts with (its value unchanged);
  in CSV/TSV a value that starts with one of ``FORMULA_START`` gets a leading ``'``, which spreadsheet
  programs show as the text that follows it.
- **numbers we compute** (confidence, deadline hours, row numbers; ``int``/``float``/``bool``) stay
  numbers: in XLSX a number cell, in CSV their plain digits (a number cannot hold a formula).

``csv_cell`` and ``xlsx_cell`` apply it; ``dispatch-nlp batch`` (``batch.io.RowWriter``) and
``dispatch-nlp corrections export`` (``lifecycle.correction_tables``) write through them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FORMULA_START", "is_formula_like", "neutralise", "csv_cell", "xlsx_cell"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet program could read ``text`` as a formula."""
    return text.startswith(FORMULA_START)


def neutralise(text: str) -> str:
    """``text`` as a CSV/TSV cell that a spreadsheet shows as text: ``'`` before a formula-like start."""
    return "'" + text if is_formula_like(text) else text


def csv_cell(value: Any) -> str:
    """One CSV/TSV cell: None → empty, bool → true/false, numbers as digits, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return neutralise(str(value))


def xlsx_cell(ws: Any, value: Any, illegal: Any = None) -> Any:
    """One cell for an openpyxl write-only sheet ``ws``: text always a string cell (``data_type`` ``s``,
    written as an inline string, never an ``<f>`` formula), numbers and booleans as they are.
    ``illegal`` is a compiled pattern of characters XLSX cannot hold (removed from text)."""
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, str):
        text = illegal.sub("", value) if illegal is not None else value
        cell = WriteOnlyCell(ws, value=text)
        cell.data_type = "s"  # openpyxl guessed "f" for "=…" (and "e" for "#N/A"): text it is
        return cell
    return WriteOnlyCell(ws, value=value)

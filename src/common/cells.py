"""Spreadsheet-safe cells: the one formula-injection guard every CSV we write goes through.

A spreadsheet runs a cell whose text starts with ``= + - @`` as a formula, and Excel and
LibreOffice also do so after a leading tab or carriage return, and a spreadsheet that trims
spaces on import (LibreOffice's option, Google Sheets) after any leading whitespace. Such
text gets a leading ``'`` (shown as text, never evaluated); text already starting with ``'``
gets one too, so :func:`unescape_cell` undoes the guard exactly (``telemetry-import`` reads
exports back).
The export CSV (:mod:`src.export.csv`), the dashboard's ``/api/telemetry?format=csv`` and
``telemetry-sql --format csv`` use :func:`csv_cell` / :func:`escape_cell`; nothing else
writes CSV cells.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["FORMULA_START", "csv_cell", "escape_cell", "unescape_cell"]

FORMULA_START: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "'")
_FORMULA = ("=", "+", "-", "@")


def escape_cell(text: str) -> str:
    """Text a spreadsheet shows as text (never evaluates); :func:`unescape_cell` undoes it."""
    if text.startswith(FORMULA_START) or text.lstrip().startswith(_FORMULA):
        return "'" + text
    return text


def unescape_cell(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def csv_cell(value: Any) -> Any:
    """One CSV cell: numbers stay numbers, booleans are words, everything else guarded text."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        return escape_cell(value)
    return escape_cell(orjson.dumps(value, default=str).decode())

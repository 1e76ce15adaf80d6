"""The one CSV formula guard: what a spreadsheet would evaluate is shown as text, reversibly."""

from __future__ import annotations

import pytest

from src.common.cells import csv_cell, escape_cell, unescape_cell


@pytest.mark.parametrize(
    "text",
    [
        ' =HYPERLINK("http://x")',  # spreadsheets that trim spaces on import evaluate it
        "   +1+1",
        "\n=1+1",  # a quoted cell may start with a line break
        "\u00a0@SUM(A1)",  # no-break space
        " \t -1",
    ],
)
def test_whitespace_before_a_formula_start_is_guarded(text):
    assert escape_cell(text) == "'" + text
    assert unescape_cell(escape_cell(text)) == text
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("text", [" plain", "  2025-01-01", "a=b", "", " "])
def test_other_text_is_left_alone(text):
    assert escape_cell(text) == text

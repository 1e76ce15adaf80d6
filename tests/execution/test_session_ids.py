"""Session ids become file names: only safe ones pass."""

from __future__ import annotations

import pytest

from src.execution.session_ids import validate_session_id


@pytest.mark.parametrize(
    "good", ["session_123", "demo-20250101T120000Z", "a", "node1:sess@2025+x=1", "A.b-c_d"]
)
def test_safe_ids_pass(good):
    """Ordinary ids are returned unchanged."""
    assert validate_session_id(good) == good


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "../etc",
        "a/b",
        "a\\b",
        "/abs",
        "..",
        ".",
        ".hidden",
        "x..y",
        "tab\tid",
        "nl\nid",
        "nul\x00id",
        "sp ace",
        "x" * 201,
        "ünï",
    ],
)
def test_unsafe_ids_are_refused_naming_the_value(bad):
    """Separators, '..', absolute paths, control chars and overlong ids raise ValueError."""
    with pytest.raises(ValueError, match="invalid session_id") as info:
        validate_session_id(bad)
    assert "\n" not in str(info.value)
    assert repr(bad[:77])[:20] in str(info.value)


@pytest.mark.parametrize("bad", [None, 5, b"bytes"])
def test_non_strings_are_refused(bad):
    """Non-string ids are refused with a clear message."""
    with pytest.raises(ValueError, match="must be a string"):
        validate_session_id(bad)

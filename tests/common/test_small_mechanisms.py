"""src.common.backoff, src.common.units and src.common.atomicfile."""

from __future__ import annotations

import pytest

from src.common.backoff import Backoff, doubling_delays
from src.common.units import human_bytes, human_duration, percent, plural


def test_doubling_delays_are_capped():
    assert doubling_delays(1.0, 30.0, 6) == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert doubling_delays(0.0, 5.0, 2) == [0.0, 0.0]
    assert doubling_delays(1.0, 5.0, 0) == []


def test_backoff_jitters_within_the_upper_half_and_resets():
    b = Backoff(0.1, 1.0)
    for ceiling in (0.1, 0.2, 0.4, 0.8, 1.0, 1.0):
        d = b.next_delay()
        assert ceiling / 2 <= d <= ceiling
    assert b.reset() == 6
    assert b.failures == 0
    for _ in range(200):  # far past any float overflow
        b.next_delay()
    assert b.next_delay() <= 1.0


def test_backoff_refuses_nonsense():
    with pytest.raises(ValueError, match="0 < initial <= max"):
        Backoff(0.0, 1.0)
    with pytest.raises(ValueError):
        Backoff(2.0, 1.0)


def test_units():
    assert human_bytes(512) == "512 B"
    assert human_bytes(19.5 * 1024) == "19.5 KB"
    assert human_bytes(5 * 1024**4) == "5120.0 GB"
    assert plural(1, "file") == "1 file" and plural(2, "file") == "2 files"
    assert human_duration(45) == "45s" and human_duration(300) == "5 min"
    assert human_duration(9000) == "2.5 h" and human_duration(172_800) == "2.0 days"
    assert percent(0.123) == "12.3%" and percent(0.01234, 2) == "1.23%"


def test_atomic_write_and_its_temporary_name(tmp_path):
    """write_atomic replaces the file whole and leaves no temporary file; an export's output
    is written under the same hidden sibling name."""
    import os

    from src.common.atomicfile import temp_sibling, write_atomic
    from src.export.output import OutputFile

    target = tmp_path / "state.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    assert temp_sibling(target) == tmp_path / f".state.json.{os.getpid()}.tmp"
    out = OutputFile(tmp_path / "export.csv")
    try:
        assert out.tmp == temp_sibling(tmp_path / "export.csv")
    finally:
        out.abort()

"""FilteringEmitter: include_kinds and min_severity from the config's filters section."""

from __future__ import annotations

import pytest

from src.execution.telemetry import FilteringEmitter
from src.execution.telemetry.testing import InMemoryEmitter


def test_only_included_kinds_pass(make_event):
    """include_kinds=["intent","fill","error"] skips orders and gates (the spec's example)."""
    inner = InMemoryEmitter()
    filt = FilteringEmitter(inner, include_kinds=["intent", "fill", "error"])
    for kind in ("intent", "gate", "order", "fill", "error"):
        filt.emit(make_event(kind=kind, payload={}))
    assert inner.kinds() == ["intent", "fill", "error"]
    assert filt.filtered == 2


def test_min_severity_drops_lower_events(make_event):
    """min_severity='warning' keeps errors and blocked gates only."""
    inner = InMemoryEmitter()
    filt = FilteringEmitter(inner, min_severity="warning")
    filt.emit(make_event(kind="gate", payload={"passed": True}))
    filt.emit(make_event(kind="gate", payload={"passed": False}))
    filt.emit(make_event(kind="fill"))
    filt.emit(make_event(kind="error", payload={"error": "x"}))
    assert [e.kind for e in inner] == ["gate", "error"]


def test_min_severity_info_skips_debug(make_event):
    """min_severity='info' (the shipped config) skips events marked debug."""
    inner = InMemoryEmitter()
    filt = FilteringEmitter(inner, min_severity="info")
    filt.emit(make_event(payload={"severity": "debug"}))
    filt.emit(make_event())
    assert len(inner) == 1


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [({"include_kinds": ["fill", "trade"]}, "trade"), ({"min_severity": "loud"}, "loud")],
)
def test_bad_filter_values_name_the_value(kwargs, bad):
    """Unknown kinds or severities are refused with the bad value in the message."""
    with pytest.raises(ValueError, match=bad):
        FilteringEmitter(InMemoryEmitter(), **kwargs)

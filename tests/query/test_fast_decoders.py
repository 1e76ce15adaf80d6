"""Every line our own pipeline writes (and a replayed copy of it) takes the fast decoders.

The lean decoders forbid keys they do not declare, so a key the pipeline starts writing
without declaring it there silently sends every such line to the slow path: counts stay
right, scans get slower. This pins the declared keys to what the pipeline really writes.
"""

from __future__ import annotations

import msgspec

from src.execution.events import copy_of
from src.execution.schema import KINDS
from src.execution.serialization import encode_event_line
from src.execution.telemetry.testing import capture_events
from src.query import records, scan_events
from tests.execution.lifecycle_scenario import run_every_path


def pipeline_events():
    """Every path of an order's life: fills in one piece and several, blocks, rejects,
    cancels, expiries, errors of each stage (tests/execution/lifecycle_scenario.py)."""
    with capture_events() as sink:
        run_every_path(sink)
    return list(sink.events)


def test_every_kind_the_pipeline_writes_decodes_on_the_fast_path():
    events = pipeline_events()
    assert {e.kind for e in events} == set(KINDS)
    copies = [copy_of(e, session_id="replayed") for e in events]
    for event in [*events, *copies]:
        line = encode_event_line(event).rstrip(b"\n")
        try:
            scan_events.scan_decoder.decode(line)
            records.scan_decoder.decode(line)
        except msgspec.ValidationError as exc:  # pragma: no cover - the failure message
            raise AssertionError(f"{event.kind} line takes the slow path: {exc}") from exc

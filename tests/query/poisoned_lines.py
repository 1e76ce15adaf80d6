"""Lines that used to take out every reader of their session (a traceback in the CLI, 500s
on the dashboard, a failed export, an alert engine that judged nothing): instants beyond
the datetime range, nesting 2000 deep, numbers beyond a double. Shared by the tests of
each reader; every one of them must count these as invalid and go on."""

from __future__ import annotations


def poisoned_lines(session: str) -> list[bytes]:
    sid = session.encode()
    return [
        b'{"ts": "9999-12-31T23:59:59-23:59", "session_id": "%s", "kind": "gate", '
        b'"payload": {"gate_name": "G", "passed": true}}\n' % sid,
        b'{"ts": "0001-01-01T00:00:00+01:00", "session_id": "%s", "kind": "error", '
        b'"payload": {"error": "old"}}\n' % sid,
        b'{"ts": "2026-01-01T00:00:00Z", "session_id": "%s", "kind": "intent", "payload": '
        b'{"x": %b}}\n' % (sid, b"[" * 2000 + b"]" * 2000),
        b'{"ts": "2026-01-01T00:00:00Z", "session_id": "%s", "kind": "fill", '
        b'"payload": {"fill_price": 1e400, "filled_quantity": %b}}\n' % (sid, b"9" * 330),
    ]

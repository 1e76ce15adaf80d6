"""The dashboard reads any number of sessions with few descriptors and leaks none, even
when a request fails mid-way."""

from __future__ import annotations

import os
import resource

from src.webui.app import create_app
from src.webui.settings import WebSettings
from tests.query.test_many_sessions import write_sessions
from tests.webui.loopback import loopback_client


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_requests_over_many_sessions_return_descriptors_to_the_baseline(tmp_path):
    base = tmp_path / "logs"
    write_sessions(base, 300)
    settings = WebSettings(base_path=base, summary_max_age_s=0)
    with loopback_client(create_app(settings=settings), raise_server_exceptions=False) as client:
        assert client.get("/api/telemetry", params={"limit": 50}).status_code == 200
        baseline = open_fds()
        r = client.get("/api/telemetry", params={"limit": 2000})
        assert r.status_code == 200 and r.json()["count"] == 900
        assert open_fds() == baseline
        # Few descriptors left: the old merge opened one per session and failed part way,
        # keeping those it had opened; now one file is open at a time.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (baseline + 8, hard))
        try:
            squeezed = client.get("/api/telemetry", params={"limit": 2000})
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        assert squeezed.status_code in (200, 500)
        assert open_fds() == baseline
        again = client.get("/api/telemetry", params={"limit": 2000})
        assert again.status_code == 200 and again.json()["count"] == 900
        assert open_fds() == baseline

"""The dashboard's session summaries across restarts: its own saved state (chart index
included) resumes; a session only the CLI summarised answers from the CLI's state at once
while the chart index is built in the background; every summary and chart equals one pass.

Real files, the real CLI in a subprocess, the app through the loopback client."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from src.query.analytics.summary import SummaryBuilder
from src.query.engine import summarize
from src.query.filters import EventFilter
from src.query.incremental import IncrementalSummary
from src.query.summary_state import STATE_DIR, StateStore
from src.webui.app import create_app
from src.webui.chart_index import ChartedSummaryBuilder
from src.webui.settings import WebSettings
from src.webui.summaries import SummaryCache
from tests.webui.loopback import loopback_client
from tests.webui.test_charts import _cycle

T0 = 1_800_000_000.0
AS_OF = T0 + 10 * 3600
SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD")


def session(n: int, start: int = 0) -> bytes:
    """``n`` intent/order/fill cycles of session "s", 7 s apart (a new chart bucket for
    most), latencies and symbols varying."""
    return b"".join(
        _cycle(T0 + i * 7, i, 1.0 + (i * 37) % 90, SYMBOLS[i % 3]) for i in range(start, start + n)
    )


def states(base: Path) -> list[Path]:
    d = base / STATE_DIR
    return sorted(d.glob("*.state")) if d.is_dir() else []


def one_pass(base: Path) -> dict[str, Any]:
    flt = EventFilter.build(session_id="s")
    return summarize(base, flt, as_of=AS_OF, saved_state=False, workers=1).to_dict()


def one_pass_charts(base: Path) -> list[Any]:
    inc = IncrementalSummary(base, "s", builder_factory=ChartedSummaryBuilder, persist=False)
    inc.refresh(as_of=AS_OF)
    return [inc.builder.charts.window(s) for s in (300, 900, None)]  # type: ignore[attr-defined]


def cli_summary(base: Path, repo_root: Path) -> None:
    args = [sys.executable, "-m", "src.cli.view_telemetry", "--session", "s", "--summary"]
    args += ["--plain", "--path", str(base)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=repo_root)
    assert out.returncode == 0, out.stderr


def wait_for(predicate, what: str, limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.01)


class Gated(ChartedSummaryBuilder):
    """A charted builder whose reads wait for ``gate`` (a class attribute: not saved)."""

    gate = threading.Event()
    entered = threading.Event()

    def consume(self, blocks, stats, match=None, **kw):  # type: ignore[no-untyped-def]
        Gated.entered.set()
        assert Gated.gate.wait(30), "the test never opened the gate"
        super().consume(blocks, stats, match, **kw)


@pytest.fixture
def gated():
    Gated.gate.clear()
    Gated.entered.clear()
    yield Gated
    Gated.gate.set()


def app_over(base: Path, factory: Any = ChartedSummaryBuilder):
    settings = WebSettings(base_path=base, summary_max_age_s=0)
    app = create_app(settings=settings)
    app.state.summaries = SummaryCache(settings, builder_factory=factory)
    return app


def test_the_dashboards_own_state_saves_and_resumes_with_its_charts(tmp_path):
    (tmp_path / "s.jsonl").write_bytes(session(400))
    with loopback_client(app_over(tmp_path)) as c:
        assert c.get("/api/live/execution/s").status_code == 200
        entry = c.app.state.summaries.get("s")
        assert not entry.resumed and entry.persist_error is None
        assert c.get("/healthz").json()["summary_state_errors"] == 0
    # The dashboard's own state (a defaultdict in the chart index made it unsavable); the
    # plain one too unless the server stopped before its worker wrote it.
    charted = StateStore(tmp_path, "s", ChartedSummaryBuilder()).name
    assert charted in [p.name for p in states(tmp_path)] and len(states(tmp_path)) <= 2

    with loopback_client(app_over(tmp_path)) as c:
        entry = c.app.state.summaries.get("s")
        assert entry.charted.resumed  # answered from the state: nothing read
        assert entry.summary(as_of=AS_OF).to_dict() == one_pass(tmp_path)
        assert entry.charts_state == "decoding"  # the builder: not decoded for the summary
        assert entry.charts(None) is None  # the first ask has the worker decode it
        wait_for(lambda: entry.charts_state == "ready", "the saved chart index")
        assert [entry.charts(s) for s in (300, 900, None)] == one_pass_charts(tmp_path)
        # The resumed index goes on exactly: events in the open bucket and in new ones.
        with (tmp_path / "s.jsonl").open("ab") as fh:
            fh.write(session(50, start=400))
        assert entry.summary(as_of=AS_OF).to_dict() == one_pass(tmp_path)
        assert [entry.charts(s) for s in (300, 900, None)] == one_pass_charts(tmp_path)
        assert "Building charts" not in c.get("/live/execution/s/live").text


def test_a_session_only_the_cli_summarised_answers_at_once_and_builds_charts_behind(
    tmp_path, repo_root, gated
):
    (tmp_path / "s.jsonl").write_bytes(session(400))
    cli_summary(tmp_path, repo_root)
    (cli_state,) = states(tmp_path)
    with loopback_client(app_over(tmp_path, gated)) as c:
        body = c.get("/api/live/execution/s").json()
        assert body["summary"]["event_count"] == 1200
        entry = c.app.state.summaries.get("s")
        assert entry.resumed and not entry.charted.resumed  # the CLI's state answered
        assert entry.summary(as_of=AS_OF).to_dict() == one_pass(tmp_path)
        assert not gated.entered.is_set()  # the JSON API alone starts no chart build
        html = c.get("/live/execution/s").text
        assert 'id="count-total">1200<' in html  # the cards are complete already
        assert 'data-pending="building"' in html and "Building charts" in html
        assert gated.entered.wait(30)  # the page had the worker read the session
        assert entry.charts_state == "building" and entry.charts(None) is None
        assert c.get("/healthz").json()["charts_pending"] == 1

        gated.gate.set()
        wait_for(lambda: entry.charts_state == "ready", "the chart index")
        assert [entry.charts(s) for s in (300, 900, None)] == one_pass_charts(tmp_path)
        assert entry.summary(as_of=AS_OF).to_dict() == one_pass(tmp_path)  # now the charted one
        html = c.get("/live/execution/s/live").text
        assert "Building charts" not in html and html.count('<svg class="chart"') == 4
        assert c.get("/healthz").json()["charts_pending"] == 0
    # Built once, the dashboard saved its own state: the next start needs no read at all.
    assert len(states(tmp_path)) == 2 and cli_state in states(tmp_path)
    with loopback_client(app_over(tmp_path, gated)) as c:
        entry = c.app.state.summaries.get("s")
        assert entry.charted.resumed
        assert entry.summary(as_of=AS_OF).to_dict() == one_pass(tmp_path)


class Unsavable(ChartedSummaryBuilder):
    """A builder holding what the state codec refuses (as the chart index once did)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.extra: defaultdict[str, int] = defaultdict(int)


def test_saved_state_that_cannot_start_is_logged_and_counted(tmp_path, caplog):
    (tmp_path / "s.jsonl").write_bytes(session(20))
    with caplog.at_level(logging.WARNING), loopback_client(app_over(tmp_path, Unsavable)) as c:
        assert c.get("/api/live/execution/s").json()["summary"]["event_count"] == 60
        assert c.get("/healthz").json()["summary_state_errors"] == 1
    assert "summary state of session 's' is off" in caplog.text
    assert "cannot save a defaultdict" in caplog.text
    # Not its own; at most the plain one (the builder without its extras can be saved).
    plain = StateStore(tmp_path, "s", SummaryBuilder()).name
    assert {p.name for p in states(tmp_path)} <= {plain}


def test_a_stop_ends_the_background_read_and_nothing_is_saved(tmp_path, gated):
    (tmp_path / "s.jsonl").write_bytes(session(1000))  # 3,000 lines: several batches
    summarize(tmp_path, EventFilter.build(session_id="s"), as_of=AS_OF)  # the CLI's state
    settings = WebSettings(base_path=tmp_path, summary_max_age_s=0)
    cache = SummaryCache(settings, builder_factory=gated)
    entry = cache.get("s")
    assert entry.summary().event_count == 3000
    assert entry.charts(None) is None
    assert gated.entered.wait(30)
    cache.close()  # the server stops while the worker reads
    gated.gate.set()
    wait_for(lambda: entry.charts_state == "stopped", "the read to stop")
    assert len(states(tmp_path)) == 1  # only the CLI's: the half-read one is dropped
    assert entry.summary(as_of=AS_OF).to_dict() == one_pass(tmp_path)  # requests still served


def test_an_evicted_session_drops_its_chart_build(tmp_path, gated):
    for sid in ("s", "t"):
        data = session(50).replace(b'"session_id": "s"', f'"session_id": "{sid}"'.encode())
        (tmp_path / f"{sid}.jsonl").write_bytes(data)
        summarize(tmp_path, EventFilter.build(session_id=sid), as_of=AS_OF)
    settings = WebSettings(base_path=tmp_path, max_cached_sessions=1)
    cache = SummaryCache(settings, builder_factory=gated)
    first = cache.get("s")
    first.summary()
    first.charts(None)
    assert gated.entered.wait(30)
    second = cache.get("t")  # evicts "s": its read stops
    second.summary()
    second.charts(None)
    gated.gate.set()
    wait_for(lambda: second.charts_state == "ready", "the remaining session's charts")
    assert first.charts_state == "stopped"
    cache.close()


# In a new process, as the CLI's --summary reads: the lines it read and one pass's equality.
_CLI_READ = """
import sys
from src.query.analytics.summary import SummaryBuilder
from src.query.engine import summarize
from src.query.filters import EventFilter
read = [0]
def progress(done, total, lines_read):
    read[0] = max(read[0], lines_read)
flt = EventFilter.build(session_id=sys.argv[3])
got = summarize(sys.argv[1], flt, as_of=float(sys.argv[2]), progress=progress)
again = summarize(sys.argv[1], flt, as_of=float(sys.argv[2]), saved_state=False, workers=1)
print(read[0], got == again)
"""


def cli_reads(base: Path, repo_root: Path, session: str = "s") -> tuple[int, bool]:
    """(lines read, equal to one pass) of a summary in a new process."""
    args = [sys.executable, "-c", _CLI_READ, str(base), str(AS_OF), session]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=repo_root)
    assert out.returncode == 0, out.stderr
    lines, equal = out.stdout.split()
    return int(lines), equal == "True"


def test_after_the_dashboard_the_cli_summary_reads_nothing_or_only_what_is_new(tmp_path, repo_root):
    """The dashboard's saves keep the plain state current too (written by its worker): a
    CLI summary after it reads 0 lines of the session, then only the appended ones, and
    equals one pass each time."""
    (tmp_path / "s.jsonl").write_bytes(session(400))
    settings = WebSettings(base_path=tmp_path, summary_max_age_s=0)
    cache = SummaryCache(settings)
    try:
        entry = cache.get("s")
        assert entry.summary(as_of=AS_OF).to_dict() == one_pass(tmp_path)  # a full read
        cache._worker._pool.submit(lambda: None).result(timeout=60)  # its queue drained
        assert cli_reads(tmp_path, repo_root) == (0, True)
        cli_summary(tmp_path, repo_root)  # the real CLI resumes from it as well
    finally:
        cache.close()
    with (tmp_path / "s.jsonl").open("ab") as fh:
        fh.write(session(10, start=400))
    assert cli_reads(tmp_path, repo_root) == (30, True)  # 10 cycles of 3 lines

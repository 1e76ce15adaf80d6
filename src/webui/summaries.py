"""The dashboard's session summaries: the cards at once, the charts as soon as they can be.

Each session the dashboard shows has an incremental summary whose builder also keeps the
live charts' index (:class:`~src.webui.chart_index.ChartedSummaryBuilder`). It saves and
resumes its state as every reader does, in a state of its own (its builder is not the
CLI's). What the first request of a new dashboard process pays depends on what was saved:

* the dashboard's own state: the summary is the saved one (milliseconds); the builder,
  chart index included, is decoded by the background worker (~0.2 s for 1M events);
* only another reader's plain state (the CLI's ``--summary``, the bridge, exports): the
  summary comes from that state at once, through a plain incremental summary; the chart
  index needs a full read, which the background worker does, after which the dashboard's
  own summary takes over (it saves its state then, so the next start is the first case);
* nothing saved: one full read now, which gives both (the first request waits for it).

Meanwhile the charts say so (:attr:`SessionSummary.charts_state`) and the page refreshes
until they are there. Every summary shown equals one pass over the session, whichever of
the two answered it.

One worker thread for all sessions (one full read at a time on a small machine); at most
one job per cached session waits; a session evicted from the cache drops its job, and
:meth:`SummaryCache.close` (server shutdown) ends a running read within ~1,000 lines.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from src.query.analytics.summary_model import Summary
from src.query.incremental import Cancelled, IncrementalSummary
from src.webui.chart_index import ChartedSummaryBuilder, RangeData
from src.webui.settings import WebSettings

__all__ = ["ChartsState", "SessionSummary", "SummaryCache"]

log = logging.getLogger("src.webui")

# "ready": charts can be drawn; "decoding": the saved builder is being read; "building": a
# full read for the chart index runs (or waits for the worker); "failed": it raised (see
# the log); "stopped": the server is stopping, or the session left the cache.
ChartsState = Literal["ready", "decoding", "building", "failed", "stopped"]


class _Worker:
    """One background thread for every session's chart index, started when first needed."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dashboard-charts")
        self.failures = 0
        self.thread: threading.Thread | None = None  # the worker's, once it ran a job

    def submit(self, job: Callable[[], None]) -> bool:
        try:
            self._pool.submit(job)
        except RuntimeError:  # shut down: the server is stopping
            return False
        return True

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class SessionSummary:
    """One session's summary and chart index for the dashboard (see the module docstring).

    ``summary()`` answers at once from whatever was saved; ``charts(seconds)`` is None
    until the chart index is there (``charts_state`` says why)."""

    def __init__(
        self,
        base: Path,
        session_id: str,
        *,
        max_age_s: float,
        builder_factory: Callable[[], ChartedSummaryBuilder],
        worker: _Worker,
    ) -> None:
        self.session_id = session_id
        self._worker = worker
        self._stop = threading.Event()
        self.charted = IncrementalSummary(
            base,
            session_id,
            max_age_s=max_age_s,
            builder_factory=builder_factory,
            stop=self._stopped_here,
        )
        self.persist_error = self.charted.persist_error
        self._plain: IncrementalSummary | None = None  # answers while the index is built
        self.charts_state: ChartsState = "ready"
        self._job: Callable[[], None] | None = None  # submitted after the first summary
        if self.charted.resume():
            self.charts_state, self._job = "decoding", self._decode
            return
        plain = IncrementalSummary(base, session_id, max_age_s=max_age_s)
        if plain.resume():
            self._plain = plain
            self.charts_state, self._job = "building", self._build
        # Nothing saved (or nothing that holds): the first refresh reads it all, charts too.

    @property
    def resumed(self) -> bool:
        """The summary started from a saved state (the dashboard's own or another's)."""
        plain = self._plain
        return self.charted.resumed or (plain is not None and plain.resumed)

    def summary(self, as_of: float | None = None) -> Summary:
        plain = self._plain
        out = plain.refresh(as_of=as_of) if plain is not None else self.charted.refresh(as_of=as_of)
        self._start()
        return out

    def charts(self, seconds: int | None) -> RangeData | None:
        """The chart index's data for the last ``seconds`` (None: the whole session), or
        None while it is not there yet (call :meth:`summary` first: it reads what is new)."""
        self._start()
        if self.charts_state != "ready":
            return None
        builder = self.charted.builder
        assert isinstance(builder, ChartedSummaryBuilder)
        return builder.charts.window(seconds)

    def _start(self) -> None:
        """Hand the pending job to the worker (after the first summary: that request does
        not wait for the worker's hold on the summary)."""
        job, self._job = self._job, None
        if job is not None and not self._worker.submit(lambda: self._run(job)):
            self.charts_state = "stopped"

    def _stopped_here(self) -> bool:
        """Only the worker's read stops: a request reading what is new finishes its read."""
        return self._stop.is_set() and threading.current_thread() is self._worker.thread

    def _run(self, job: Callable[[], None]) -> None:
        self._worker.thread = threading.current_thread()
        if self._stop.is_set():
            self.charts_state = "stopped"
            return
        try:
            job()
        except Cancelled:
            self.charts_state = "stopped"
        except Exception:
            self._worker.failures += 1
            self.charts_state = "failed"
            log.exception("chart index of session %r could not be built", self.session_id)

    def _decode(self) -> None:
        """The dashboard's own saved builder, read now (a damaged one: the session is read
        again, as the summary would)."""
        _ = self.charted.builder
        self.charts_state = "ready"

    def _build(self) -> None:
        """A full read with the charted builder; then it answers the summary too."""
        self.charted.refresh()  # saves the dashboard's own state (when the root is writable)
        self.charts_state = "ready"
        self._plain = None

    def close(self) -> None:
        """Stop the session's background work (a read raises within ~1,000 lines)."""
        self._stop.set()
        if self.charts_state != "ready":
            self.charts_state = "stopped"


class SummaryCache:
    """At most ``max_cached_sessions`` sessions' summaries, least recently used evicted.

    ``builder_factory``: the charted builder (tests give one they can hold back)."""

    def __init__(
        self,
        settings: WebSettings,
        builder_factory: Callable[[], ChartedSummaryBuilder] = ChartedSummaryBuilder,
    ) -> None:
        self._settings = settings
        self._factory = builder_factory
        self._items: OrderedDict[str, SessionSummary] = OrderedDict()
        self._lock = threading.Lock()
        self._worker = _Worker()
        self.persist_errors = 0  # sessions opened whose saved state could not be used

    def summary(self, session_id: str) -> Summary:
        return self.get(session_id).summary()

    def get(self, session_id: str) -> SessionSummary:
        with self._lock:
            item = self._items.get(session_id)
            if item is None:
                item = SessionSummary(
                    self._settings.base_path,
                    session_id,
                    max_age_s=self._settings.summary_max_age_s,
                    builder_factory=self._factory,
                    worker=self._worker,
                )
                if item.persist_error is not None:
                    self.persist_errors += 1
                self._items[session_id] = item
            self._items.move_to_end(session_id)
            while len(self._items) > self._settings.max_cached_sessions:
                self._items.popitem(last=False)[1].close()
        return item

    def health(self) -> dict[str, int]:
        """For ``/healthz``: saved-state failures and the chart index's background work."""
        with self._lock:
            items = list(self._items.values())
        pending = sum(item.charts_state in ("decoding", "building") for item in items)
        return {
            "summary_state_errors": self.persist_errors,
            "charts_pending": pending,
            "chart_build_failures": self._worker.failures,
        }

    def close(self) -> None:
        """Stop every background read and the worker (server shutdown)."""
        with self._lock:
            items = list(self._items.values())
        for item in items:
            item.close()
        self._worker.close()

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

Each save of the dashboard's state also keeps the plain state current (its builder without
the chart index; written by the background worker), so a CLI ``--summary`` after the
dashboard reads only what was appended since.

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
    until the chart index is there (``charts_state`` says why). The first call of
    ``charts`` starts the background work: a client of the JSON API alone never pays
    for a chart index it does not show."""

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
        self._base, self._max_age_s, self._factory = base, max_age_s, builder_factory
        self._worker = worker
        self._stop = threading.Event()
        self._start = threading.Lock()  # one job per session, whatever asks at once
        self._started = False
        # The dashboard's own summary (charts included), once it is ready.
        self.charted = self._charted()
        self.persist_error = self.charted.persist_error
        # What answers meanwhile: the dashboard's saved summary, not decoded (the worker
        # decodes another copy: a request never waits for that), or another reader's.
        self._answer: IncrementalSummary | None = None
        self.charts_state: ChartsState = "ready"
        if self.charted.resume():
            self._answer, self.charts_state = self.charted, "decoding"
            return
        plain = IncrementalSummary(base, session_id, max_age_s=max_age_s)
        if plain.resume():
            self._answer, self.charts_state = plain, "building"
        # Nothing saved (or nothing that holds): the first refresh reads it all, charts too.

    def _charted(self) -> IncrementalSummary:
        return IncrementalSummary(
            self._base,
            self.session_id,
            max_age_s=self._max_age_s,
            builder_factory=self._factory,
            stop=self._stopped_here,
            plain_too=True,  # the CLI, the bridge and exports resume after the dashboard
            defer=self._worker.submit,  # that extra save runs in the worker, not a request
        )

    @property
    def resumed(self) -> bool:
        """The summary started from a saved state (the dashboard's own or another's)."""
        answer = self._answer
        return (answer or self.charted).resumed

    def summary(self, as_of: float | None = None) -> Summary:
        return (self._answer or self.charted).refresh(as_of=as_of)

    def charts(self, seconds: int | None) -> RangeData | None:
        """The chart index's data for the last ``seconds`` (None: the whole session), or
        None while it is not there yet (call :meth:`summary` first: it reads what is new)."""
        if self.charts_state != "ready":
            with self._start:
                started, self._started = self._started, True
            if not started and not self._worker.submit(self._run):
                self.charts_state = "stopped"
            return None
        builder = self.charted.builder
        assert isinstance(builder, ChartedSummaryBuilder)
        return builder.charts.window(seconds)

    def _stopped_here(self) -> bool:
        """Only the worker's read stops: a request reading what is new finishes its read."""
        return self._stop.is_set() and threading.current_thread() is self._worker.thread

    def _run(self) -> None:
        self._worker.thread = threading.current_thread()
        if self._stop.is_set():
            self.charts_state = "stopped"
            return
        try:
            self._prepare()
        except Cancelled:
            self.charts_state = "stopped"
        except Exception:
            self._worker.failures += 1
            self.charts_state = "failed"
            log.exception("chart index of session %r could not be built", self.session_id)

    def _prepare(self) -> None:
        """In the worker: the dashboard's own summary, from its saved state (decoded; a
        damaged one is read again) or from a full read (which saves that state, when the
        root is writable), then brought up to date; it answers from then on."""
        charted = self._charted()
        if charted.resume():
            _ = charted.builder  # decoded now, not by a request
        charted.refresh()  # a full read when nothing was resumed; else only what is new
        self.charted = charted
        self.charts_state = "ready"
        self._answer = None

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

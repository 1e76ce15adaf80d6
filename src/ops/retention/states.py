"""Saved summary states in retention's accounting.

Readers keep each session's summary state under ``<root>/.summary/``
(:mod:`src.query.summary_state`): about 20 bytes per event, plus about 330 per order still
open, so they count against the size cap with the logs. A state goes when retention
deletes a log file it covers (the apply removes it with the file,
:func:`src.query.state_retention.file_removed`); a state whose session has no file left
under the root (an orphan) is deleted on its own. The plan lists both, so a dry run names
every state that would go. A save's temporary file (``.<state>.<pid>.tmp``) counts too;
one left by a save that did not finish (its process gone, or older than
:data:`~src.query.state_retention.STALE_TEMP_S`) is removed, one being written never (the
apply takes the state's lock first).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from src.query.state_file import STATE_DIR, state_prefix
from src.query.state_marks import Mark
from src.query.state_retention import StateInfo, kept_when_compressed, list_states

if TYPE_CHECKING:
    from .inventory import LogFile

__all__ = ["StateFile", "scan_states"]


@dataclass(frozen=True)
class StateFile:
    """One saved summary state under the root."""

    name: str  # in STATE_DIR
    size: int
    mtime: float
    session_id: str | None  # None: no session under the root has it (an orphan)
    covers: dict[str, Mark] | None  # log files it covers -> their marks; None: unknown
    temp: bool = False  # a save's temporary file, not a state (counted, never a cache)
    stale: bool = False  # a temp whose save did not finish: removed by housekeeping

    @property
    def rel(self) -> str:
        return f"{STATE_DIR}/{self.name}"

    def goes_with(self, deleted: Collection[str]) -> bool:
        """Deleting its session's log files ``deleted`` removes this state (an unreadable
        state goes with any of them)."""
        return bool(deleted) and (self.covers is None or not self.covers.keys().isdisjoint(deleted))

    def goes_with_compressed(self, f: LogFile, *, merged: bool) -> bool:
        """Compressing its session's log ``f`` removes this state: merged into an existing
        ``.gz``, or not kept by the rule the apply follows (:func:`kept_when_compressed`:
        it must have read that very file to its last line end)."""
        if self.covers is None:
            return True
        mark = self.covers.get(f.rel)
        return mark is not None and (
            merged or not kept_when_compressed(mark, f.dev, f.ino, f.line_end)
        )


def scan_states(
    root: Path, session_ids: Iterable[str], found: Sequence[StateInfo] | None = None
) -> tuple[StateFile, ...]:
    """The states under ``root`` (or ``found``: listed before the sessions were, so that a
    session that appears meanwhile is not missed and its new state taken for an orphan),
    each given its session among ``session_ids`` (every session found under the root, ours
    or not) or None."""
    by_prefix = {state_prefix(sid): sid for sid in session_ids}
    return tuple(
        StateFile(s.name, s.size, s.mtime, by_prefix.get(s.prefix), s.covers, s.temp, s.stale)
        for s in (list_states(root) if found is None else found)
    )

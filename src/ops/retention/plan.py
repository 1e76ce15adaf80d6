"""The retention plan: which files to delete or compress and why. Pure: no file is touched.

Rules, applied in this order, each oldest first ((mtime, path); sessions by their newest
file, then id), so the same inventory always gives the same plan:

1. **age** - a file older than ``max_age_days`` is deleted, unless its session is one of
   the ``keep_last_n`` most recently written sessions (kept, however old) or it is live.
2. **compress** - a plain file older than ``compress_after_days`` and not live is gzipped
   (merged into the session's existing ``.jsonl.gz`` in the same directory, if any).
   Protected sessions are compressed too: compression loses nothing.
3. **size** - while the estimated total is above ``max_total_mb``, the oldest session that
   is neither protected nor live is deleted whole. If the cap still cannot be met, the plan
   says so and why (protected and live sessions are never given up to meet it).
4. **housekeeping** - heartbeat files of writers not heard from for ``max_age_days``, saved
   summary states whose session has no file left, and temporary files of state saves that
   did not finish (these two counted off before the size cap).

Saved summary states (``.summary/``, :mod:`.states`) count in the total; a state is deleted
with its session's files (age: when a file it covers goes; compress: when the file goes
into the session's existing ``.gz`` or the state covered less than the file; size: with the
whole session).

Sizes after compression are estimates until the run has happened (a ratio measured on a
sample of the files to compress); the report after ``--apply`` gives measured sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from src.execution.telemetry.heartbeat import WRITERS_DIR

from .inventory import Inventory, LogFile, Session
from .policy import DAY_S, RetentionPolicy
from .states import StateFile

__all__ = ["GZIP_OVERHEAD", "Action", "Plan", "Skip", "make_plan"]

GZIP_OVERHEAD = 64  # bytes of header and trailer per gzip member, for estimates
PHASES = ("age", "compress", "size", "housekeeping")


@dataclass(frozen=True)
class Action:
    kind: str  # "delete" | "compress"
    phase: str  # one of PHASES
    rel: str  # path relative to the root
    session_id: str | None
    size: int
    mtime: float
    reason: str
    estimated_after: int  # bytes the file will take afterwards (0 when deleted)
    file: LogFile | None = None
    file_kind: str = "log"  # "log" | "summary_state" | "heartbeat"

    def as_dict(self) -> dict[str, object]:
        return {
            "action": self.kind,
            "phase": self.phase,
            "path": self.rel,
            "session_id": self.session_id,
            "bytes": self.size,
            "mtime": self.mtime,
            "reason": self.reason,
            "estimated_bytes_after": self.estimated_after,
            "file_kind": self.file_kind,
        }


@dataclass(frozen=True)
class Skip:
    rel: str
    session_id: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.rel, "session_id": self.session_id, "reason": self.reason}


@dataclass
class Plan:
    policy: RetentionPolicy
    now: float
    sessions: int
    files: int
    protected_sessions: int
    live_sessions: int
    size_before: int
    estimated_after: int
    compression_ratio: float
    actions: list[Action] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cap_unmet: bool = False
    states: int = 0  # saved summary states found
    state_bytes: int = 0
    orphan_states: int = 0
    stale_temps: int = 0  # temporary files of saves that did not finish


def make_plan(
    inv: Inventory, policy: RetentionPolicy, *, now: float, compression_ratio: float
) -> Plan:
    """The plan for ``inv`` under ``policy`` at time ``now`` (POSIX seconds)."""
    by_recency = sorted(inv.sessions, key=lambda s: (-s.mtime, s.session_id))
    protected = {s.session_id for s in by_recency[: policy.keep_last_n]}
    plan = Plan(
        policy=policy,
        now=now,
        sessions=len(inv.sessions),
        files=inv.files,
        protected_sessions=len(protected),
        live_sessions=sum(1 for s in inv.sessions if s.live),
        size_before=inv.size,
        estimated_after=inv.size,
        compression_ratio=compression_ratio,
        states=sum(1 for st in inv.states if not st.temp),
        state_bytes=inv.state_size,
    )
    chosen: dict[str, Action] = {}
    total = inv.size
    states_of: dict[str, list[StateFile]] = {}
    for st in inv.states:
        if st.session_id is not None and not st.temp:
            states_of.setdefault(st.session_id, []).append(st)

    def retire_states(s: Session, phase: str, reason: str) -> None:
        """The states of ``s`` that go with its files deleted so far."""
        nonlocal total
        states = states_of.get(s.session_id, ())
        if not states:
            return
        deleted = set()
        for f in s.files:
            action = chosen.get(f.rel)
            if action is not None and action.kind == "delete":
                deleted.add(f.rel)
        for st in states:
            if st.rel not in chosen and st.goes_with(deleted):
                chosen[st.rel] = _state_action(st, phase, reason)
                total -= st.size

    def estimate(f: LogFile) -> int:
        return min(f.size, int(f.size * compression_ratio) + GZIP_OVERHEAD)

    # 1. age
    age_limit = now - policy.max_age_days * DAY_S
    for s in inv.sessions:
        for f in _oldest_first(s):
            if f.mtime >= age_limit:
                continue
            if s.session_id in protected:
                plan.skipped.append(
                    Skip(
                        f.rel,
                        s.session_id,
                        f"older than {policy.max_age_days} days but kept: "
                        f"one of the newest {policy.keep_last_n} sessions (--keep-last-n)",
                    )
                )
            elif f.live:
                plan.skipped.append(
                    Skip(
                        f.rel,
                        s.session_id,
                        f"older than {policy.max_age_days} days but live: {f.live}",
                    )
                )
            else:
                days = int((now - f.mtime) // DAY_S)
                chosen[f.rel] = Action(
                    "delete",
                    "age",
                    f.rel,
                    s.session_id,
                    f.size,
                    f.mtime,
                    f"older than {policy.max_age_days} days ({days} days)",
                    0,
                    f,
                )
                total -= f.size
        retire_states(s, "age", "saved summary state of files deleted for their age")

    # 2. compress
    if policy.compress_after_days:
        limit = now - policy.compress_after_days * DAY_S
        for s in inv.sessions:
            for f in _oldest_first(s):
                if f.gz or f.rel in chosen or f.mtime >= limit:
                    continue
                if f.live:
                    plan.skipped.append(
                        Skip(
                            f.rel,
                            s.session_id,
                            f"older than {policy.compress_after_days} days but live: {f.live}",
                        )
                    )
                    continue
                days = int((now - f.mtime) // DAY_S)
                merge = any(g.gz and g.directory == f.directory for g in s.files)
                why = f"older than {policy.compress_after_days} days ({days} days)"
                if merge:
                    why += f"; merged into {f.name}.gz"
                after = estimate(f)
                chosen[f.rel] = Action(
                    "compress", "compress", f.rel, s.session_id, f.size, f.mtime, why, after, f
                )
                total -= f.size - after
                for st in states_of.get(s.session_id, ()):
                    if st.rel not in chosen and st.goes_with_compressed(f, merged=merge):
                        reason = "saved summary state of a file compressed " + (
                            "into its session's .gz" if merge else "after it was saved"
                        )
                        chosen[st.rel] = _state_action(st, "compress", reason)
                        total -= st.size

    # 4 (counted before the size cap). saved summary states of sessions that are gone
    for st in inv.states:
        if st.temp:
            if st.stale:
                plan.stale_temps += 1
                chosen[st.rel] = _state_action(
                    st, "housekeeping", "temporary file of a save that did not finish"
                )
                total -= st.size
        elif st.session_id is None:
            plan.orphan_states += 1
            chosen[st.rel] = _state_action(
                st, "housekeeping", "saved summary state of a session with no log file left"
            )
            total -= st.size

    # 3. size cap. Saved summary states are caches (any reader rebuilds one) and logs are
    # not: the states of sessions not being written go first, oldest session first.
    cap = policy.max_total_bytes
    if cap and total > cap:
        for s in sorted(inv.sessions, key=lambda s: (s.mtime, s.session_id)):
            if total <= cap:
                break
            if s.live:
                continue
            for st in states_of.get(s.session_id, ()):
                if st.rel not in chosen:
                    chosen[st.rel] = _state_action(
                        st,
                        "size",
                        "saved summary state dropped for the size cap (rebuilt when next read)",
                    )
                    total -= st.size
    if cap and total > cap:
        kept_protected = kept_live = 0
        for s in inv.sessions:
            if total <= cap:
                break
            if s.session_id in protected:
                kept_protected += 1
                continue
            if s.live:
                kept_live += 1
                continue
            for f in _oldest_first(s):
                previous = chosen.get(f.rel)
                if previous is not None and previous.kind == "delete":
                    continue
                current = previous.estimated_after if previous is not None else f.size
                chosen[f.rel] = Action(
                    "delete",
                    "size",
                    f.rel,
                    s.session_id,
                    f.size,
                    f.mtime,
                    f"size cap {policy.max_total_mb} MB exceeded (oldest unprotected session)",
                    0,
                    f,
                )
                total -= current
            retire_states(s, "size", "saved summary state of a session deleted for the size cap")
        if total > cap:
            plan.cap_unmet = True
            plan.notes.append(
                f"size cap {policy.max_total_mb} MB cannot be met: about "
                f"{total / 2**20:.1f} MB remain in {len(protected)} protected sessions "
                f"(--keep-last-n {policy.keep_last_n}) and {plan.live_sessions} live ones; "
                "lower --keep-last-n to free more"
            )

    # 4. housekeeping
    for hb in inv.heartbeats:
        if hb.mtime < age_limit:
            days = int((now - hb.mtime) // DAY_S)
            rel = f"{WRITERS_DIR}/{hb.name}"
            chosen[rel] = Action(
                "delete",
                "housekeeping",
                rel,
                None,
                hb.size,
                hb.mtime,
                f"writer heartbeat not updated for {days} days",
                0,
                file_kind="heartbeat",
            )

    order = {p: i for i, p in enumerate(PHASES)}
    plan.actions = sorted(chosen.values(), key=lambda a: (order[a.phase], a.mtime, a.rel))
    plan.skipped.sort(key=lambda k: (k.rel, k.reason))
    plan.estimated_after = max(0, total)
    return plan


def _state_action(st: StateFile, phase: str, reason: str) -> Action:
    return Action(
        "delete", phase, st.rel, st.session_id, st.size, st.mtime, reason, 0, None, "summary_state"
    )


def _oldest_first(session: Session) -> list[LogFile]:
    return sorted(session.files, key=lambda f: (f.mtime, f.rel))

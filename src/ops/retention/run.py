"""One retention run: scan, plan, hand the plan out (printed before anything happens), then,
with ``apply``, act on it and measure the result.

An applying run holds ``<root>/.retention.lock`` exclusively, so two runs never work on the
same root at once. It first completes what an interrupted run left (:mod:`.recovery`),
then plans, then acts phase by phase (age deletions, compression, size cap, housekeeping),
re-checking every file just before touching it. If compression saved less than estimated
and the size cap is still exceeded, a second size-cap pass on measured sizes follows and
is reported as such. Sizes after an applied run are measured, not estimated.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from src.common.locks import open_lock_file, try_lock_exclusive
from src.execution.telemetry.heartbeat import WRITERS_DIR
from src.query.files import is_day_dir, list_sessions
from src.query.state_retention import list_states, remove_state

from .gzfiles import estimate_ratio
from .inventory import Inventory, scan, utc_day
from .plan import Action, Plan, make_plan
from .policy import RetentionPolicy
from .recovery import find_leftovers, recover
from .retire import Retired, RootDirs, Skipped, compress_file, delete_file, finalize
from .state import record_run

__all__ = ["LOCK_FILE", "Outcome", "RetentionBusy", "RunReport", "run_retention"]

LOCK_FILE = ".retention.lock"
SAMPLE_FILES = 8
SAMPLE_BYTES = 256 * 1024
# Threads for compressing and removing files: the time goes to fsync and to journal waits
# in unlink, which overlap across threads (the GIL is released), not to CPU.
IO_WORKERS = 8

StepFn = Callable[[str, int, int], None]  # progress(stage, done, total)


class RetentionBusy(Exception):
    """Another retention run holds the root's lock."""


@dataclass
class Outcome:
    action: Action
    status: str  # "done" | "skipped" | "failed"
    detail: str = ""
    bytes_after: int = 0
    extra: bool = False  # from the second size-cap pass

    def as_dict(self) -> dict[str, object]:
        return {
            **self.action.as_dict(),
            "status": self.status,
            "detail": self.detail,
            "bytes_after": self.bytes_after,
            "second_pass": self.extra,
        }


@dataclass
class RunReport:
    root: Path
    applied: bool
    plan: Plan
    inventory: Inventory
    leftovers: int
    outcomes: list[Outcome] = field(default_factory=list)
    size_after: int = 0
    notes: list[str] = field(default_factory=list)
    removed_dirs: int = 0

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "failed")

    @property
    def cap_unmet(self) -> bool:
        cap = self.plan.policy.max_total_bytes
        return bool(cap) and self.size_after > cap


def run_retention(
    root: Path,
    policy: RetentionPolicy,
    *,
    apply: bool,
    now: float | None = None,
    on_plan: Callable[[RunReport], None] | None = None,
    progress: StepFn | None = None,
) -> RunReport:
    """Plan (and with ``apply`` carry out) retention under ``root`` (already validated)."""
    if not apply:
        inv, plan = _plan(root, policy, now, progress)
        report = RunReport(root, False, plan, inv, len(find_leftovers(root)))
        report.size_after = plan.estimated_after
        if on_plan is not None:
            on_plan(report)
        return report
    lock = _take_lock(root)
    try:
        with RootDirs(root) as dirs:
            notes: list[str] = []
            leftovers = recover(root, dirs, notes.append)
            inv, plan = _plan(root, policy, now, progress)
            report = RunReport(root, True, plan, inv, leftovers, notes=notes)
            if on_plan is not None:
                on_plan(report)
            report.outcomes = _execute(dirs, plan.actions, report.notes.append, progress)
            report.size_after = _measure(root, inv)
            if policy.max_total_mb and report.size_after > policy.max_total_bytes:
                report.outcomes += _second_pass(root, dirs, policy, report, progress)
                report.size_after = _measure(root, inv)
            report.removed_dirs = _remove_empty_days(dirs, root, time.time())
            dirs.sync()
        finished = time.time()
        record_run(root, finished_at=finished, ok=report.failed == 0, summary=_summary(report))
        return report
    finally:
        os.close(lock)


def _plan(
    root: Path, policy: RetentionPolicy, now: float | None, progress: StepFn | None
) -> tuple[Inventory, Plan]:
    at = time.time() if now is None else now
    step = (lambda done, total: progress("scanning", done, total)) if progress else None
    inv = scan(root, now=at, live_grace_s=policy.live_grace_minutes * 60.0, progress=step)
    return inv, make_plan(inv, policy, now=at, compression_ratio=_sample_ratio(inv, policy, at))


def _sample_ratio(inv: Inventory, policy: RetentionPolicy, now: float) -> float:
    """Compression ratio measured on the heads of a few of the files to compress."""
    if not policy.compress_after_days:
        return 0.15
    limit = now - policy.compress_after_days * 86_400.0
    candidates = [
        f for s in inv.sessions for f in s.files if not f.gz and not f.live and f.mtime < limit
    ]
    candidates.sort(key=lambda f: (-f.size, f.rel))
    samples = []
    for f in candidates[:SAMPLE_FILES]:
        try:
            fd = os.open(f.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            samples.append(os.pread(fd, SAMPLE_BYTES, 0))
        finally:
            os.close(fd)
    return estimate_ratio(samples)


def _take_lock(root: Path) -> int:
    fd = open_lock_file(root / LOCK_FILE, nofollow=True)
    try:
        taken = try_lock_exclusive(fd, strict=True)
    except OSError:
        os.close(fd)
        raise
    if not taken:
        os.close(fd)
        raise RetentionBusy(f"another retention run is working on {root}")
    return fd


def _execute(
    dirs: RootDirs,
    actions: list[Action],
    note: Callable[[str], None],
    progress: StepFn | None,
    *,
    extra: bool = False,
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    pending: list[Retired] = []
    for phase_actions in _by_phase(actions):
        if phase_actions[0].phase == "compress" and len(phase_actions) > 1:
            results = _in_parallel(dirs, phase_actions, pending, extra)
        else:
            results = (_act(dirs, a, pending, extra) for a in phase_actions)
        for outcome in results:
            outcomes.append(outcome)
            if progress is not None:
                progress("applying", len(outcomes), len(actions))
        _finish(dirs, pending, note)
    return outcomes


def _by_phase(actions: list[Action]) -> list[list[Action]]:
    groups: list[list[Action]] = []
    for action in actions:
        if groups and groups[-1][0].phase == action.phase:
            groups[-1].append(action)
        else:
            groups.append([action])
    return groups


def _in_parallel(
    dirs: RootDirs, actions: list[Action], pending: list[Retired], extra: bool
) -> Iterator[Outcome]:
    """Compress several files at once: most of the time goes to fsync, which overlaps."""
    for action in actions:  # open the directories here, not concurrently in the workers
        if action.file is not None:
            dirs.fd(action.file.directory)
    with ThreadPoolExecutor(max_workers=IO_WORKERS) as pool:
        futures = [pool.submit(_act, dirs, a, pending, extra) for a in actions]
        try:
            for future in futures:
                yield future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _act(dirs: RootDirs, action: Action, pending: list[Retired], extra: bool) -> Outcome:
    try:
        if action.file_kind == "summary_state":
            name = action.rel.split("/", 1)[1]
            if remove_state(dirs.root_fd, name):
                return Outcome(action, "done", extra=extra)
            if name.startswith("."):  # a save's temporary file: being written again
                return Outcome(
                    action, "skipped", "a save is writing it (or it is gone)", extra=extra
                )
            return Outcome(action, "done", "already removed with its log file", extra=extra)
        if action.file is None:  # a heartbeat file
            name = action.rel.split("/", 1)[1]
            os.unlink(name, dir_fd=dirs.fd(WRITERS_DIR))
            dirs.touched.add(WRITERS_DIR)
            return Outcome(action, "done", extra=extra)
        if action.kind == "delete":
            retired = delete_file(dirs, action.file)
            if retired is not None:
                pending.append(retired)
            return Outcome(action, "done", extra=extra)
        retired, gz_size, merged = compress_file(dirs, action.file)
        pending.append(retired)
        detail = f"merged into {action.file.name}.gz" if merged else ""
        return Outcome(action, "done", detail, gz_size, extra=extra)
    except Skipped as why:
        return Outcome(action, "skipped", str(why), action.size, extra=extra)
    except FileNotFoundError:
        return Outcome(action, "skipped", "gone since planning", 0, extra=extra)
    except OSError as exc:
        return Outcome(action, "failed", f"{type(exc).__name__}: {exc}", action.size, extra=extra)


def _finish(dirs: RootDirs, pending: list[Retired], note: Callable[[str], None]) -> None:
    """Make a phase's renames durable, then remove the retired files."""
    if not pending:
        return
    dirs.sync()

    def remove(retired: Retired) -> None:
        try:
            finalize(dirs, retired, note)
        except OSError as exc:
            note(f"could not remove {retired.hidden}: {exc}; the next --apply finishes it")

    if len(pending) == 1:
        remove(pending[0])
    else:
        with ThreadPoolExecutor(max_workers=IO_WORKERS) as pool:
            for _ in pool.map(remove, pending):
                pass
    pending.clear()
    dirs.sync()


def _second_pass(
    root: Path,
    dirs: RootDirs,
    policy: RetentionPolicy,
    report: RunReport,
    progress: StepFn | None,
) -> list[Outcome]:
    # Only the size cap, on measured sizes: no age limit, no compression, no housekeeping.
    size_only = dataclasses.replace(policy, max_age_days=10**6, compress_after_days=0)
    _inv, plan = _plan(root, size_only, report.plan.now, progress)
    actions = [a for a in plan.actions if a.phase == "size"]
    if actions:
        report.notes.append(
            f"compression saved less than estimated: {len(actions)} more files deleted "
            "to meet the size cap"
        )
    return _execute(dirs, actions, report.notes.append, progress, extra=True)


def _measure(root: Path, inv: Inventory) -> int:
    """Bytes now in this project's session files and saved summary states under the root
    (other files excluded)."""
    foreign = {rel for rel, _size, _why in inv.foreign}
    total = 0
    for session in list_sessions(root):
        for path in session.files:
            rel = path.name if path.parent == root else f"{path.parent.name}/{path.name}"
            if rel in foreign:
                continue
            try:
                total += path.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total + sum(s.size for s in list_states(root))


def _remove_empty_days(dirs: RootDirs, root: Path, now: float) -> int:
    today = utc_day(now)
    removed = 0
    for directory in dirs.opened:
        if not directory or not is_day_dir(directory) or directory >= today:
            continue
        try:
            os.rmdir(directory, dir_fd=dirs.root_fd)
        except OSError:
            continue  # not empty (or already gone)
        removed += 1
        dirs.touched.add("")
    return removed


def _summary(report: RunReport) -> dict[str, object]:
    done = [o for o in report.outcomes if o.status == "done"]
    return {
        "deleted": sum(1 for o in done if o.action.kind == "delete"),
        "compressed": sum(1 for o in done if o.action.kind == "compress"),
        "skipped": sum(1 for o in report.outcomes if o.status == "skipped"),
        "failed": report.failed,
        "size_before_bytes": report.plan.size_before,
        "size_after_bytes": report.size_after,
        "sessions": report.plan.sessions,
    }

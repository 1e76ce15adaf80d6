"""Rendering a retention run: the plan (printed before acting), the result, or one JSON document."""

from __future__ import annotations

from typing import Any, TextIO

from src.common.units import human_bytes, plural

from .run import RunReport

__all__ = ["exit_code", "render_plan", "render_result", "to_json"]

EXIT_OK, EXIT_WARNING, EXIT_FAILED, EXIT_INPUT = 0, 1, 2, 3
SHOW_SKIPPED = 20


def exit_code(report: RunReport) -> int:
    """2 when an action failed, 1 when the size cap is not met, else 0."""
    if report.failed:
        return EXIT_FAILED
    cap_unmet = report.cap_unmet if report.applied else report.plan.cap_unmet
    return EXIT_WARNING if cap_unmet else EXIT_OK


def render_plan(report: RunReport, out: TextIO) -> None:
    plan = report.plan
    mode = "apply" if report.applied else "dry run (nothing is changed; add --apply to act)"
    w = out.write
    w(f"Telemetry retention - {mode}\n")
    w(f"Root:     {report.root}\n")
    w(f"Policy:   {plan.policy.describe()}\n")
    w(
        f"Sessions: {plan.sessions} in {plural(plan.files, 'file')} "
        f"({plan.protected_sessions} protected by --keep-last-n, {plan.live_sessions} live)\n"
    )
    if plan.states or plan.state_bytes:
        orphans = ""
        if plan.orphan_states:
            orphans = f"; {plan.orphan_states} without a session log left"
        if plan.stale_temps:
            orphans += f"; {plural(plan.stale_temps, 'unfinished save')} to remove"
        w(
            f"States:   {plural(plan.states, 'saved summary state')} in .summary/ "
            f"({human_bytes(plan.state_bytes)}), counted in the size{orphans}\n"
        )
    estimate = "estimated"
    if any(a.kind == "compress" for a in plan.actions):
        estimate += f"; compression to {plan.compression_ratio:.0%} measured on a sample"
    w(
        f"Size:     {human_bytes(plan.size_before)} before -> "
        f"{human_bytes(plan.estimated_after)} after ({estimate})\n"
    )
    if report.leftovers:
        verb = "completed" if report.applied else "to complete with --apply"
        w(f"Interrupted run: {plural(report.leftovers, 'leftover file')} ({verb})\n")
    w("\nActions (oldest first):\n")
    if not plan.actions:
        w("  none\n")
    width = max((len(a.rel) for a in plan.actions), default=0)
    for a in plan.actions:
        w(f"  {a.kind:<9} {a.rel:<{width}}  {human_bytes(a.size):>9}  {a.phase}: {a.reason}\n")
    if plan.skipped:
        w(f"\nKept although old ({len(plan.skipped)}):\n")
        for k in plan.skipped[:SHOW_SKIPPED]:
            w(f"  {k.rel}: {k.reason}\n")
        if len(plan.skipped) > SHOW_SKIPPED:
            w(f"  ... and {len(plan.skipped) - SHOW_SKIPPED} more (--json lists all)\n")
    foreign = report.inventory.foreign
    if foreign:
        w(f"\nLeft alone ({plural(len(foreign), 'file')}: not this project's session logs):\n")
        for rel, size, why in foreign[:SHOW_SKIPPED]:
            w(f"  {rel} ({human_bytes(size)}): {why}\n")
        if len(foreign) > SHOW_SKIPPED:
            w(f"  ... and {len(foreign) - SHOW_SKIPPED} more (--json lists all)\n")
    for note in plan.notes:
        w(f"\nWarning: {note}\n")
    out.flush()


def render_result(report: RunReport, out: TextIO) -> None:
    w = out.write
    if not report.applied:
        w("\nDry run: no files were changed.\n")
        return
    unusual = [o for o in report.outcomes if o.status != "done" or o.extra]
    if unusual:
        w("\nResult (everything else done as planned):\n")
        for o in unusual:
            extra = " [second size-cap pass]" if o.extra else ""
            detail = f": {o.detail}" if o.detail else ""
            w(f"  {o.status:<8} {o.action.kind:<9} {o.action.rel}{extra}{detail}\n")
    for note in report.notes:
        w(f"Note: {note}\n")
    done = [o for o in report.outcomes if o.status == "done"]
    deleted = sum(1 for o in done if o.action.kind == "delete")
    compressed = sum(1 for o in done if o.action.kind == "compress")
    skipped = sum(1 for o in report.outcomes if o.status == "skipped")
    w(
        f"\nApplied: {deleted} deleted, {compressed} compressed, {skipped} skipped, "
        f"{report.failed} failed"
        + (f", {report.removed_dirs} empty day directories removed" if report.removed_dirs else "")
        + "\n"
    )
    w(
        f"Size:    {human_bytes(report.plan.size_before)} before -> "
        f"{human_bytes(report.size_after)} after (measured)\n"
    )
    if report.cap_unmet:
        w(
            f"Warning: size cap {report.plan.policy.max_total_mb} MB not met: "
            f"{human_bytes(report.size_after)} remain (protected and live sessions are kept)\n"
        )
    out.flush()


def to_json(report: RunReport) -> dict[str, Any]:
    plan = report.plan
    doc: dict[str, Any] = {
        "root": str(report.root),
        "mode": "apply" if report.applied else "dry-run",
        "policy": plan.policy.as_dict(),
        "sessions": plan.sessions,
        "files": plan.files,
        "protected_sessions": plan.protected_sessions,
        "live_sessions": plan.live_sessions,
        "size_before_bytes": plan.size_before,
        "summary_states": plan.states,
        "summary_state_bytes": plan.state_bytes,
        "size_after_bytes": report.size_after,
        "size_after_is": "measured" if report.applied else "estimated",
        "estimated_size_after_bytes": plan.estimated_after,
        "compression_ratio_estimate": round(plan.compression_ratio, 4),
        "actions": (
            [o.as_dict() for o in report.outcomes]
            if report.applied
            else [a.as_dict() for a in plan.actions]
        ),
        "kept": [k.as_dict() for k in plan.skipped],
        "ignored": [
            {"path": rel, "bytes": size, "reason": why}
            for rel, size, why in report.inventory.foreign
        ],
        "notes": [*plan.notes, *report.notes],
        "interrupted_run_leftovers": report.leftovers,
        "size_cap_met": not (report.cap_unmet if report.applied else plan.cap_unmet),
        "exit_code": exit_code(report),
    }
    if report.applied:
        doc["removed_empty_day_dirs"] = report.removed_dirs
    return doc

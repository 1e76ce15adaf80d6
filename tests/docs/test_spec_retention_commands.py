"""The user's runbook, "Retention & Rotation (Phase 16E)": each command as written, and its effect.

Each command runs in a fresh project-like directory whose logs/execution holds 60 sessions
written one a day over the last 60 days, plus session_123 already compressed (as the
runbook's "View Compressed Logs" presumes). The cron line is not run (its path is an
example); its command is the plain `--apply` pinned here.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from src.execution.events import ExecutionEvent
from src.execution.serialization import encode_event_line

ROOT = Path(__file__).resolve().parents[2]
R = "python scripts/ops/telemetry_retention.py"
SESSIONS = 60


def lines(session: str, n: int = 8) -> bytes:
    return b"".join(
        encode_event_line(
            ExecutionEvent(
                ts=datetime(2025, 12, 20, 10, 0, i, tzinfo=UTC),
                session_id=session,
                symbol="BTC-USD",
                mode="paper",
                kind="fill",
                payload={"client_id": f"ord-{i}", "fill_price": 100_000.0},
                seq=i,
                event_id=f"evt-{session}-{i}",
            )
        )
        for i in range(1, n + 1)
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for name in ("scripts", "src"):
        os.symlink(ROOT / name, tmp_path / name)
    logs = tmp_path / "logs" / "execution"
    logs.mkdir(parents=True)
    now = time.time()
    for n in range(SESSIONS):
        path = logs / f"session_{n:03d}.jsonl"
        path.write_bytes(lines(f"session_{n:03d}"))
        t = now - (n + 0.5) * 86_400
        os.utime(path, (t, t))
    archived = logs / "session_123.jsonl.gz"
    archived.write_bytes(gzip.compress(lines("session_123")))
    t = now - 10 * 86_400
    os.utime(archived, (t, t))
    return tmp_path


def sh(workdir: Path, script: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env = {k: v for k, v in env.items() if not k.startswith("EXECUTION_")}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


def files(workdir: Path) -> dict[str, str]:
    """session id -> "plain" | "gz" for what is left."""
    out = {}
    for p in (workdir / "logs" / "execution").iterdir():
        if p.name.startswith("session_"):
            out[p.name.split(".")[0]] = "gz" if p.name.endswith(".gz") else "plain"
    return out


def age_days(n: int) -> float:
    return n + 0.5


def test_dry_run_by_default(workdir):
    """`telemetry_retention.py`: summary, sizes and planned actions; no file modified."""
    before = {p.name: p.stat().st_mtime_ns for p in (workdir / "logs/execution").iterdir()}
    out = sh(workdir, R).stdout
    assert "Sessions: 61" in out and "before ->" in out and "compress  session_059.jsonl" in out
    after = {p.name: p.stat().st_mtime_ns for p in (workdir / "logs/execution").iterdir()}
    assert after == before


def test_apply_with_the_default_policy(workdir):
    """`--apply`: with 61 sessions all are protected (keep last 200); older than 7 days gzipped."""
    sh(workdir, f"{R} --apply")
    left = files(workdir)
    assert len(left) == 61
    assert all(
        kind == ("gz" if age_days(int(sid[-3:])) > 7 else "plain")
        for sid, kind in left.items()
        if sid != "session_123"
    )


def test_custom_policy(workdir):
    """`--apply --max-age-days 14 --compress-after-days 3 --keep-last-n 100` as written."""
    sh(
        workdir,
        f"{R} --apply \\\n  --max-age-days 14 \\\n  --compress-after-days 3 \\\n"
        "  --keep-last-n 100",
    )
    left = files(workdir)
    assert len(left) == 61  # 61 sessions, 100 protected
    assert left["session_002"] == "plain" and left["session_003"] == "gz"


def test_check_results_with_du(workdir):
    """`du -sh logs/execution` before and after reports a size."""
    assert "logs/execution" in sh(workdir, "du -sh logs/execution").stdout
    sh(workdir, f"{R} --apply")
    assert "logs/execution" in sh(workdir, "du -sh logs/execution").stdout


def test_scenario_1_disk_almost_full(workdir):
    """Keep 7 days, no compression, keep last 50: the 11 oldest go, nothing is gzipped."""
    sh(
        workdir,
        f"{R} --apply \\\n  --max-age-days 7 \\\n  --compress-after-days 0 \\\n  --keep-last-n 50",
    )
    left = files(workdir)
    assert len(left) == 50
    assert "session_059" not in left and "session_049" not in left and "session_048" in left
    assert [k for k, v in left.items() if v == "gz"] == ["session_123"]


def test_scenario_2_compress_only(workdir):
    """365 days, compress after 3, no size cap (with the runbook's trailing comment)."""
    sh(
        workdir,
        f"{R} --apply \\\n  --max-age-days 365 \\\n  --compress-after-days 3 \\\n"
        "  --max-total-mb 0  # Disable size limit",
    )
    left = files(workdir)
    assert len(left) == 61
    assert sum(1 for v in left.values() if v == "gz") == 61 - 3


def test_scenario_3_size_limit(workdir):
    """`--max-total-mb 500 --keep-last-n 100`: far under the cap, nothing deleted."""
    out = sh(workdir, f"{R} --apply \\\n  --max-total-mb 500 \\\n  --keep-last-n 100").stdout
    assert "Applied: 0 deleted" in out
    assert len(files(workdir)) == 61


def test_compressed_logs_stay_queryable(workdir):
    """The viewer summary over the root and `zcat ... | head -20` on the compressed session."""
    sh(workdir, f"{R} --apply")
    out = sh(
        workdir,
        "python scripts/view_execution_telemetry.py \\\n  --path logs/execution \\\n  --summary",
    ).stdout
    assert f"Total events: {61 * 8}" in out
    zcat = sh(workdir, "zcat logs/execution/session_123.jsonl.gz | head -20").stdout
    assert len(zcat.splitlines()) == 8


def test_troubleshooting_commands(workdir):
    """`--root logs/execution`, `ls -lh`, the aggressive cleanup and `gunzip` restore."""
    assert "dry run" in sh(workdir, f"{R} --root logs/execution").stdout
    assert "session_000.jsonl" in sh(workdir, "ls -lh logs/execution/*.jsonl").stdout
    sh(workdir, f"{R} --apply \\\n  --max-age-days 3 \\\n  --keep-last-n 20")
    assert len(files(workdir)) == 20
    sh(workdir, f"{R} --apply --max-age-days 365 --compress-after-days 0 --keep-last-n 200")
    (workdir / "logs/execution/session_123.jsonl.gz").write_bytes(
        gzip.compress(lines("session_123"))
    )
    sh(workdir, "gunzip logs/execution/session_123.jsonl.gz")
    restored = workdir / "logs/execution/session_123.jsonl"
    assert restored.read_bytes() == lines("session_123")


def test_recommended_schedule_commands(workdir):
    """The maintenance table's daily dry run, weekly apply and monthly du."""
    sh(workdir, R)
    sh(workdir, f"{R} --apply")
    sh(workdir, "du -sh logs/execution")

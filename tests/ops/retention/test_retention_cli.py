"""telemetry_retention: flags, config defaults, output, exit codes, script and console command."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from src.common.progress import step_progress
from src.ops.retention import run
from src.ops.retention.cli import EXIT_FAILED, EXIT_INPUT, EXIT_OK, EXIT_WARNING, main
from src.ops.retention.retire import compress_file

ROOT = Path(__file__).resolve().parents[3]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), stdout=out)
    return code, out.getvalue()


@pytest.fixture(autouse=True)
def no_config_file(tmp_path, monkeypatch):
    """Run from an empty directory so the repository's config does not leak in."""
    for name in [n for n in os.environ if n.startswith("EXECUTION_")]:
        monkeypatch.delenv(name)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


def test_dry_run_is_the_default_and_prints_the_plan(root, make_session, tree):
    """Without --apply: sessions, sizes, each action with its reason; nothing changes."""
    make_session("old", days=40)
    make_session("mid", days=10)
    before = tree(root)
    code, text = cli("--root", str(root), "--keep-last-n", "0")
    assert code == EXIT_OK
    assert "dry run" in text
    assert "Sessions: 2 in 2 files" in text
    assert "before ->" in text and "(estimated" in text
    assert "delete    old.jsonl" in text and "age: older than 30 days (40 days)" in text
    assert "compress  mid.jsonl" in text and "compress: older than 7 days (10 days)" in text
    assert text.rstrip().endswith("Dry run: no files were changed.")
    assert tree(root) == before


def test_apply_prints_the_plan_before_acting_then_measured_sizes(root, make_session, monkeypatch):
    """The whole plan is on stdout before the first file is touched; sizes after are measured."""
    make_session("mid", days=10)
    out = io.StringIO()
    seen: list[str] = []

    def spy(dirs, f):
        seen.append(out.getvalue())
        return compress_file(dirs, f)

    monkeypatch.setattr(run, "compress_file", spy)
    assert main(["--root", str(root), "--apply"], stdout=out) == EXIT_OK
    assert "compress  mid.jsonl" in seen[0] and "Applied:" not in seen[0]
    text = out.getvalue()
    assert "Applied: 0 deleted, 1 compressed, 0 skipped, 0 failed" in text
    gz = (root / "mid.jsonl.gz").stat().st_size
    assert "(measured)" in text
    assert f"-> {gz} B after (measured)" in text


def test_unsafe_root_is_refused_with_the_runbook_message(capsys):
    """--root /var/log: one line naming the problem, exit 3, nothing on stdout."""
    assert main(["--root", "/var/log", "--apply"]) == EXIT_INPUT
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: Unsafe or invalid telemetry root '/var/log'")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-age-days", "0"], "invalid --max-age-days 0: must be an integer >= 1"),
        (["--keep-last-n", "-1"], "invalid --keep-last-n -1"),
        (["--max-total-mb", "lots"], "argument --max-total-mb: invalid int value"),
        (["--live-grace-minutes", "0"], "invalid --live-grace-minutes 0"),
    ],
)
def test_bad_flags_fail_with_one_line(root, capsys, args, message):
    """A bad value is one line on stderr and exit 3 (argparse's own errors exit the same)."""
    try:
        code = main(["--root", str(root), *args])
    except SystemExit as exc:
        code = exc.code
    assert code == EXIT_INPUT
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_config_supplies_root_and_defaults(root, make_session, tmp_path):
    """retention_days is the age limit, compression=false stops compression, keys in the table."""
    config = tmp_path / "execution.toml"
    config.write_text(
        f"""
[execution.telemetry]
base_path = "{root}"
retention_days = 5
compression = false

[execution.telemetry.retention]
keep_last_n = 0
"""
    )
    make_session("six", days=6)
    make_session("three", days=3)
    code, text = cli("--config", str(config), "--json")
    doc = json.loads(text)
    assert code == EXIT_OK
    assert doc["root"] == str(root)
    assert doc["policy"]["max_age_days"] == 5 and doc["policy"]["compress_after_days"] == 0
    assert [(a["action"], a["path"]) for a in doc["actions"]] == [("delete", "six.jsonl")]
    code, text = cli("--config", str(config), "--json", "--compress-after-days", "2")
    assert ("compress", "three.jsonl") in [
        (a["action"], a["path"]) for a in json.loads(text)["actions"]
    ]


def test_bad_config_value_fails_naming_the_key(tmp_path, capsys):
    """A config error is one line naming key and value, exit 3."""
    config = tmp_path / "execution.toml"
    config.write_text("[execution.telemetry.retention]\nkeep_last_n = -3\n")
    assert main(["--config", str(config)]) == EXIT_INPUT
    assert "execution.telemetry.retention.keep_last_n: -3" in capsys.readouterr().err


def test_default_root_is_logs_execution_under_the_working_directory(tmp_path, monkeypatch):
    """With no --root and no config, the root is ./logs/execution."""
    (tmp_path / "cwd" / "logs" / "execution").mkdir(parents=True)
    code, text = cli("--json")
    assert code == EXIT_OK
    assert json.loads(text)["root"] == str((tmp_path / "cwd" / "logs" / "execution").resolve())


def test_json_document_after_apply(root, make_session):
    """--json --apply: one document with statuses, measured size and the exit code."""
    make_session("old", days=40)
    code, text = cli("--root", str(root), "--apply", "--json", "--keep-last-n", "0")
    doc = json.loads(text)
    assert code == doc["exit_code"] == EXIT_OK
    assert doc["mode"] == "apply" and doc["size_after_is"] == "measured"
    assert doc["size_after_bytes"] == 0
    assert [(a["action"], a["status"]) for a in doc["actions"]] == [("delete", "done")]
    assert doc["actions"][0]["reason"].startswith("older than 30 days")


def test_size_cap_not_met_exits_1_and_says_so(root, make_session):
    """Protected sessions above the cap: kept, reported, exit 1 (dry run and apply)."""
    for n in range(3):
        make_session(f"s{n}", days=3 - n, seqs=range(1, 2500))
    args = ["--root", str(root), "--max-total-mb", "1", "--keep-last-n", "3"]
    code, text = cli(*args)
    assert code == EXIT_WARNING
    assert "size cap 1 MB cannot be met" in text
    code, text = cli(*args, "--apply")
    assert code == EXIT_WARNING
    assert "Warning: size cap 1 MB not met" in text
    assert len(list(root.glob("s*.jsonl"))) == 3


def test_another_run_holding_the_root_exits_2(root, make_session, capsys):
    """A concurrent --apply gets one line and exit 2."""
    fd = run._take_lock(root)
    try:
        assert main(["--root", str(root), "--apply"]) == EXIT_FAILED
    finally:
        os.close(fd)
    assert "another retention run is working on" in capsys.readouterr().err


def test_no_progress_output_when_stderr_is_not_a_terminal(root, make_session, capsys):
    """Piped stderr stays clean."""
    make_session("s", days=10)
    main(["--root", str(root), "--apply"])
    assert capsys.readouterr().err == ""


def test_step_progress_draws_on_a_terminal_only():
    """A terminal gets a bar per stage; anything else gets no callback at all."""
    with step_progress(io.StringIO()) as progress:
        assert progress is None
    tty = Tty()
    with step_progress(tty, show_after=0) as progress:
        assert progress is not None
        progress("applying", 5, 10)
        progress("applying", 10, 10)
    assert "applying" in tty.getvalue()


def test_script_help_documents_exit_codes_and_runs_from_anywhere(tmp_path):
    """The runbook's script works by path from another directory; --help lists exit codes."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ops" / "telemetry_retention.py"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    for code in ("0  success", "1  warning", "2  failure", "3  bad input"):
        assert code in done.stdout


def test_console_command_is_installed():
    """`telemetry-retention` is a console script of the package."""
    exe = Path(sys.executable).parent / "telemetry-retention"
    done = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--max-total-mb" in done.stdout

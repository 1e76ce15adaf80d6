"""The install footprint: the trading process loads no optional library, the extras table
matches pyproject.toml, and a command whose extra is missing says which one in one line."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from src.common.extras import EXTRAS, extra_for, missing_extra

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# What the trading process must never load (the extras' libraries, and rich of the CLIs).
HEAVY = ("fastapi", "starlette", "uvicorn", "jinja2", "duckdb", "pyarrow", "openpyxl", "redis",
         "hiredis", "prometheus_client", "rich")  # fmt: skip
# Distribution name -> the module it installs, where the two differ.
IMPORT_NAME = {"python-multipart": "python_multipart", "prometheus-client": "prometheus_client"}

TRADING = """
import sys, tempfile
from src.execution import ExecutionPipeline, MaxNotionalGate, OrderIntent, PaperExecutor
from src.execution.telemetry import JsonlExecutionLogger
with tempfile.TemporaryDirectory() as root, JsonlExecutionLogger(root) as emitter:
    pipeline = ExecutionPipeline(
        executor=PaperExecutor(), emitter=emitter, gates=[MaxNotionalGate(1e6)], mode="paper"
    )
    result = pipeline.submit_order(OrderIntent(symbol="BTC-USD", side="buy", quantity=1.0,
                                               current_price=100.0, session_id="s1"))
    assert result.status == "filled", result
print(",".join(sorted({m.partition(".")[0] for m in sys.modules})))
"""


def test_the_trading_process_loads_no_optional_library(python, repo_root):
    """A fresh interpreter that imports the execution package, builds a pipeline and logs an
    order to JSONL has none of the extras' libraries (nor rich) in sys.modules."""
    done = subprocess.run([python, "-c", TRADING], cwd=repo_root, capture_output=True,
                          text=True, timeout=60, check=True)  # fmt: skip
    loaded = set(done.stdout.strip().split(","))
    assert {"src", "orjson"} <= loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def _requirement_name(spec: str) -> str:
    return re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0].lower()


def test_the_extras_table_matches_pyproject():
    """Every library an extra installs is in src.common.extras under that extra, `all` is
    every extra but dev, and the core has only orjson, msgspec and rich."""
    declared = PYPROJECT["project"]["optional-dependencies"]
    assert set(declared) - {"dev", "all"} == set(EXTRAS)
    for extra, specs in declared.items():
        if extra in ("dev", "all"):
            continue
        for spec in specs:
            name = _requirement_name(spec)
            assert IMPORT_NAME.get(name, name) in EXTRAS[extra], (extra, name)
    (everything,) = declared["all"]
    assert everything.startswith("execution-telemetry[")
    assert set(everything.partition("[")[2].rstrip("]").split(",")) == set(EXTRAS)
    core = {_requirement_name(spec) for spec in PYPROJECT["project"]["dependencies"]}
    assert core == {"orjson", "msgspec", "rich"}


def test_a_missing_module_maps_to_its_extra_preferring_the_commands_own():
    """prometheus_client comes with two extras: a command names the one it declares."""
    assert extra_for("duckdb") == "sql" and extra_for("pyarrow.parquet") == "export"
    assert extra_for("prometheus_client", ("scale",)) == "scale"
    assert extra_for("prometheus_client", ("dashboard",)) == "dashboard"
    assert extra_for("numpy") is None and extra_for(None) is None
    assert missing_extra(ModuleNotFoundError("x", name="numpy")) is None
    assert missing_extra(ImportError("x", name="duckdb")) is None  # broken, not missing


# A sitecustomize that makes the listed modules impossible to import, as if not installed.
BLOCKER = """
import os, sys
for name in os.environ.get("BLOCK_MODULES", "").split(","):
    if name:
        sys.modules[name] = None
"""


@pytest.mark.parametrize(
    ("command", "args", "blocked", "extra"),
    [
        ("telemetry-sql", ["SELECT 1"], "duckdb", "sql"),
        ("telemetry-export", ["--format", "xlsx", "-o", "{tmp}/out.xlsx"], "openpyxl", "export"),
        ("telemetry-export", ["--format", "parquet", "-o", "{tmp}/pq"], "pyarrow", "export"),
        ("telemetry-dashboard", ["--port", "1"], "fastapi", "dashboard"),
        ("telemetry-dashboard", ["--port", "1"], "uvicorn", "dashboard"),
        ("telemetry-demo", ["--dashboard", "--ticks", "1", "--port", "1"], "uvicorn", "dashboard"),
        ("telemetry-collect", ["--archive", "{tmp}/a"], "redis", "scale"),
        ("telemetry-metrics", ["--port", "0"], "redis", "scale"),
        ("telemetry-replay", ["--into-config", "{tmp}/redis.toml"], "redis", "scale"),
        ("telemetry-demo", ["--config", "{tmp}/redis.toml", "--ticks", "1"], "redis", "scale"),
        ("telemetry-alerts", ["run", "--redis", "redis://127.0.0.1:1/0"], "redis", "scale"),
    ],
)
def test_a_command_without_its_extra_names_it_in_one_line_and_exits_3(
    command, args, blocked, extra, tmp_path
):
    """The installed command, run with its extra's module unimportable: exit 3 and one line
    on stderr with the pip command that installs the extra; no traceback."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(BLOCKER)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "s1.jsonl").write_bytes(
        (ROOT / "tests/fixtures/execution_telemetry/session_clean.jsonl").read_bytes()
    )
    (tmp_path / "redis.toml").write_text(
        f"[execution.telemetry]\nbase_path = '{logs}'\nbackend = ['jsonl', 'redis']\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "BLOCK_MODULES": blocked,
           "TELEMETRY_BASE_PATH": str(logs)}  # fmt: skip
    argv = [str(BIN / command), *(a.format(tmp=tmp_path) for a in args)]
    if command in ("telemetry-sql", "telemetry-export", "telemetry-replay"):
        argv += ["--path", str(logs)]
    if command == "telemetry-demo":
        argv += ["--base-path", str(logs)]
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, (done.returncode, done.stderr[-2000:])
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    assert blocked in done.stderr
    assert f"pip install 'execution-telemetry[{extra}]'" in done.stderr


@pytest.mark.slow
def test_a_plain_install_runs_the_trading_path_and_names_missing_extras(tmp_path):
    """`pip install .` into a fresh virtualenv, no extras: none of the extras' libraries is
    installed, a pipeline logs an order to JSONL from the installed package, and
    telemetry-sql (whose extra is missing for real) says which extra to install, exit 3."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        (project / name).write_bytes((ROOT / name).read_bytes())
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(project)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr[-3000:]
    work = tmp_path / "elsewhere"  # not the checkout: `src` must come from site-packages
    work.mkdir()

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), cwd=work, env=env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip

    where = run(str(venv / "bin" / "python"), "-c", "import src; print(src.__file__)")
    assert str(venv) in where.stdout, where
    absent = run(str(venv / "bin" / "python"), "-c",
                 "import importlib.util as u, sys; "
                 f"print([m for m in {HEAVY[:-1]!r} if u.find_spec(m)])")  # fmt: skip
    assert absent.stdout.strip() == "[]", absent
    trading = run(str(venv / "bin" / "python"), "-c", TRADING)
    assert trading.returncode == 0, trading.stderr
    assert set(trading.stdout.strip().split(",")).isdisjoint(HEAVY)
    sql = run(str(venv / "bin" / "telemetry-sql"), "SELECT 1", "--path", str(work))
    assert sql.returncode == 3, sql.stderr
    assert sql.stderr == (
        "error: duckdb is not installed; it comes with the 'sql' extra: "
        "pip install 'execution-telemetry[sql]' (or `make install`)\n"
    )
    viewer = run(str(venv / "bin" / "view-execution-telemetry"), "--help")  # rich is core
    assert viewer.returncode == 0 and viewer.stdout.startswith("usage: view-execution-telemetry")

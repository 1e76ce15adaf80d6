"""Tests for ``src.execution.config`` and the emitter factory built on it."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import pytest

from src.execution import ExecutionPipeline, MaxNotionalGate, OrderIntent, PaperExecutor
from src.execution.config import (
    ConfigError,
    ExecutionConfig,
    TelemetryConfig,
    TelemetryFilters,
    load_config,
)
from src.execution.events import KINDS
from src.execution.telemetry import (
    CompositeEmitter,
    FilteringEmitter,
    JsonlExecutionLogger,
    NullEmitter,
    QueuedEmitter,
)
from src.execution.telemetry.factory import build_emitter

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO_ROOT / "config" / "execution.toml"


def write_toml(tmp_path: Path, text: str, name: str = "execution.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def telemetry(**changes: object) -> TelemetryConfig:
    return dataclasses.replace(TelemetryConfig(), **changes)


# -- loading: defaults, file, environment, overrides -------------------------------------


def test_missing_default_file_gives_defaults(tmp_path, monkeypatch):
    """With no config/execution.toml in the working directory every setting is its default."""
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config == ExecutionConfig()
    assert config.mode == "paper"
    assert config.telemetry.enabled is True
    assert config.telemetry.backend == ("jsonl",)
    assert config.telemetry.base_path == "logs/execution"
    assert config.telemetry.rotation == "none"
    assert config.telemetry.fsync == "interval"
    assert config.telemetry.queue_size == 0
    assert config.telemetry.retention_days == 30
    assert config.telemetry.filters.include_kinds == KINDS
    assert config.telemetry.filters.min_severity == "debug"
    assert config.paper.slippage_bps == 2.0
    assert config.paper.fee_bps == 1.0
    assert config.gates.max_notional == 250_000.0
    assert config.gates.kill_switch_file == ""


def test_values_are_read_from_a_toml_file(tmp_path):
    """Every section of the file, nested filters included, ends up in the dataclasses."""
    path = write_toml(
        tmp_path,
        """
[execution]
mode = "backtest"

[execution.paper]
slippage_bps = 3
fee_bps = 0.5

[execution.gates]
max_notional = 1000.0
kill_switch_file = "run/KILL"

[execution.telemetry]
enabled = false
backend = ["jsonl", "null"]
base_path = "var/telemetry"
rotation = "daily"
compression = false
retention_days = 7
fsync = "always"
fsync_interval_s = 0.25
queue_size = 128

[execution.telemetry.filters]
include_kinds = ["fill", "error"]
min_severity = "warning"
""",
    )
    config = load_config(path, env={})
    assert config.mode == "backtest"
    assert config.paper.slippage_bps == 3.0
    assert isinstance(config.paper.slippage_bps, float)
    assert config.paper.fee_bps == 0.5
    assert config.gates.max_notional == 1000.0
    assert config.gates.kill_switch_file == "run/KILL"
    t = config.telemetry
    assert t.enabled is False
    assert t.backend == ("jsonl", "null")
    assert t.base_path == "var/telemetry"
    assert t.rotation == "daily"
    assert t.compression is False
    assert t.retention_days == 7
    assert t.fsync == "always"
    assert t.fsync_interval_s == 0.25
    assert t.queue_size == 128
    assert t.filters == TelemetryFilters(include_kinds=("fill", "error"), min_severity="warning")


def test_a_single_backend_string_becomes_a_tuple(tmp_path):
    """``backend = "null"`` (a string, as the shipped file writes it) means a one-item list."""
    path = write_toml(tmp_path, '[execution.telemetry]\nbackend = "null"\n')
    assert load_config(path, env={}).telemetry.backend == ("null",)


def test_config_is_frozen(tmp_path):
    """Loaded config cannot be mutated by a component that receives it."""
    config = load_config(write_toml(tmp_path, ""), env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.telemetry.base_path = "elsewhere"  # type: ignore[misc]


def test_environment_beats_file(tmp_path):
    """``EXECUTION_TELEMETRY_BASE_PATH`` wins over the file's ``base_path``."""
    path = write_toml(tmp_path, '[execution.telemetry]\nbase_path = "from-file"\nqueue_size = 5\n')
    config = load_config(path, env={"EXECUTION_TELEMETRY_BASE_PATH": "from-env"})
    assert config.telemetry.base_path == "from-env"
    assert config.telemetry.queue_size == 5  # keys without an env var still come from the file


def test_environment_values_are_parsed_by_type(tmp_path):
    """Env strings become bools, ints, floats and comma-separated lists per the field type."""
    env = {
        "EXECUTION_TELEMETRY_ENABLED": "false",
        "EXECUTION_TELEMETRY_QUEUE_SIZE": "64",
        "EXECUTION_PAPER_FEE_BPS": "2.5",
        "EXECUTION_TELEMETRY_BACKEND": "jsonl, null",
        "EXECUTION_TELEMETRY_FILTERS_INCLUDE_KINDS": "fill,error",
        "EXECUTION_TELEMETRY_FILTERS_MIN_SEVERITY": "error",
    }
    config = load_config(write_toml(tmp_path, ""), env=env)
    assert config.telemetry.enabled is False
    assert config.telemetry.queue_size == 64
    assert config.paper.fee_bps == 2.5
    assert config.telemetry.backend == ("jsonl", "null")
    assert config.telemetry.filters.include_kinds == ("fill", "error")
    assert config.telemetry.filters.min_severity == "error"


def test_overrides_beat_environment_and_file(tmp_path):
    """A dotted-key override (the CLI's ``--base-path``) wins over env and file."""
    path = write_toml(tmp_path, '[execution.telemetry]\nbase_path = "from-file"\n')
    config = load_config(
        path,
        env={"EXECUTION_TELEMETRY_BASE_PATH": "from-env"},
        overrides={"execution.telemetry.base_path": "from-cli"},
    )
    assert config.telemetry.base_path == "from-cli"


def test_override_values_are_validated(tmp_path):
    """An override goes through the same checks as a file value."""
    with pytest.raises(ConfigError, match=r"execution\.telemetry\.queue_size.*-3"):
        load_config(
            write_toml(tmp_path, ""), env={}, overrides={"execution.telemetry.queue_size": -3}
        )


def test_unknown_override_key_fails(tmp_path):
    """A misspelt override key is an error, not silently ignored."""
    with pytest.raises(ConfigError) as info:
        load_config(
            write_toml(tmp_path, ""), env={}, overrides={"execution.telemetry.base_pth": "x"}
        )
    assert "execution.telemetry.base_pth" in str(info.value)


def test_execution_config_env_var_names_the_file(tmp_path, monkeypatch):
    """``$EXECUTION_CONFIG`` is used when no path is given."""
    monkeypatch.chdir(tmp_path)
    path = write_toml(tmp_path, '[execution]\nmode = "live"\n', name="other.toml")
    assert load_config(env={"EXECUTION_CONFIG": str(path)}).mode == "live"


def test_missing_file_named_by_env_var_fails(tmp_path):
    """A file named by ``$EXECUTION_CONFIG`` is explicit: missing means error."""
    missing = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match=re.escape(str(missing))):
        load_config(env={"EXECUTION_CONFIG": str(missing)})


def test_missing_explicit_file_fails(tmp_path):
    """A path passed explicitly that does not exist is an error naming the path."""
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=re.escape(str(missing))):
        load_config(missing, env={})


def test_invalid_toml_fails_with_one_line(tmp_path):
    """A file that is not TOML gives a one-line ConfigError naming the file."""
    path = write_toml(tmp_path, "[execution\nmode = \n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    message = str(info.value)
    assert str(path) in message
    assert "not valid TOML" in message
    assert "\n" not in message


def test_shipped_config_loads():
    """config/execution.toml as shipped is valid and says what it appears to say."""
    config = load_config(SHIPPED_CONFIG, env={})
    assert config.mode == "paper"
    assert config.telemetry.backend == ("jsonl",)
    assert config.telemetry.base_path == "logs/execution"
    assert config.telemetry.fsync == "interval"
    assert config.telemetry.filters.include_kinds == KINDS
    assert config.telemetry.filters.min_severity == "info"
    assert config.gates.price_sanity_max_deviation_bps == 500.0


# -- bad keys and values ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[other]\nx = 1\n", "other"),
        ('[execution]\nmoed = "paper"\n', "execution.moed"),
        ("[execution.telemetry]\nbase_pth = 'x'\n", "execution.telemetry.base_pth"),
        ("[execution.telemetry.filters]\nkinds = ['fill']\n", "execution.telemetry.filters.kinds"),
        ("[execution.paper]\nslipage_bps = 1\n", "execution.paper.slipage_bps"),
    ],
)
def test_unknown_key_fails_naming_the_dotted_key(tmp_path, text, key):
    """A key the config does not know fails at load, naming its full dotted path."""
    with pytest.raises(ConfigError) as info:
        load_config(write_toml(tmp_path, text), env={})
    message = str(info.value)
    assert key in message
    assert "unknown key" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("section", "line", "key", "shown"),
    [
        ("execution", 'mode = "prod"', "execution.mode", "'prod'"),
        ("execution.telemetry", 'enabled = "yes"', "execution.telemetry.enabled", "'yes'"),
        ("execution.telemetry", "queue_size = 1.5", "execution.telemetry.queue_size", "1.5"),
        ("execution.telemetry", "queue_size = true", "execution.telemetry.queue_size", "True"),
        ("execution.telemetry", "queue_size = -1", "execution.telemetry.queue_size", "-1"),
        ("execution.telemetry", "retention_days = 0", "execution.telemetry.retention_days", "0"),
        ("execution.telemetry", 'fsync = "sometimes"', "execution.telemetry.fsync", "'sometimes'"),
        ("execution.telemetry", 'rotation = "hourly"', "execution.telemetry.rotation", "'hourly'"),
        ("execution.telemetry", "backend = [1]", "execution.telemetry.backend", "[1]"),
        (
            "execution.telemetry",
            "fsync_interval_s = 0",
            "execution.telemetry.fsync_interval_s",
            "0",
        ),
        (
            "execution.telemetry",
            "fsync_interval_s = inf",
            "execution.telemetry.fsync_interval_s",
            "inf",
        ),
        (
            "execution.telemetry.filters",
            'include_kinds = ["fill", "trade"]',
            "execution.telemetry.filters.include_kinds",
            "'trade'",
        ),
        (
            "execution.telemetry.filters",
            'min_severity = "critical"',
            "execution.telemetry.filters.min_severity",
            "'critical'",
        ),
        ("execution.paper", "fee_bps = -0.5", "execution.paper.fee_bps", "-0.5"),
        ("execution.paper", "slippage_bps = nan", "execution.paper.slippage_bps", "nan"),
        ("execution.paper", 'slippage_bps = "2"', "execution.paper.slippage_bps", "'2'"),
        ("execution.gates", "max_notional = 0", "execution.gates.max_notional", "0"),
        ("execution.gates", "kill_switch_file = 5", "execution.gates.kill_switch_file", "5"),
    ],
)
def test_bad_value_fails_naming_key_and_value(tmp_path, section, line, key, shown):
    """A wrong type, a value outside the choices or below the minimum fails in one line."""
    path = write_toml(tmp_path, f"[{section}]\n{line}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    message = str(info.value)
    assert f"invalid value for {key}: " in message
    assert shown in message
    assert "\n" not in message


def test_bad_environment_value_names_variable_key_and_value(tmp_path):
    """A bad env value is reported with the variable it came from, the key and the value."""
    with pytest.raises(ConfigError) as info:
        load_config(write_toml(tmp_path, ""), env={"EXECUTION_TELEMETRY_QUEUE_SIZE": "lots"})
    message = str(info.value)
    assert "$EXECUTION_TELEMETRY_QUEUE_SIZE" in message
    assert "execution.telemetry.queue_size" in message
    assert "'lots'" in message


def test_section_that_is_not_a_table_fails(tmp_path):
    """``telemetry = 5`` where a table is expected names the key and the value."""
    path = write_toml(tmp_path, "[execution]\ntelemetry = 5\n")
    with pytest.raises(ConfigError, match=r"execution\.telemetry must be a table, got 5"):
        load_config(path, env={})


def test_config_error_is_a_value_error():
    """Callers that catch ValueError at start-up also catch config errors."""
    assert issubclass(ConfigError, ValueError)


# -- build_emitter ----------------------------------------------------------------------


def test_disabled_telemetry_builds_a_null_emitter(tmp_path):
    """``enabled = false`` gives a NullEmitter, whatever the backend, and writes nothing."""
    emitter = build_emitter(telemetry(enabled=False, base_path=str(tmp_path / "logs")))
    assert type(emitter) is NullEmitter
    emitter.close()
    assert not (tmp_path / "logs").exists()


def test_jsonl_backend_honours_base_path_fsync_and_interval(tmp_path):
    """The jsonl backend is a JsonlExecutionLogger with the configured path and fsync policy."""
    base = tmp_path / "logs"
    with build_emitter(telemetry(base_path=str(base), fsync="always", fsync_interval_s=0.25)) as em:
        assert type(em) is JsonlExecutionLogger
        assert em.base_path == base
        assert em.fsync == "always"
        assert em.fsync_interval == 0.25
        assert em.rotation == "none"
        ExecutionPipeline(PaperExecutor(), em).submit_order(
            OrderIntent(
                symbol="BTC-USD", side="buy", quantity=1, current_price=100.0, session_id="s1"
            )
        )
    kinds = [e["kind"] for e in read_jsonl(base / "s1.jsonl")]
    assert kinds == ["intent", "gate", "order", "ack", "fill"]


def test_jsonl_backend_honours_daily_rotation(tmp_path):
    """``rotation = "daily"`` puts the session file under a YYYY-MM-DD directory."""
    base = tmp_path / "logs"
    with build_emitter(telemetry(base_path=str(base), rotation="daily", fsync="none")) as em:
        assert em.rotation == "daily"
        ExecutionPipeline(PaperExecutor(), em).submit_order(
            OrderIntent(
                symbol="BTC-USD", side="buy", quantity=1, current_price=100.0, session_id="s1"
            )
        )
    files = list(base.rglob("*.jsonl"))
    assert len(files) == 1
    assert files[0].name == "s1.jsonl"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", files[0].parent.name)
    assert files[0].parent.parent == base


def test_execution_config_is_accepted(tmp_path):
    """build_emitter takes the whole ExecutionConfig as well as its telemetry section."""
    config = load_config(write_toml(tmp_path, "[execution.telemetry]\nenabled = false\n"), env={})
    assert type(build_emitter(config)) is NullEmitter


def test_no_config_loads_config_file_from_working_directory(tmp_path, monkeypatch):
    """build_emitter() with no argument reads ./config/execution.toml."""
    for name in [n for n in os.environ if n.startswith("EXECUTION_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    write_toml(tmp_path / "config", '[execution.telemetry]\nbackend = "null"\n')
    emitter = build_emitter()
    assert type(emitter) is NullEmitter


def test_two_backends_build_a_composite(tmp_path):
    """``backend = ["jsonl", "null"]`` fans out to one sink of each kind, in order."""
    with build_emitter(
        telemetry(backend=("jsonl", "null"), base_path=str(tmp_path), fsync="none")
    ) as emitter:
        assert type(emitter) is CompositeEmitter
        assert [type(child) for child in emitter.emitters] == [JsonlExecutionLogger, NullEmitter]
        assert emitter.emitters[0].base_path == tmp_path


def test_positive_queue_size_puts_sinks_behind_a_queue(tmp_path):
    """``queue_size > 0`` wraps the sink in a QueuedEmitter of that size that still delivers."""
    emitter = build_emitter(telemetry(queue_size=16, base_path=str(tmp_path), fsync="none"))
    try:
        assert type(emitter) is QueuedEmitter
        assert emitter.maxsize == 16
        assert type(emitter.inner) is JsonlExecutionLogger
        ExecutionPipeline(PaperExecutor(), emitter).submit_order(
            OrderIntent(
                symbol="BTC-USD", side="sell", quantity=1, current_price=100.0, session_id="q1"
            )
        )
        assert emitter.flush(timeout=10) is True
    finally:
        emitter.close()
    kinds = [e["kind"] for e in read_jsonl(tmp_path / "q1.jsonl")]
    assert kinds == ["intent", "gate", "order", "ack", "fill"]


def test_default_filters_add_no_filtering_layer(tmp_path):
    """All kinds at min_severity debug means nothing is filtered, so no wrapper is built."""
    emitter = build_emitter(telemetry(base_path=str(tmp_path), fsync="none"))
    assert type(emitter) is JsonlExecutionLogger
    emitter.close()


def test_filters_wrap_outside_the_queue(tmp_path):
    """With both, filtering happens before the queue, so dropped kinds take no queue space."""
    emitter = build_emitter(
        telemetry(
            queue_size=4,
            base_path=str(tmp_path),
            fsync="none",
            filters=TelemetryFilters(include_kinds=("fill",)),
        )
    )
    try:
        assert type(emitter) is FilteringEmitter
        assert type(emitter.inner) is QueuedEmitter
    finally:
        emitter.close()


def test_include_kinds_really_filters_a_pipeline_run(tmp_path):
    """``include_kinds = ["fill"]`` writes only the fill events of a real pipeline run."""
    config = load_config(
        write_toml(tmp_path, '[execution.telemetry.filters]\ninclude_kinds = ["fill"]\n'),
        env={},
        overrides={
            "execution.telemetry.base_path": str(tmp_path / "logs"),
            "execution.telemetry.fsync": "none",
        },
    )
    emitter = build_emitter(config)
    assert type(emitter) is FilteringEmitter
    with emitter:
        pipeline = ExecutionPipeline(PaperExecutor(), emitter, gates=[MaxNotionalGate(1_000.0)])
        for side in ("buy", "sell"):
            pipeline.submit_order(
                OrderIntent(
                    symbol="ETH-USD", side=side, quantity=2, current_price=100.0, session_id="f1"
                )
            )
        blocked = pipeline.submit_order(
            OrderIntent(
                symbol="ETH-USD", side="buy", quantity=50, current_price=100.0, session_id="f1"
            )
        )
        assert blocked.status == "blocked"
    lines = read_jsonl(tmp_path / "logs" / "f1.jsonl")
    assert [line["kind"] for line in lines] == ["fill", "fill"]
    assert [line["payload"]["side"] for line in lines] == ["buy", "sell"]


def test_min_severity_really_filters_a_pipeline_run(tmp_path):
    """``min_severity = "warning"`` keeps only the blocking gate decision of a run."""
    emitter = build_emitter(
        telemetry(
            base_path=str(tmp_path), fsync="none", filters=TelemetryFilters(min_severity="warning")
        )
    )
    with emitter:
        pipeline = ExecutionPipeline(PaperExecutor(), emitter, gates=[MaxNotionalGate(1_000.0)])
        for quantity in (1, 50):
            pipeline.submit_order(
                OrderIntent(
                    symbol="ETH-USD",
                    side="buy",
                    quantity=quantity,
                    current_price=100.0,
                    session_id="w1",
                )
            )
    lines = read_jsonl(tmp_path / "w1.jsonl")
    assert [(line["kind"], line["payload"]["passed"]) for line in lines] == [("gate", False)]


def test_unknown_backend_fails_with_config_error(tmp_path):
    """A backend name nobody registered fails naming the key and the value."""
    with pytest.raises(ConfigError) as info:
        build_emitter(telemetry(backend=("jsonl", "kafka"), base_path=str(tmp_path)))
    message = str(info.value)
    assert "execution.telemetry.backend" in message
    assert "'kafka'" in message


def test_a_backend_listed_twice_is_refused():
    """backend = ["jsonl", "jsonl"] would write every line twice: refused, naming the list."""
    from src.execution.config import TelemetryConfig
    from src.execution.telemetry.factory import build_emitter as build

    with pytest.raises(ConfigError, match="listed twice"):
        build(TelemetryConfig(backend=("jsonl", "jsonl")))


# -- heartbeat keys (retention and health: tests/ops/test_ops_config.py) --------------------


def test_heartbeat_interval_reaches_the_logger(tmp_path):
    """build_emitter passes heartbeat_interval_s on; the shipped default publishes heartbeats."""
    with build_emitter(telemetry(base_path=str(tmp_path), heartbeat_interval_s=0.0)) as em:
        assert em.heartbeat_interval == 0.0
    assert TelemetryConfig().heartbeat_interval_s > 0
    with build_emitter(telemetry(base_path=str(tmp_path / "hb"), fsync="none")) as em:
        assert em.heartbeat_interval == TelemetryConfig().heartbeat_interval_s
    assert list((tmp_path / "hb" / ".writers").glob("*.json"))

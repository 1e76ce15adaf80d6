"""src.common.config: any package's frozen dataclasses from TOML + environment + overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from src.common.config import ConfigError, leaf_keys, load_section, read_config_file


@dataclass(frozen=True)
class Limits:
    size_mb: int = field(default=10, metadata={"min": 0})
    ratio: float = field(default=0.5, metadata={"gt": 0.0})


@dataclass(frozen=True)
class ToolConfig:
    name: str = "tool"
    on: bool = True
    level: str = field(default="low", metadata={"choices": ("low", "high")})
    tags: tuple[str, ...] = field(default=("a",), metadata={"each": ("a", "b", "c")})
    limits: Limits = field(default_factory=Limits)


def write(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_defaults_when_the_section_is_absent(tmp_path):
    cfg = load_section(ToolConfig, "app.tool", path=write(tmp_path, "[app]\n"), env={})
    assert cfg == ToolConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.name = "x"  # type: ignore[misc]
    assert leaf_keys(ToolConfig, "app.tool")[-2:] == [
        "app.tool.limits.size_mb",
        "app.tool.limits.ratio",
    ]


def test_precedence_is_override_then_environment_then_file_then_default(tmp_path):
    path = write(
        tmp_path,
        "[app.tool]\nname = 'file'\nlevel = 'high'\ntags = ['b']\n[app.tool.limits]\nsize_mb = 1\n",
    )
    env = {"APP_TOOL_NAME": "env", "APP_TOOL_TAGS": "a, c", "APP_TOOL_LIMITS_SIZE_MB": "2"}
    overrides = {"app.tool.name": "cli", "other.section.key": "ignored"}
    cfg = load_section(ToolConfig, "app.tool", path=path, env=env, overrides=overrides)
    assert cfg.name == "cli"  # override > environment > file
    assert cfg.tags == ("a", "c")  # environment (comma-separated) > file
    assert cfg.limits.size_mb == 2  # nested keys have environment names too
    assert cfg.level == "high"  # file > default
    assert cfg.limits.ratio == 0.5 and cfg.on is True  # defaults
    env_bool = load_section(ToolConfig, "app.tool", path=path, env={"APP_TOOL_ON": "no"})
    assert env_bool.on is False


@pytest.mark.parametrize(
    ("text", "env", "overrides", "key", "value"),
    [
        ("[app.tool]\nlevel = 'mid'\n", {}, {}, "app.tool.level", "'mid'"),
        ("[app.tool]\nnmae = 'x'\n", {}, {}, "app.tool.nmae", "'x'"),
        ("[app.tool.limits]\nsize_mb = -1\n", {}, {}, "app.tool.limits.size_mb", "-1"),
        ("[app.tool.limits]\nratio = 0\n", {}, {}, "app.tool.limits.ratio", "0"),
        ("[app.tool]\ntags = ['z']\n", {}, {}, "app.tool.tags", "'z'"),
        ("", {"APP_TOOL_ON": "maybe"}, {}, "app.tool.on", "'maybe'"),
        ("", {"APP_TOOL_LIMITS_SIZE_MB": "ten"}, {}, "app.tool.limits.size_mb", "'ten'"),
        ("", {}, {"app.tool.limits.size": 3}, "app.tool.limits.size", "3"),
        ("", {}, {"app.tool.on": "yes"}, "app.tool.on", "'yes'"),
    ],
)
def test_a_bad_key_or_value_is_one_line_naming_both(tmp_path, text, env, overrides, key, value):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_section(ToolConfig, "app.tool", path=path, env=env, overrides=overrides)
    message = str(info.value)
    assert key in message and value in message and "\n" not in message


def test_tables_other_packages_own_are_left_to_them(tmp_path):
    path = write(tmp_path, "[app.tool]\nname = 'x'\n[app.tool.plugin]\nanything = 1\n")
    with pytest.raises(ConfigError, match=r"unknown key app\.tool\.plugin"):
        load_section(ToolConfig, "app.tool", path=path, env={})
    cfg = load_section(
        ToolConfig,
        "app.tool",
        path=path,
        env={},
        overrides={"app.tool.plugin.anything": 2},
        foreign=("app.tool.plugin",),
    )
    assert cfg.name == "x"


def test_the_file_itself(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        read_config_file(tmp_path / "missing.toml", env={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_config_file(write(tmp_path, "[app\n"), env={})
    with pytest.raises(ConfigError, match="unknown key 'ap'"):
        read_config_file(write(tmp_path, "[ap]\n"), env={}, roots=("app",))
    chosen = write(tmp_path, "[app.tool]\nname = 'from-env-file'\n")
    cfg = load_section(ToolConfig, "app.tool", env={"EXECUTION_CONFIG": str(chosen)})
    assert cfg.name == "from-env-file"
    with pytest.raises(ConfigError, match=r"app\.tool must be a table"):
        load_section(ToolConfig, "app.tool", path=write(tmp_path, "[app]\ntool = 3\n"), env={})

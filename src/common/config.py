"""The config loader: TOML + environment + overrides into frozen dataclasses.

Every package that has settings declares them as frozen dataclasses (a field's
``metadata`` may hold ``choices``, ``each`` (allowed items of a list), ``min``, ``max``
and ``gt``)
and loads its own section of the one config file with :func:`load_section`.

Precedence: explicit overrides (CLI) > environment > file > defaults. Environment variables
are named after the dotted key: ``execution.telemetry.base_path`` is
``EXECUTION_TELEMETRY_BASE_PATH``; lists are comma-separated. A bad key or value fails with
one line naming the key and the value (:class:`ConfigError`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG_PATH",
    "ROOT_TABLES",
    "ConfigError",
    "ConfigFile",
    "leaf_keys",
    "load_section",
    "read_config_file",
]

DEFAULT_CONFIG_PATH = Path("config/execution.toml")
# The top-level tables of the one config file, each loaded by the package that owns it:
# ``execution`` (the trading path and the tools below it) and ``dashboard`` (src/webui).
ROOT_TABLES = ("execution", "dashboard")
CONFIG_ENV_VAR = "EXECUTION_CONFIG"

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration key or value is invalid; the message names both."""


@dataclass(frozen=True)
class ConfigFile:
    """The parsed config file (``data`` is empty when the default file does not exist)."""

    path: Path
    data: Mapping[str, Any]

    def table(self, prefix: str) -> Any:
        """The table at a dotted key (``{}`` when absent; a non-table is returned as is)."""
        node: Any = self.data
        for part in prefix.split("."):
            if not isinstance(node, Mapping):
                return node
            node = node.get(part, {})
        return node


def read_config_file(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    roots: Iterable[str] | None = None,
) -> ConfigFile:
    """Parse the config file: ``path``, else ``$EXECUTION_CONFIG``, else
    ``config/execution.toml``. A missing default file means "all defaults"; a missing
    explicit one is an error. ``roots``: the only top-level keys allowed (None: any)."""
    env = os.environ if env is None else env
    explicit = path is not None or CONFIG_ENV_VAR in env
    config_path = Path(path if path is not None else env.get(CONFIG_ENV_VAR, DEFAULT_CONFIG_PATH))
    data: dict[str, Any] = {}
    if config_path.is_file():
        try:
            with config_path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"config file {str(config_path)!r}: {exc.strerror}") from None
    elif explicit:
        raise ConfigError(f"config file {str(config_path)!r} not found")
    if roots is not None:
        unknown = sorted(set(data) - set(roots))
        if unknown:
            raise ConfigError(f"{config_path}: unknown key {unknown[0]!r}")
    return ConfigFile(config_path, data)


def load_section(
    cls: type[T],
    prefix: str,
    *,
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    file: ConfigFile | None = None,
    foreign: Iterable[str] = (),
) -> T:
    """Build ``cls`` from the table at ``prefix`` (``"execution.alerts"``).

    ``file``: an already parsed file (else :func:`read_config_file` of ``path``).
    ``overrides`` maps dotted keys to values; keys outside ``prefix`` are ignored, so one
    mapping can serve several sections. ``foreign``: dotted keys of sub-tables below
    ``prefix`` that another package owns and loads itself (skipped here).
    """
    env = os.environ if env is None else env
    if file is None:
        file = read_config_file(path, env=env)
    skip = frozenset(foreign)
    mine = {
        key: value
        for key, value in (overrides or {}).items()
        if key.startswith(prefix + ".") and not any(_under(key, f) for f in skip)
    }
    known = set(leaf_keys(cls, prefix))
    for key, value in mine.items():
        if key not in known:
            raise ConfigError(f"override: unknown key {key} = {value!r}")
    built: T = _build(cls, file.table(prefix), prefix, env, mine, file.path, skip)
    return built


def leaf_keys(cls: type[Any], prefix: str) -> list[str]:
    """Every dotted key of a settings dataclass (nested tables flattened)."""
    hints = typing.get_type_hints(cls)
    keys: list[str] = []
    for f in dataclasses.fields(cls):
        dotted = f"{prefix}.{f.name}"
        if dataclasses.is_dataclass(hints[f.name]):
            keys.extend(leaf_keys(hints[f.name], dotted))
        else:
            keys.append(dotted)
    return keys


def _under(key: str, table: str) -> bool:
    return key == table or key.startswith(table + ".")


def _build(
    cls: type[Any],
    table: Any,
    prefix: str,
    env: Mapping[str, str],
    overrides: Mapping[str, Any],
    source: Path,
    foreign: frozenset[str],
) -> Any:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: {prefix} must be a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in table:
        if key not in names and f"{prefix}.{key}" not in foreign:
            raise ConfigError(f"{source}: unknown key {prefix}.{key} = {table[key]!r}")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        dotted = f"{prefix}.{f.name}"
        hint = hints[f.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            sub = table.get(f.name, {})
            values[f.name] = _build(hint, sub, dotted, env, overrides, source, foreign)
            continue
        env_name = dotted.upper().replace(".", "_")
        if dotted in overrides:
            raw, origin = overrides[dotted], "override"
        elif env_name in env:
            raw, origin = _from_env(env[env_name], hint), f"${env_name}"
        elif f.name in table:
            raw, origin = table[f.name], str(source)
        else:
            continue
        values[f.name] = _coerce(raw, hint, f.metadata, dotted, origin)
    try:
        return cls(**values)
    except ValueError as exc:  # a table's own consistency check (__post_init__)
        raise ConfigError(f"{source}: invalid {prefix}: {exc}") from None


def _from_env(text: str, hint: Any) -> Any:
    if hint is bool:
        lowered = text.strip().lower()
        return {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}.get(
            lowered, text
        )
    if _is_str_tuple(hint):
        return [part.strip() for part in text.split(",") if part.strip()]
    if hint in (int, float):
        try:
            return hint(text)
        except ValueError:
            return text
    return text


def _is_str_tuple(hint: Any) -> bool:
    return typing.get_origin(hint) is tuple


def _coerce(raw: Any, hint: Any, meta: Mapping[str, Any], key: str, origin: str) -> Any:
    def bad(why: str) -> ConfigError:
        return ConfigError(f"{origin}: invalid value for {key}: {raw!r} ({why})")

    if hint is bool:
        if not isinstance(raw, bool):
            raise bad("expected true or false")
        value: Any = raw
    elif hint is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise bad("expected an integer")
        value = raw
    elif hint is float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise bad("expected a number")
        value = float(raw)
        if not math.isfinite(value):
            raise bad("must be a finite number")
    elif hint is str:
        if not isinstance(raw, str):
            raise bad("expected a string")
        value = raw
    elif _is_str_tuple(hint):
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise bad("expected a list of strings")
        value = tuple(items)
        allowed = meta.get("each")
        if allowed:
            for item in value:
                if item not in allowed:
                    raise bad(f"{item!r} is not one of {', '.join(allowed)}")
    else:  # pragma: no cover - a field type this loader does not know is a programming error
        raise TypeError(f"unsupported config type {hint!r} for {key}")
    choices = meta.get("choices")
    if choices and value not in choices:
        raise bad(f"expected one of {', '.join(choices)}")
    minimum = meta.get("min")
    if minimum is not None and value < minimum:
        raise bad(f"must be >= {minimum}")
    maximum = meta.get("max")
    if maximum is not None and value > maximum:
        raise bad(f"must be <= {maximum}")
    above = meta.get("gt")
    if above is not None and not value > above:
        raise bad(f"must be > {above}")
    return value

"""Optional extras: which extra brings which module, and one line when one is missing.

`pip install .` is the core (the trading path and the terminal commands). The heavier parts
come with extras declared in pyproject.toml; this table names, for each extra, the top-level
modules it brings (tests/common/test_extras.py keeps the two in step). A command that needs
one wraps its ``main`` in :func:`needs_extras`, so a missing module is one line naming the
extra to install and exit code 3, not a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import ParamSpec

DISTRIBUTION = "execution-telemetry"
EXIT_MISSING_EXTRA = 3

# extra -> the top-level modules it brings (import names, not distribution names).
EXTRAS: dict[str, tuple[str, ...]] = {
    "dashboard": (
        "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "jinja2",
        "multipart", "python_multipart", "prometheus_client",
    ),
    "export": ("openpyxl", "pyarrow"),
    "sql": ("duckdb",),
    "scale": ("redis", "hiredis", "prometheus_client"),
}  # fmt: skip

P = ParamSpec("P")


class MissingExtraError(ImportError):
    """An optional library is not installed; the message names the extra that brings it."""


def extra_for(module: str | None, prefer: Sequence[str] = ()) -> str | None:
    """The extra that brings ``module`` (a dotted name is fine), the ones in ``prefer`` first."""
    if not module:
        return None
    top = module.partition(".")[0]
    for extra in (*prefer, *EXTRAS):
        if top in EXTRAS.get(extra, ()):
            return extra
    return None


def missing_message(module: str, extra: str) -> str:
    """One line: which module is missing and the command that installs it."""
    return (
        f"{module.partition('.')[0]} is not installed; it comes with the '{extra}' extra: "
        f"pip install '{DISTRIBUTION}[{extra}]' (or `make install`)"
    )


def missing_extra(exc: BaseException, prefer: Sequence[str] = ()) -> str | None:
    """The one-line message if ``exc`` is an optional module that is not installed, else None."""
    if not isinstance(exc, ModuleNotFoundError):
        return None
    extra = extra_for(exc.name, prefer)
    return None if extra is None or exc.name is None else missing_message(exc.name, extra)


def needs_extras(*extras: str) -> Callable[[Callable[P, int]], Callable[P, int]]:
    """Decorate a command's ``main``: a module of ``extras`` (or any extra) missing at any point,
    or a :class:`MissingExtraError`, is one line on stderr and exit code 3; any other import
    error propagates unchanged."""
    unknown = set(extras) - set(EXTRAS)
    if unknown:
        raise ValueError(f"unknown extra(s): {sorted(unknown)}")

    def decorate(main: Callable[P, int]) -> Callable[P, int]:
        @functools.wraps(main)
        def run(*args: P.args, **kwargs: P.kwargs) -> int:
            try:
                return main(*args, **kwargs)
            except MissingExtraError as exc:
                message = str(exc)
            except ModuleNotFoundError as exc:
                found = missing_extra(exc, extras)
                if found is None:
                    raise
                message = found
            print(f"error: {message}", file=sys.stderr, flush=True)
            return EXIT_MISSING_EXTRA

        return run

    return decorate

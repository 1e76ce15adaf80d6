"""The package layers of docs/architecture.md, read from the source's import statements.

Shared mechanisms exist once in src/common (file locks: ``fcntl`` nowhere else), src/common
imports nothing above it, no package imports one above it, and feature packages do not
borrow each other's helpers.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# Bottom to top, as in docs/architecture.md.
ORDER = [
    "common",
    "execution",
    "query",
    "live",
    "export",
    "replay",
    "importers",
    "sql",
    "cli",
    "streaming",
    "ops",
    "alerts",
    "webui",
    "demo",
]

# Feature packages that must not import each other for helpers (allowed by height alone).
NOT_FOR_HELPERS = {("alerts", "ops"), ("replay", "export")}


def _imports() -> list[tuple[str, str, str]]:
    """``(importing package, imported module, where)`` for every absolute ``src.`` import."""
    found = []
    for path in SRC.rglob("*.py"):
        top = path.relative_to(SRC).parts[0].removesuffix(".py")
        if top == "__init__":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.append((top, name, f"{path.relative_to(SRC.parent)}:{node.lineno}"))
    return found


def test_every_package_is_placed():
    tops = {p.name.removesuffix(".py") for p in SRC.iterdir() if not p.name.startswith("_")}
    tops.discard("__pycache__")
    assert tops <= set(ORDER), tops - set(ORDER)


def test_file_locks_live_in_common_only():
    users = [where for top, name, where in _imports() if name == "fcntl" and top != "common"]
    assert users == []


def test_no_package_imports_one_above_it_or_a_sideways_helper():
    wrong = []
    for top, name, where in _imports():
        parts = name.split(".")
        if parts[0] != "src" or len(parts) < 2 or parts[1] == top:
            continue
        target = parts[1]
        if ORDER.index(target) > ORDER.index(top) or (top, target) in NOT_FOR_HELPERS:
            wrong.append(f"{where}: {top} -> {name}")
    assert wrong == []

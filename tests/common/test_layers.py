"""A lower layer never imports a higher one (read from the source, every import statement,
also those inside functions). A command's entry module (``cli.py``, ``*_cli.py``) belongs to
the command-line layer wherever it lives."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

# Each package may import its own layer and the layers before it.
LAYERS: list[set[str]] = [
    {"common"},
    {"execution"},
    {"query"},
    {"export", "live", "importers", "sql", "streaming", "replay"},
    {"cli", "webui", "alerts", "ops", "demo"},
]


def layer_of(package: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if package in names)


def imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found.update(n.split(".")[1] for n in names if n.startswith("src.") and "." in n)
    return found


def test_every_package_has_a_layer():
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    packages |= {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    assert {p for p in packages if not any(p in names for names in LAYERS)} == set()


@pytest.mark.parametrize("layer", range(len(LAYERS) - 1))
def test_no_lower_layer_imports_a_higher_one(layer):
    wrong = []
    for package in LAYERS[layer]:
        root = SRC / package
        files = sorted(root.rglob("*.py")) if root.is_dir() else [SRC / f"{package}.py"]
        for path in files:
            if path.stem == "cli" or path.stem.endswith("_cli"):
                continue
            higher = {p for p in imported_packages(path) if layer_of(p) > layer}
            if higher:
                wrong.append(f"{path.relative_to(SRC)} imports {sorted(higher)}")
    assert wrong == []

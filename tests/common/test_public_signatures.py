"""No ``Any`` in the public signatures of the trading path and the read path.

Public: module-level functions, classes and their methods and annotated fields, and
module-level annotated names or type aliases, whose name does not start with ``_`` (dunder
methods count). Free-form JSON is ``JsonValue``/``JsonObject``/``Payload``
(``src/execution/jsontypes.py``); ``mypy --strict`` (``make lint``) checks the rest.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("src/execution", "src/query")
ANY = re.compile(r"\bAny\b")


def _public(name: str) -> bool:
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))


def _function_hits(fn: ast.FunctionDef | ast.AsyncFunctionDef, where: str) -> list[str]:
    args = fn.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    hits = [
        f"{where}({a.arg}: {ast.unparse(a.annotation)})"
        for a in every
        if a is not None and a.annotation is not None and ANY.search(ast.unparse(a.annotation))
    ]
    if fn.returns is not None and ANY.search(ast.unparse(fn.returns)):
        hits.append(f"{where} -> {ast.unparse(fn.returns)}")
    return hits


def public_any(source: str, name: str) -> list[str]:
    """Every public signature in ``source`` (the module ``name``) that mentions ``Any``."""
    hits: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _public(node.name):
            hits += _function_hits(node, f"{name}:{node.lineno} {node.name}")
        elif isinstance(node, ast.ClassDef) and _public(node.name):
            for item in node.body:
                where = f"{name}:{item.lineno} {node.name}"
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    if _public(item.name):
                        hits += _function_hits(item, f"{where}.{item.name}")
                elif (
                    isinstance(item, ast.AnnAssign)
                    and isinstance(item.target, ast.Name)
                    and _public(item.target.id)
                    and ANY.search(ast.unparse(item.annotation))
                ):
                    hits.append(f"{where}.{item.target.id}: {ast.unparse(item.annotation)}")
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            text = ast.unparse(node.annotation) + " " + ast.unparse(node.value or node.annotation)
            if _public(node.target.id) and ANY.search(text):
                hits.append(f"{name}:{node.lineno} {node.target.id}: {text}")
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id[:1].isupper()  # a type alias, by naming convention
            and ANY.search(ast.unparse(node.value))
        ):
            hits.append(f"{name}:{node.lineno} {node.targets[0].id} = {ast.unparse(node.value)}")
    return hits


def test_no_any_in_public_signatures():
    hits = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            hits += public_any(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert hits == []


def test_the_check_sees_each_kind_of_public_signature():
    """The scan finds Any in a parameter, a return, a field, a module name and an alias,
    and leaves private names and function bodies alone."""
    source = """
from typing import Any
Alias = dict[str, Any]
VALUE: Any = None
_private: Any = None
def f(x: Any) -> int: ...
def g() -> list[Any]: ...
def _h(x: Any) -> Any: ...
class Record:
    data: dict[str, Any]
    _cache: Any
    def get(self, key: str, default: Any = None) -> object: ...
    def _inner(self) -> Any: ...
    def body(self) -> None:
        local: Any = 1
"""
    found = [hit.split(" ", 1)[1] for hit in public_any(source, "m")]
    assert found == [
        "Alias = dict[str, Any]",
        "VALUE: Any None",
        "f(x: Any)",
        "g -> list[Any]",
        "Record.data: dict[str, Any]",
        "Record.get(default: Any)",
    ]

"""No ``Any`` in the public signatures of the order-lifecycle modules of src/query (the
shared rules and the blotter): their callers get precise types (``object`` for payload
values as logged, which a reader narrows)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import src.query.orders

MODULES = [
    "src.query.lifecycle",
    "src.query.intervals",
    "src.query.orders",
    *(f"src.query.orders.{m.name}" for m in pkgutil.iter_modules(src.query.orders.__path__)),
]


def _signatures(module):
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj) and obj.__module__ == module.__name__:
            for attr, member in vars(obj).items():
                if inspect.isfunction(member) and (not attr.startswith("_") or attr == "__init__"):
                    yield f"{name}.{attr}", member
            yield f"{name} fields", obj


@pytest.mark.parametrize("name", MODULES)
def test_no_any_in_public_signatures(name):
    module = importlib.import_module(name)
    found = []
    for where, obj in _signatures(module):
        for key, annotation in getattr(obj, "__annotations__", {}).items():
            if "Any" in str(annotation):
                found.append(f"{where}: {key}: {annotation}")
    assert not found, found

"""Object graphs as plain msgpack data, and back, without running code from the data.

Saved summary state (:mod:`src.query.summary_state`) is the builder's object graph: its
counters, maps, sample lists and the analytics objects holding them. This codec turns such
a graph into nested lists of msgpack values and back, generically: a new attribute or a new
accumulator class in the analytics is saved with no change here. It is not pickle: decoding
only ever builds containers, scalars, dates, and instances of classes the caller allows
(created without calling ``__init__`` or any other method of theirs, attributes set
directly); names in the data that are not allowed make decoding fail. Shared objects stay
shared (a map that two attributes refer to is one map after decoding), as in the original.

Big homogeneous sequences (fill ids, completed order ids, latency samples) are kept as one
msgpack array or one block of float64 bytes, which msgpack decodes in C: opening the state
of a million-event session costs milliseconds, not a Python call per value.

Hand-written (no library does this without pickle's code execution): msgspec encodes typed
schemas, not arbitrary graphs with shared references.
"""

from __future__ import annotations

import enum
import inspect
import itertools
import sys
from array import array
from collections import Counter, deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from types import FunctionType, MethodType
from typing import Any

import msgspec

__all__ = ["Decoder", "StateError", "classes_in", "encode", "types_used"]

_INT_MIN, _INT_MAX = -(1 << 63), (1 << 64) - 1
_PLAIN = frozenset({str, float, bool, type(None), bytes, int})


class StateError(ValueError):
    """The data is not a graph this codec wrote, or names something not allowed."""


def _ref(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class _Encoder:
    def __init__(self) -> None:
        self.memo: dict[int, int] = {}
        self.keep: list[Any] = []  # the memoised objects stay alive (ids stay unique)
        self.types: set[type] = set()

    def _remember(self, obj: Any) -> list[Any] | None:
        n = self.memo.get(id(obj))
        if n is not None:
            return ["r", n]
        self.memo[id(obj)] = len(self.memo)
        self.keep.append(obj)
        return None

    def seq(self, values: Iterable[Any]) -> list[Any]:
        """A sequence node: plain values raw, floats as bytes, one repeated value once."""
        items = values if isinstance(values, list) else list(values)
        kinds = set(map(type, items))
        if kinds == {float}:
            return ["F", array("d", items).tobytes()]
        if kinds <= _PLAIN and (int not in kinds or _ints_fit(items)):
            return ["P", items]
        if kinds == {tuple} and len(items) > 1:
            # Same-width tuples (window entries, pending intents): column by column, so
            # that a column of floats or strings is one node, not one per tuple.
            width = len(items[0])
            if width and all(len(t) == width for t in items):
                return ["C", [self.seq(column) for column in zip(*items, strict=True)]]
        if len(items) > 16:
            # Mostly one value (completed order ids, say): that value once, the others by index.
            common, count = Counter(map(id, items)).most_common(1)[0]
            if count * 2 > len(items):
                first = next(v for v in items if id(v) == common)
                others = [i for i, v in enumerate(items) if id(v) != common]
                return [
                    "S",
                    self.node(first),
                    len(items),
                    others,
                    [self.node(items[i]) for i in others],
                ]
        return ["G", [self.node(v) for v in items]]

    def node(self, obj: Any) -> Any:
        cls = type(obj)
        if cls is str or cls is float or cls is bool or obj is None or cls is bytes:
            return obj
        if cls is int:
            return obj if _INT_MIN <= obj <= _INT_MAX else ["I", str(obj)]
        if cls is tuple:
            return ["t", self.seq(obj)]
        if cls is datetime:
            return ["D", obj.isoformat()]
        if cls is timedelta:
            return ["T", obj.days, obj.seconds, obj.microseconds]
        if isinstance(obj, enum.Enum) or cls is object:
            return ["K", *self._constant(obj)]
        if cls is MethodType:  # made anew on every attribute access: not memoised
            return ["m", self.node(obj.__self__), obj.__func__.__name__]
        seen = self._remember(obj)
        if seen is not None:
            return seen
        if cls is list:
            return ["l", self.seq(obj)]
        if cls is dict:
            return ["d", self.seq(obj.keys()), self.seq(obj.values())]
        if cls is Counter:
            return ["c", self.seq(obj.keys()), self.seq(obj.values())]
        if cls is set:
            return ["s", self.seq(obj)]
        if cls is deque:
            if obj.maxlen is not None:
                raise StateError("a bounded deque is not supported")
            return ["q", self.seq(obj)]
        if cls is array:
            return ["a", obj.typecode, obj.tobytes()]
        self.types.add(cls)
        if isinstance(obj, msgspec.Struct):
            fields = cls.__struct_fields__
            return ["o", _ref(cls), self.seq(getattr(obj, f) for f in fields)]
        if "__setstate__" in _own(cls) and hasattr(obj, "__dict__"):
            # The class's own state protocol (data only: a dict of attributes), e.g. the
            # pairer's, which packs its id sets into one msgpack blob unpacked when used.
            state = obj.__getstate__()
            if type(state) is dict and _plain_new(cls):
                return ["O!", _ref(cls), self.node(state)]
        names = _attributes(obj)
        if not _plain_new(cls) or names is None:
            raise StateError(f"cannot save a {cls.__qualname__}")
        return ["O", _ref(cls), names, self.seq(getattr(obj, n) for n in names)]

    def _constant(self, obj: Any) -> tuple[str, str]:
        """An enum member or a module-level sentinel, by module and name."""
        if isinstance(obj, enum.Enum):
            self.types.add(type(obj))
            return _ref(type(obj)), obj.name
        for name, module in list(sys.modules.items()):
            if name.startswith("src.query.") and module is not None:
                for attr, value in vars(module).items():
                    if value is obj:
                        return name, attr
        raise StateError("an unnamed object() cannot be saved")


def _plain_new(cls: type) -> bool:
    """``cls`` is built by ``object.__new__`` (no code of its own runs)."""
    new: object = cls.__new__
    return new is object.__new__


def _ints_fit(items: list[Any]) -> bool:
    ints = [v for v in items if type(v) is int]
    return min(ints) >= _INT_MIN and max(ints) <= _INT_MAX


def _own(cls: type) -> set[str]:
    """Names defined by ``cls`` or its bases, ``object`` excluded."""
    return {name for klass in cls.__mro__[:-1] for name in vars(klass)}


def _attributes(obj: Any) -> list[str] | None:
    names: list[str] = list(getattr(obj, "__dict__", {}))
    for klass in type(obj).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                names.append(slot)
    return names


def encode(obj: object) -> bytes:
    """``obj``'s graph as msgpack bytes (:class:`StateError` for what cannot be saved)."""
    try:
        return msgspec.msgpack.encode(_Encoder().node(obj))
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise StateError(str(exc)) from exc


def types_used(obj: object) -> set[type]:
    """The classes (besides containers and scalars) in ``obj``'s graph."""
    enc = _Encoder()
    enc.node(obj)
    return enc.types


def classes_in(module_prefixes: Iterable[str]) -> set[type]:
    """Every class defined in an imported module under the given prefixes."""
    prefixes = tuple(module_prefixes)
    out: set[type] = set()
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(prefixes):
            continue
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == name:
                out.add(value)
    return out


class Decoder:
    """Decodes what :func:`encode` wrote, building instances of ``allowed`` classes only."""

    def __init__(self, allowed: Iterable[type]) -> None:
        self._classes = {_ref(cls): cls for cls in allowed}

    def decode(self, data: bytes | memoryview) -> object:
        try:
            return _Decoding(self._classes).node(msgspec.msgpack.decode(data))
        except StateError:
            raise
        except Exception as exc:  # malformed data of any shape: not a state
            raise StateError(f"{type(exc).__name__}: {exc}") from exc


class _Decoding:
    def __init__(self, classes: dict[str, type]) -> None:
        self.classes = classes
        self.memo: list[Any] = []

    def cls(self, ref: str) -> type:
        found = self.classes.get(ref)
        if found is None:
            raise StateError(f"class {ref!r} is not allowed")
        return found

    def seq(self, node: list[Any]) -> list[Any]:
        tag = node[0]
        if tag == "P":
            return node[1]  # type: ignore[no-any-return]  # a fresh list from msgpack
        if tag == "F":
            values = array("d")
            values.frombytes(node[1])
            return values.tolist()
        if tag == "S":
            out = list(itertools.repeat(self.node(node[1]), int(node[2])))
            for i, value in zip(node[3], node[4], strict=True):
                out[i] = self.node(value)
            return out
        if tag == "G":
            return [self.node(v) for v in node[1]]
        if tag == "C":
            columns = [self.seq(column) for column in node[1]]
            return list(zip(*columns, strict=True))
        raise StateError(f"bad sequence tag {tag!r}")

    def _new(self, obj: Any) -> Any:
        self.memo.append(obj)
        return obj

    def node(self, node: Any) -> Any:
        if type(node) is not list:
            return node
        tag = node[0]
        if tag == "r":
            return self.memo[node[1]]
        if tag == "t":
            return tuple(self.seq(node[1]))
        if tag == "I":
            return int(node[1])
        if tag == "D":
            return datetime.fromisoformat(node[1])
        if tag == "T":
            return timedelta(days=node[1], seconds=node[2], microseconds=node[3])
        if tag == "K":
            return self._constant(node[1], node[2])
        if tag == "l":
            out: list[Any] = self._new([])
            out.extend(self.seq(node[1]))
            return out
        if tag in ("d", "c"):
            mapping: dict[Any, Any] = self._new({} if tag == "d" else Counter())
            keys = self.seq(node[1])
            # dict.update: Counter.update would count the pairs, not set them
            dict.update(mapping, zip(keys, self.seq(node[2]), strict=True))
            return mapping
        if tag == "s":
            values: set[Any] = self._new(set())
            values.update(self.seq(node[1]))
            return values
        if tag == "q":
            queue: deque[Any] = self._new(deque())
            queue.extend(self.seq(node[1]))
            return queue
        if tag == "a":
            arr = self._new(array(node[1]))
            arr.frombytes(node[2])
            return arr
        if tag == "m":
            owner = self.node(node[1])
            name = node[2]
            if type(name) is not str or not isinstance(
                inspect.getattr_static(type(owner), name, None), FunctionType
            ):
                raise StateError(f"{name!r} is not a method")
            return getattr(owner, name)
        if tag == "o":
            cls = self.cls(node[1])
            if not issubclass(cls, msgspec.Struct):
                raise StateError(f"{node[1]!r} is not a struct")
            slot = len(self.memo)
            self.memo.append(None)
            obj = cls(*self.seq(node[2]))
            self.memo[slot] = obj
            return obj
        if tag == "O":
            cls = self.cls(node[1])
            if not _plain_new(cls):
                raise StateError(f"{node[1]!r} cannot be built")
            obj = self._new(object.__new__(cls))
            for name, value in zip(node[2], self.seq(node[3]), strict=True):
                if type(name) is not str:
                    raise StateError("bad attribute name")
                object.__setattr__(obj, name, value)
            return obj
        if tag == "O!":
            cls = self.cls(node[1])
            if not _plain_new(cls) or "__setstate__" not in _own(cls):
                raise StateError(f"{node[1]!r} cannot be built")
            obj = self._new(object.__new__(cls))
            state = self.node(node[2])
            if type(state) is not dict:
                raise StateError("bad object state")
            obj.__setstate__(state)
            return obj
        raise StateError(f"bad tag {tag!r}")

    def _constant(self, module: str, name: str) -> Any:
        if ":" in module:
            cls = self.cls(module)
            if not issubclass(cls, enum.Enum):
                raise StateError(f"{module!r} is not an enum")
            return cls[name]
        owner = sys.modules.get(module)
        if owner is None or not module.startswith("src.query."):
            raise StateError(f"constant from {module!r} is not allowed")
        value = vars(owner).get(name)
        if type(value) is not object:
            raise StateError(f"{module}.{name} is not a sentinel")
        return value

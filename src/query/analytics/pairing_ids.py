"""Fill ids and completed order ids as a saved state keeps them: looked up, never rebuilt.

A pairer remembers every fill's event id (a later fill with the same id is a duplicate) and
the id of every order filled completely (a later fill for it is a duplicate; a later cancel
changes nothing). A million-event session has ~325K of them: turning them back into a Python
set and dicts cost a new process resuming a saved state several times what a thousand
appended events do. So a saved state keeps them as :class:`IdIndex` es, read as they are:
the ids are spread over buckets by a stable hash, each bucket one msgpack array, all of
them one msgpack array of arrays (one blob, bucket offsets beside it). A lookup hashes the
id, decodes its one bucket (16 to 64 ids) and compares with Python's ``==``: the
meaning of the set and dicts it stands for, where ``1 == 1.0 == True`` (the hash is of a
canonical form, equal numbers hash alike). Ids seen since the state was opened go into an
ordinary set beside it (:class:`IndexedSet`) or stay in the pairer's order maps; the indexes
are rebuilt with them when the state is saved again (:func:`index_ids`).

The hash is CRC-32 (zlib, computed in C): Python's ``hash()`` of a str differs per process.
Hand-written: no library at hand keeps a set of strings lookup-ready in bytes.
"""

from __future__ import annotations

import itertools
import zlib
from array import array
from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from src.query.analytics import pairing_state
from src.query.analytics.pairing_model import COMPLETED

if TYPE_CHECKING:
    from src.query.analytics.pairing import Pairer

__all__ = ["IdIndex", "IndexedSet", "index_ids", "materialize"]

LOAD = 32
"""Ids per bucket when an index is built: at most this many on average (at least half);
merges add to the buckets until they hold twice as many, then it is built again, bigger."""

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.decode
_ARRAY32 = b"\xdd"  # msgpack: an array of up to 2**32 - 1 items, its length in 4 bytes
_INDEXABLE = (TypeError, ValueError, OverflowError)  # what encoding an odd id may raise


class _Unsupported(Exception):
    """An id of a type the index does not keep."""


def _canonical(value: object) -> bytes:
    """The bytes hashed for ``value``: the same for every value equal to it."""
    cls = value.__class__
    if cls is str:
        return value.encode("utf-8", "surrogatepass")  # type: ignore[attr-defined, no-any-return]
    if cls is float:
        if value.is_integer():  # type: ignore[attr-defined]
            return b"\xffi%d" % int(value)  # type: ignore[call-overload]
        return b"\xfff" + value.hex().encode()  # type: ignore[attr-defined, no-any-return]
    if cls is int or cls is bool:
        return b"\xffi%d" % int(value)  # type: ignore[call-overload]
    if value is None:
        return b"\xffn"
    raise _Unsupported


def _hashes(keys: Sequence[Hashable]) -> Iterable[int]:
    if set(map(type, keys)) <= {str}:
        try:
            return list(map(zlib.crc32, map(str.encode, keys)))  # type: ignore[arg-type]
        except UnicodeEncodeError:
            pass  # a lone surrogate: the canonical form passes it
    return [zlib.crc32(_canonical(k)) for k in keys]


class IdIndex:
    """A set of ids (str, int, float, bool or None) kept as bytes, for ``in`` only."""

    def __init__(self, blob: bytes, starts: array[int], count: int) -> None:
        self.blob = blob  # one msgpack array: the buckets, each an array of ids
        self.starts = starts  # where each bucket starts in the blob, and the blob's end
        self.count = count

    @classmethod
    def build(cls, keys: Sequence[Hashable]) -> IdIndex:
        """An index of ``keys`` (each once). Raises ValueError for an id it cannot keep."""
        try:
            hashes = _hashes(keys)
            mask = (1 << (len(keys) // LOAD).bit_length()) - 1
            buckets: list[list[Hashable]] = [[] for _ in range(mask + 1)]
            for key, h in zip(keys, hashes, strict=True):
                buckets[h & mask].append(key)
            return cls._of([_encode(b) for b in buckets], len(keys))
        except (_Unsupported, *_INDEXABLE) as exc:
            raise ValueError(f"an id cannot be indexed: {exc}") from exc

    @classmethod
    def _of(cls, pieces: list[bytes], count: int) -> IdIndex:
        head = _ARRAY32 + len(pieces).to_bytes(4, "big")
        starts = array("I", itertools.accumulate(map(len, pieces), initial=len(head)))
        return cls(b"".join([head, *pieces]), starts, count)

    def check(self) -> None:
        """Raise ValueError unless this is an index :meth:`build` could have made (a
        decoded state is data: its shape is checked before it is used)."""
        starts = self.starts
        if (
            type(self.blob) is not bytes
            or type(starts) is not array
            or starts.typecode != "I"
            or type(self.count) is not int
        ):
            raise ValueError("not an id index")
        buckets = len(starts) - 1
        if buckets < 1 or buckets & (buckets - 1) or starts[-1] != len(self.blob):
            raise ValueError("not an id index")
        if any(map(int.__gt__, starts, starts[1:])):
            raise ValueError("not an id index")

    def __contains__(self, key: object) -> bool:
        try:
            h = zlib.crc32(_canonical(key))
        except _Unsupported:
            return False  # never indexed: build() refuses such ids
        b = h & (len(self.starts) - 2)
        return key in _decode(self.blob[self.starts[b] : self.starts[b + 1]])

    def __len__(self) -> int:
        return self.count

    def ids(self) -> list[Hashable]:
        """Every id (decoded: for merges and tests, not for lookups)."""
        return list(itertools.chain.from_iterable(_decode(self.blob)))

    def merged(self, new: Sequence[Hashable]) -> IdIndex:
        """This index with ``new`` ids (none of them in it) added; rebuilt with more
        buckets once they hold twice :data:`LOAD` ids on average."""
        if not new:
            return self
        buckets = len(self.starts) - 1
        if self.count + len(new) > 2 * LOAD * buckets:
            return IdIndex.build(self.ids() + list(new))
        try:
            hashes = _hashes(new)
            mask = buckets - 1
            grown: dict[int, list[Hashable]] = {}
            for key, h in zip(new, hashes, strict=True):
                grown.setdefault(h & mask, []).append(key)
            blob, starts = self.blob, self.starts
            pieces = [blob[starts[i] : starts[i + 1]] for i in range(buckets)]
            for b, keys in grown.items():
                pieces[b] = _encode(_decode(pieces[b]) + keys)
        except (_Unsupported, *_INDEXABLE) as exc:
            raise ValueError(f"an id cannot be indexed: {exc}") from exc
        return IdIndex._of(pieces, self.count + len(new))


class IndexedSet(set[Hashable]):
    """The fill ids seen since a saved state was opened (the set itself), and those of
    its index (looked up). Only ``in`` and ``add`` are meant: anything else sees the new
    ids alone (:func:`materialize` first)."""

    __slots__ = ("index",)

    def __init__(self, index: IdIndex, values: Iterable[Hashable] = ()) -> None:
        super().__init__(values)
        self.index = index

    def __contains__(self, key: object) -> bool:
        return set.__contains__(self, key) or key in self.index


def index_ids(pairer: Pairer) -> None:
    """Move the pairer's fill ids and completed order ids into its indexes (the form a
    saved state keeps). Left as they are when an id cannot be indexed."""
    if pairer.ranged or pairer.last_merged:
        return  # never saved: only a whole read's pairer is
    if pairer._packed is not None:
        fill_ids, completed = pairing_state.packed_lists(pairer)
        done: list[tuple[Any, list[Any]]] = list(completed)
    else:
        fill_ids = list(pairer._fill_ids)  # those since the index, if there is one
        done = []
        for sid, orders in pairer._orders.items():
            ended = [cid for cid, value in orders.items() if value is COMPLETED]
            if ended:
                done.append((sid, ended))
    old = pairer._fill_index
    try:
        fills = IdIndex.build(fill_ids) if old is None else old.merged(fill_ids)
        indexes = dict(pairer._done_index)
        for sid, cids in done:
            had = indexes.get(sid)
            if had is None:
                indexes[sid] = IdIndex.build(cids)
            else:  # an id completed again after an order reused it: kept once
                indexes[sid] = had.merged([cid for cid in cids if cid not in had])
    except ValueError:
        return
    if pairer._packed is not None:
        pairer._packed = pairer._unpacked = None
    else:
        for sid, _ in done:
            orders = pairer._orders[sid]
            pairer._orders[sid] = {k: v for k, v in orders.items() if v is not COMPLETED}
    pairer._fill_index = fills
    pairer._fill_ids = IndexedSet(fills)
    pairer._done_index = indexes
    pairer.forget_session()


def materialize(pairer: Pairer) -> None:
    """Put the indexed ids back into an ordinary set and the order maps (for merges)."""
    if pairer._fill_index is not None:
        ids = set(pairer._fill_index.ids())
        ids.update(pairer._fill_ids)
        pairer._fill_ids, pairer._fill_index = ids, None
    for sid, index in pairer._done_index.items():
        orders = pairer._orders.setdefault(sid, {})
        for cid in index.ids():
            orders.setdefault(cid, COMPLETED)  # an order placed again since keeps its place
    pairer._done_index = {}
    pairer.forget_session()

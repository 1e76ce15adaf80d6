"""Sorted copies of a pairer's sample lists, kept up to date between summaries.

A pairer's latency and slippage samples only ever grow (at the end). A summary needs them
sorted for its percentiles; sorting a few hundred thousand floats from scratch takes tens
of milliseconds per list. A reader that asks for a summary again and again (the dashboard,
the alert engine) keeps a :class:`SortedSamples` instead: each list's sorted copy gets the
samples appended since last time merged in (a binary search per new sample, the runs
between them copied as blocks). The percentiles and averages are exactly those of a full
sort: equal values keep the order a stable sort gives (the earlier ones first).

Sorted copies are arrays of doubles, so that a saved state opens without making a Python
float per sample (saved and read back as one block of bytes each).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Hashable, Iterable, Mapping, Sequence

__all__ = ["SortedSamples"]


def _merged(values: array[float], new: Iterable[float]) -> array[float]:
    """``values`` (sorted) with ``new`` merged in, as a stable sort of both in that order
    would place them; ``values`` itself is reused when it is empty."""
    added = sorted(new)
    if not values:
        return array("d", added)
    if len(added) * 16 > len(values):  # many new samples: one sort is cheaper
        everything = values.tolist()
        everything.extend(added)
        everything.sort()
        return array("d", everything)
    out = array("d")
    start = 0
    for value in added:
        end = bisect_right(values, value, start)
        out.extend(values[start:end])
        out.append(value)
        start = end
    out.extend(values[start:])
    return out


class _Mirror:
    __slots__ = ("seen", "source", "values")

    def __init__(self) -> None:
        self.source: Sequence[float] | None = None
        self.seen = 0
        self.values: array[float] = array("d")

    def update(self, source: Sequence[float]) -> Sequence[float]:
        """Take in what ``source`` gained since the last call; return those samples."""
        if source is not self.source or len(source) < self.seen:
            self.source, self.seen, self.values = source, 0, array("d")  # a new or rewritten list
        new = source[self.seen :]
        if new:
            self.values = _merged(self.values, new)
            self.seen = len(source)
        return new


class SortedSamples:
    """Sorted copies of append-only sample lists, by key (one instance per pairer)."""

    def __init__(self) -> None:
        self._mirrors: dict[Hashable, _Mirror] = {}

    def sorted(self, key: Hashable, source: Sequence[float]) -> Sequence[float]:
        """``source`` sorted (the returned array is shared: read it, do not change it)."""
        mirror = self._mirror(key)
        mirror.update(source)
        return mirror.values

    def sorted_union(
        self, key: Hashable, sources: Mapping[Hashable, Sequence[float]]
    ) -> Sequence[float]:
        """All of ``sources`` together, sorted; each source also gets its own sorted copy
        (under ``(key, source key)``, for :meth:`sorted_member`)."""
        added: list[float] = []
        total = 0
        for name, source in sources.items():
            added.extend(self._mirror((key, name)).update(source))
            total += len(source)
        mirror = self._mirror(key)
        if len(mirror.values) + len(added) == total:
            if added:
                mirror.values = _merged(mirror.values, added)
        else:  # a source was replaced or rewritten: start over from the members
            everything: list[float] = []
            for name in sources:
                everything.extend(self._mirrors[(key, name)].values)
            mirror.values = _merged(array("d"), everything)
        return mirror.values

    def sorted_member(self, key: Hashable, name: Hashable) -> Sequence[float]:
        """One source's sorted copy, as brought up to date by :meth:`sorted_union`."""
        return self._mirrors[(key, name)].values

    def _mirror(self, key: Hashable) -> _Mirror:
        mirror = self._mirrors.get(key)
        if mirror is None:
            mirror = self._mirrors[key] = _Mirror()
        return mirror

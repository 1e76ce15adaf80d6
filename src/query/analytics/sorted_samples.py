"""Sorted copies of a pairer's sample lists, kept up to date between summaries.

A pairer's latency and slippage samples only ever grow (at the end). A summary needs them
sorted for its percentiles; sorting a few hundred thousand floats from scratch takes tens
of milliseconds per list. A reader that asks for a summary again and again (the dashboard,
the alert engine) keeps a :class:`SortedSamples` instead: each list's sorted copy gets the
samples appended since last time and is re-sorted, which for a sorted run plus a short
tail is one linear pass. The percentiles and averages are exactly those of a full sort.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

__all__ = ["SortedSamples"]


class _Mirror:
    __slots__ = ("seen", "source", "values")

    def __init__(self) -> None:
        self.source: Sequence[float] | None = None
        self.seen = 0
        self.values: list[float] = []

    def update(self, source: Sequence[float]) -> Sequence[float]:
        """Take in what ``source`` gained since the last call; return those samples."""
        if source is not self.source or len(source) < self.seen:
            self.source, self.seen, self.values = source, 0, []  # a new or rewritten list
        new = source[self.seen :]
        if new:
            self.values.extend(new)
            self.values.sort()
            self.seen = len(source)
        return new


class SortedSamples:
    """Sorted copies of append-only sample lists, by key (one instance per pairer)."""

    def __init__(self) -> None:
        self._mirrors: dict[Hashable, _Mirror] = {}

    def sorted(self, key: Hashable, source: Sequence[float]) -> list[float]:
        """``source`` sorted (the returned list is shared: read it, do not change it)."""
        mirror = self._mirror(key)
        mirror.update(source)
        return mirror.values

    def sorted_union(
        self, key: Hashable, sources: Mapping[Hashable, Sequence[float]]
    ) -> list[float]:
        """All of ``sources`` together, sorted; each source also gets its own sorted copy
        (under ``(key, source key)``, for :meth:`sorted_member`)."""
        added: list[float] = []
        total = 0
        for name, source in sources.items():
            added.extend(self._mirror((key, name)).update(source))
            total += len(source)
        union = self._mirror(key).values
        if len(union) + len(added) == total:
            if added:
                union.extend(added)
                union.sort()
        else:  # a source was replaced or rewritten: start over from the members
            union.clear()
            for name in sources:
                union.extend(self._mirrors[(key, name)].values)
            union.sort()
        return union

    def sorted_member(self, key: Hashable, name: Hashable) -> list[float]:
        """One source's sorted copy, as brought up to date by :meth:`sorted_union`."""
        return self._mirrors[(key, name)].values

    def _mirror(self, key: Hashable) -> _Mirror:
        mirror = self._mirrors.get(key)
        if mirror is None:
            mirror = self._mirrors[key] = _Mirror()
        return mirror

"""Sorted copies kept between summaries: exactly a stable full sort, held as doubles."""

from __future__ import annotations

import math
from array import array

from hypothesis import given
from hypothesis import strategies as st

from src.query.analytics.sorted_samples import SortedSamples
from src.query.state_codec import Decoder, encode

# Few distinct values (ties), zeros of both signs: a merge that places equal values
# differently from a stable sort shows up in the signs of the zeros.
_VALUE = st.sampled_from([-0.0, 0.0, 1.5, -2.0, 3.25]) | st.floats(
    -1e6, 1e6, allow_nan=False, allow_infinity=False
)
_CHUNKS = st.lists(st.lists(_VALUE, max_size=40), min_size=1, max_size=8)


def _exact(values: object) -> list[tuple[float, float]]:
    return [(v, math.copysign(1.0, v)) for v in values]  # type: ignore[attr-defined]


@given(_CHUNKS)
def test_sorted_copy_is_a_stable_full_sort_as_doubles(chunks: list[list[float]]) -> None:
    keep, source = SortedSamples(), array("d")
    for chunk in chunks:
        source.extend(chunk)
        got = keep.sorted("leg", source)
        assert type(got) is array and got.typecode == "d"  # no Python float per sample
        assert _exact(got) == _exact(sorted(source))


@given(st.lists(st.tuples(st.sampled_from("abc"), _CHUNKS), min_size=1, max_size=4))
def test_sorted_union_and_members_after_a_saved_state(
    rounds: list[tuple[str, list[list[float]]]],
) -> None:
    keep = SortedSamples()
    sources: dict[str, list[float]] = {}
    for symbol, chunks in rounds:
        for chunk in chunks:
            sources.setdefault(symbol, []).extend(chunk)
            union = keep.sorted_union("slippage", sources)
            everything = [v for values in sources.values() for v in values]
            # Equal values of different symbols arrive in file order, not symbol by
            # symbol: the union is compared by value (-0.0 == 0.0), the members exactly.
            assert list(union) == sorted(everything)
            for name, values in sources.items():
                assert _exact(keep.sorted_member("slippage", name)) == _exact(sorted(values))
        # A new process: the state goes through the codec, the sources with it.
        keep, sources = Decoder({SortedSamples, *_mirror_types(keep)}).decode(  # type: ignore[misc]
            encode((keep, sources))
        )
        assert all(type(m.values) is array for m in keep._mirrors.values())


def _mirror_types(keep: SortedSamples) -> set[type]:
    return {type(m) for m in keep._mirrors.values()}

"""Id indexes: ``in`` means what it means for a Python set, ids of every scalar type."""

from __future__ import annotations

import math
import subprocess
import sys
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.query.analytics.pairing import Pairer
from src.query.analytics.pairing_ids import LOAD, IdIndex, IndexedSet
from src.query.analytics.pairing_model import COMPLETED, Order
from src.query.state_codec import Decoder, classes_in, encode

# Ids that collide as Python keys (1 == 1.0 == True, 0 == -0.0 == False) or nearly do.
SCALARS = st.one_of(
    st.sampled_from([0, 1, 2, -1, 1.0, 0.0, -0.0, 2.5, True, False, None, "1", "1.0", "", "a"]),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(SCALARS, max_size=80), st.lists(SCALARS, max_size=40), st.lists(SCALARS))
def test_membership_is_a_sets(keys, added, probes):
    unique = list(dict.fromkeys(k for k in keys if not _nan(k)))
    index = IdIndex.build(unique)
    index.check()
    assert len(index) == len(unique)
    for probe in [*probes, *keys, *added]:
        assert (probe in index) == (probe in set(unique)), probe
    new = [k for k in dict.fromkeys(a for a in added if not _nan(a)) if k not in index]
    grown = index.merged(new)
    grown.check()
    everything = set(unique) | set(new)
    for probe in [*probes, *keys, *added]:
        assert (probe in grown) == (probe in everything), probe
    assert sorted(map(repr, grown.ids())) == sorted(map(repr, unique + new))


def _nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def test_equal_numbers_find_each_other_and_nan_finds_nothing():
    index = IdIndex.build([1.0, False, "x", float("nan"), 10**19])
    assert 1 in index and True in index and 1.0 in index
    assert 0 in index and -0.0 in index and 0.0 in index
    assert "1" not in index and 2 not in index and None not in index
    assert float("nan") not in index  # as in a set of NaNs read from two lines
    assert 10**19 in index and float(10**19) in index


def test_an_index_grows_its_buckets_as_ids_are_added():
    index = IdIndex.build([f"f{i}" for i in range(100)])
    buckets = len(index.starts) - 1
    for step in range(10):
        index = index.merged([f"g{step}-{i}" for i in range(100)])
    assert len(index) == 1100 and len(index.starts) - 1 > buckets
    assert len(index) <= 2 * LOAD * (len(index.starts) - 1)
    assert all(f"g9-{i}" in index and f"f{i}" in index for i in range(100))
    assert "g10-0" not in index


def test_an_id_of_another_type_is_not_indexed():
    with pytest.raises(ValueError):
        IdIndex.build(["a", (1, 2)])
    with pytest.raises(ValueError):
        IdIndex.build(["a", 2**64])  # beyond msgpack's integers
    assert (1, 2) not in IdIndex.build(["a"])


@pytest.mark.parametrize(
    "damage", ["blob type", "typecode", "not a power of two", "end", "descending", "count"]
)
def test_a_malformed_index_is_refused(damage):
    index = IdIndex.build([f"f{i}" for i in range(100)])
    if damage == "blob type":
        index.blob = bytearray(index.blob)  # type: ignore[assignment]
    elif damage == "typecode":
        index.starts = array("Q", index.starts)
    elif damage == "not a power of two":
        index.starts = index.starts[:-2] + index.starts[-1:]
    elif damage == "end":
        index.starts[-1] += 1
    elif damage == "descending":
        index.starts[1], index.starts[2] = index.starts[2], index.starts[1]
    else:
        index.count = "7"  # type: ignore[assignment]
    with pytest.raises(ValueError):
        index.check()


def _pairer_with(fills: list, completed: list, open_ids: list) -> Pairer:
    pairer = Pairer()
    pairer._fill_ids.update(fills)
    orders = pairer.session_maps("s")[1]
    orders.update(dict.fromkeys(completed, COMPLETED))
    for n, cid in enumerate(open_ids):
        orders[cid] = Order(None, None, None, 1.0, "buy", "X", cid, n)  # type: ignore[arg-type]
    return pairer


def test_a_pairer_keeps_its_ids_indexed_and_gives_them_all_back():
    pairer = _pairer_with(["e1", 2, 3.5], ["c1", 7], ["c2"])
    pairer.index_ids()
    assert isinstance(pairer._fill_ids, IndexedSet) and not set(pairer._fill_ids)
    assert 2.0 in pairer._fill_ids and "e1" in pairer._fill_ids and "e2" not in pairer._fill_ids
    assert set(pairer._orders["s"]) == {"c2"}  # only the open order stays in the map
    assert pairer._completed_before("s", 7.0) and not pairer._completed_before("s", "c2")
    pairer._fill_ids.add("e9")  # seen since: in the set beside the index
    pairer.session_maps("s")[1]["c3"] = COMPLETED
    pairer.index_ids()  # saved again: merged into the indexes
    assert "e9" in pairer._fill_index and not set(pairer._fill_ids)  # type: ignore[operator]
    assert pairer._completed_before("s", "c3")
    pairer.unpack()
    assert pairer._fill_ids == {"e1", 2, 3.5, "e9"} and type(pairer._fill_ids) is set
    assert {k for k, v in pairer._orders["s"].items() if v is COMPLETED} == {"c1", 7, "c3"}
    assert pairer._orders["s"]["c2"].__class__ is Order


def test_an_order_placed_again_under_a_completed_id_stays_open():
    pairer = _pairer_with([], ["c1"], [])
    pairer.index_ids()
    reused = Order(None, None, None, 1.0, "buy", "X", "c1", 9)  # type: ignore[arg-type]
    pairer.session_maps("s")[1]["c1"] = reused  # the map is looked at before the index
    pairer.index_ids()
    pairer.unpack()
    assert pairer._orders["s"]["c1"] is reused


def test_indexed_ids_survive_the_state_codec():
    pairer = _pairer_with(["e1", 1], ["c1"], ["c2"])
    pairer.index_ids()
    pairer._fill_ids.add("e2")
    back = Decoder(classes_in(["src.query.analytics."])).decode(encode(pairer))
    assert isinstance(back, Pairer) and isinstance(back._fill_ids, IndexedSet)
    assert "e2" in back._fill_ids and "e1" in back._fill_ids and True in back._fill_ids
    assert back._completed_before("s", "c1") and set(back._fill_ids) == {"e2"}


def test_a_decoded_pairer_with_a_malformed_index_is_refused():
    pairer = _pairer_with(["e1"], [], [])
    pairer.index_ids()
    assert pairer._fill_index is not None
    pairer._fill_index.starts[-1] += 1
    with pytest.raises(ValueError):
        Decoder(classes_in(["src.query.analytics."])).decode(encode(pairer))


def test_an_id_that_cannot_be_indexed_leaves_the_pairer_as_it_was():
    pairer = _pairer_with(["e1", 2**64], ["c1"], [])
    pairer.index_ids()
    assert pairer._fill_index is None and pairer._fill_ids == {"e1", 2**64}
    assert pairer._orders["s"] == {"c1": COMPLETED}


def test_the_hash_is_the_same_in_every_process():
    """Python's str hash differs per process; an index built in one is read in another."""
    code = (
        "from src.query.analytics.pairing_ids import IdIndex;"
        "print(IdIndex.build([f'id{i}' for i in range(500)]).blob.hex())"
    )
    blobs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(blobs) == 1
    assert bytes.fromhex(blobs.pop()) == IdIndex.build([f"id{i}" for i in range(500)]).blob

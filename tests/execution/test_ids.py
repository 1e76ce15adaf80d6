"""Ids: unique within a process, across kinds' shared counter, and across fork."""

from __future__ import annotations

import os

from src.execution.ids import new_event_id, new_id


def test_event_ids_and_new_id_evt_never_collide():
    """new_event_id (the events' default) and new_id("evt") (imports) share one counter."""
    ids = [new_event_id() if n % 2 else new_id("evt") for n in range(2_000)]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("evt-") and len(i.split("-")) == 3 for i in ids)


def test_a_forked_child_draws_other_event_ids():
    """After fork the child's ids use a new prefix, so parent and child never share one."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send two ids and leave without running pytest's teardown
        try:
            os.write(write, f"{new_event_id()} {new_id('evt')}".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_ids = pipe.read().split()
    os.waitpid(pid, 0)
    parent = new_event_id()
    assert len(child_ids) == 2
    prefix = parent.rsplit("-", 1)[0]
    assert all(not i.startswith(prefix + "-") for i in child_ids)
    assert child_ids[0].rsplit("-", 1)[0] == child_ids[1].rsplit("-", 1)[0]


def test_ids_stay_unique_across_blocks_and_threads():
    """Event ids come in blocks of 4,096 (drawn lazily); four threads drawing 20,000 each,
    across many block boundaries, with new_id("evt") between, never get the same id."""
    import itertools
    import threading

    drawn: list[list[str]] = [[] for _ in range(4)]

    def draw(out: list[str]) -> None:
        for n in range(20_000):
            out.append(new_event_id() if n % 7 else new_id("evt"))

    threads = [threading.Thread(target=draw, args=(out,)) for out in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [i for out in drawn for i in out]
    assert len(ids) == 80_000 and len(set(ids)) == 80_000
    # Within a block the suffix counts up in hex: the id's last part is one number.
    numbers = [int(i.rsplit("-", 1)[1], 16) for i in drawn[0][1:7]]
    assert all(b > a for a, b in itertools.pairwise(numbers))

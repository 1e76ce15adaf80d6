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

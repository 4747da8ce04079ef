"""The on-disk queue: order, durability across reopen, bounds and drop counters."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from lvgate.diskqueue import DiskQueue, Priority


def test_fifo_order_and_remove(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path / "q.sqlite")
    ids = queue.put_many([(f"t/{i}", str(i).encode(), Priority.HISTORY) for i in range(5)])
    assert ids == sorted(ids)
    assert [m.payload for m in queue.peek(10)] == [b"0", b"1", b"2", b"3", b"4"]
    queue.remove(ids[:2])
    assert [m.payload for m in queue.peek(10)] == [b"2", b"3", b"4"]
    assert [m.payload for m in queue.peek(10, after_id=ids[3])] == [b"4"]
    assert len(queue) == 3


def test_survives_reopen_and_ids_are_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    queue = DiskQueue(path)
    first = queue.put_many([("a", b"1", Priority.HISTORY), ("b", b"2", Priority.EVENT)])
    queue.remove(first[-1:])
    queue.close()
    reopened = DiskQueue(path)
    assert len(reopened) == 1
    assert [(m.topic, m.payload, m.priority) for m in reopened.peek(10)] == [("a", b"1", Priority.HISTORY)]
    later = reopened.put_many([("c", b"3", Priority.HISTORY)])
    assert later[0] > first[-1]


def test_count_bound_drops_oldest_history_first_and_counts(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path / "q.sqlite", max_messages=5)
    queue.put_many([("alarm", b"A", Priority.EVENT)])
    queue.put_many([("h", str(i).encode(), Priority.HISTORY) for i in range(8)])
    kept = [m.payload for m in queue.peek(100)]
    # 9 messages for 5 places: the 4 oldest history messages go, the alarm stays.
    assert kept == [b"A", b"4", b"5", b"6", b"7"]
    assert queue.dropped() == {"dropped_history": 4}


def test_events_dropped_only_when_no_history_is_left(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path / "q.sqlite", max_messages=2)
    queue.put_many([("e", str(i).encode(), Priority.EVENT) for i in range(3)])
    assert [m.payload for m in queue.peek(10)] == [b"1", b"2"]
    assert queue.dropped() == {"dropped_events": 1}


def test_age_bound_drops_old_history_but_not_events(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path / "q.sqlite", max_age_s=60)
    queue.put_many([("h", b"old", Priority.HISTORY), ("e", b"old-event", Priority.EVENT)], now_ms=1_000_000)
    queue.put_many([("h", b"new", Priority.HISTORY)], now_ms=1_000_000 + 61_000)
    assert [m.payload for m in queue.peek(10)] == [b"old-event", b"new"]
    assert queue.dropped() == {"dropped_age": 1}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(min_value=1, max_value=4)), min_size=1, max_size=30))
def test_depth_matches_contents(operations: list[tuple[bool, int]]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        queue = DiskQueue(Path(tmp) / "q.sqlite", max_messages=10)
        for put, n in operations:
            if put:
                queue.put_many([("t", b"x", Priority.HISTORY)] * n)
            else:
                queue.remove(m.id for m in queue.peek(n))
            assert len(queue) == len(queue.peek(1000))
            assert len(queue) <= 10
        queue.close()


def test_messages_in_flight_are_never_dropped(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path / "q.sqlite", max_messages=3)
    ids = queue.put_many([("h", str(i).encode(), Priority.HISTORY) for i in range(3)])
    # 0 and 1 were handed to the broker connection: the bound takes the next oldest instead.
    queue.put_many([("h", b"3", Priority.HISTORY)], in_flight_up_to=ids[1])
    assert [m.payload for m in queue.peek(10)] == [b"0", b"1", b"3"]
    assert queue.dropped() == {"dropped_history": 1}


def test_messages_about_to_be_sent_are_not_dropped_even_over_the_bound(tmp_path: Path) -> None:
    queue = DiskQueue(tmp_path / "q.sqlite", max_messages=2)
    ids = queue.put_many([("h", b"0", Priority.HISTORY), ("h", b"1", Priority.HISTORY)])
    # Both are in flight and the new one goes straight out too: nothing may be dropped, so the
    # queue is over its bound until acknowledgements arrive.
    queue.put_many([("h", b"2", Priority.HISTORY)], in_flight_up_to=ids[-1], protect_new=True)
    assert [m.payload for m in queue.peek(10)] == [b"0", b"1", b"2"]
    assert queue.dropped() == {}

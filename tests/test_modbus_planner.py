"""The request planner: covers every point, keeps the limits, and needs no more requests than
the true minimum, found here by trying every partition of the points."""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from lvgate.drivers.modbus.planner import Learned, ReadBlock, plan_reads, split_block
from lvgate.drivers.modbus.profile import Point

SIZES = {"uint16": 1, "uint32": 2, "uint64": 4}


def located(items: list[tuple[str, int, str]]) -> list[tuple[Point, int]]:
    return [(Point(key=f"p{i}", table=table, address=a, type=t), a) for i, (table, a, t) in enumerate(items)]


def partitions(items: list[int]) -> Iterator[list[list[int]]]:
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for smaller in partitions(rest):
        for i in range(len(smaller)):
            yield [*smaller[:i], [first, *smaller[i]], *smaller[i + 1 :]]
        yield [[first], *smaller]


def brute_force_minimum(points: list[tuple[str, int, int]], max_gap: int, limit: int, holes: set[int]) -> int:
    """Fewest valid blocks over every partition of the points. A block reads from its lowest to
    its highest register; it is valid when it fits the limit, covers no hole and no run of
    registers used by no point of the device is longer than max_gap."""
    used = {(t, a + i) for t, a, n in points for i in range(n)}

    def valid(group: list[int]) -> bool:
        tables = {points[i][0] for i in group}
        if len(tables) > 1:
            return False
        table = tables.pop()
        start = min(points[i][1] for i in group)
        end = max(points[i][1] + points[i][2] for i in group)
        if end - start > limit or any(start <= h < end for h in holes):
            return False
        run = 0
        for address in range(start, end):
            run = 0 if (table, address) in used else run + 1
            if run > max_gap:
                return False
        return True

    return min(len(p) for p in partitions(list(range(len(points)))) if all(valid(g) for g in p))


def check_plan(blocks: list[ReadBlock], items: list[tuple[Point, int]], limit: int) -> None:
    covered = [p.key or "" for b in blocks for p, _ in b.points]
    assert sorted(covered) == sorted(p.key or "" for p, _ in items)  # every point exactly once
    for block in blocks:
        assert block.count <= limit
        for point, address in block.points:
            assert point.table == block.table
            assert block.start <= address and address + point.register_count <= block.end


small_maps = st.lists(
    st.tuples(st.sampled_from(["holding", "input"]), st.integers(0, 40), st.sampled_from(list(SIZES))),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(small_maps, st.integers(0, 6), st.integers(4, 20))
def test_plan_is_minimal_for_small_random_maps(items: list[tuple[str, int, str]], max_gap: int, limit: int) -> None:
    # The limit is scaled down (4..20 instead of 125) so random maps hit it often.
    import lvgate.drivers.modbus.planner as planner

    points = located(items)
    original = planner.MAX_REGISTERS
    planner.MAX_REGISTERS = limit
    try:
        blocks = plan_reads(points, max_gap)
    finally:
        planner.MAX_REGISTERS = original
    check_plan(blocks, points, limit)
    # Overlapping points are read together, as one unit, by design: compare on merged spans.
    spans: list[tuple[str, int, int]] = []
    for table, address, data_type in sorted((t, a, d) for t, a, d in items):
        end = address + SIZES[data_type]
        if spans and spans[-1][0] == table and address < spans[-1][1] + spans[-1][2]:
            t, a, n = spans[-1]
            spans[-1] = (t, a, max(a + n, end) - a)
        else:
            spans.append((table, address, end - address))
    if any(n > limit for _, _, n in spans):
        return
    assert len(blocks) == brute_force_minimum(spans, max_gap, limit, set())


@settings(max_examples=150, deadline=None)
@given(small_maps, st.integers(0, 6), st.sets(st.integers(0, 44), max_size=4))
def test_plan_avoids_learned_holes_and_stays_minimal(
    items: list[tuple[str, int, str]], max_gap: int, hole_set: set[int]
) -> None:
    items = [(t, a, d) for t, a, d in items if t == "holding"]
    points = located(items)
    # a hole is only ever learned between points, never inside one
    taken = {a + i for _, a, d in items for i in range(SIZES[d])}
    holes = {h for h in hole_set if h not in taken}
    blocks = plan_reads(points, max_gap, Learned(holes={("holding", h) for h in holes}))
    check_plan(blocks, points, 125)
    for block in blocks:
        assert not any(block.start <= h < block.end for h in holes)
    spans: list[tuple[str, int, int]] = []
    for table, address, data_type in sorted(items):
        end = address + SIZES[data_type]
        if spans and address < spans[-1][1] + spans[-1][2]:
            spans[-1] = (table, spans[-1][1], max(spans[-1][1] + spans[-1][2], end) - spans[-1][1])
        else:
            spans.append((table, address, end - address))
    if spans:
        assert len(blocks) == brute_force_minimum(spans, max_gap, 125, holes)


def test_protocol_limits_register_and_bit_tables() -> None:
    registers = located([("holding", a, "uint16") for a in range(0, 300)])
    blocks = plan_reads(registers, 8)
    assert [b.count for b in blocks] == [125, 125, 50]
    bits = [(Point(key=f"c{a}", table="coil", address=a, type="bool"), a) for a in range(0, 2100)]
    assert [b.count for b in plan_reads(bits, 0)] == [2000, 100]


def test_gap_decides_merging() -> None:
    points = located([("holding", 0, "uint16"), ("holding", 9, "uint16"), ("input", 9, "uint16")])
    assert len(plan_reads(points, 8)) == 2  # 8 unused registers (1..8) may be read across
    assert len(plan_reads(points, 7)) == 3


def test_split_cuts_between_spans() -> None:
    points = located([("holding", 0, "uint16"), ("holding", 2, "uint32"), ("holding", 6, "uint16")])
    (block,) = plan_reads(points, 8)
    halves = split_block(block)
    assert halves is not None
    left, right = halves
    # the widest unused stretch is 4..5 (2 registers), wider than 1..1
    assert (left.start, left.count, right.start, right.count) == (0, 4, 6, 1)
    assert split_block(right) is None

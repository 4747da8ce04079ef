"""Group a device's points into the fewest read requests the protocol and the device allow.

Points whose registers overlap (a bit point and the word it lives in, two views of one
register) are read as one *span*. A request reads a run of consecutive spans of one table
when the run fits the protocol limit (125 registers, 2000 bits), every stretch of unused
registers inside it is at most ``max_gap`` long, and it covers no address the device has
refused (a learned *hole*). Any part of a valid run is valid too, so the fewest requests
are found exactly by dynamic programming over the sorted spans; among plans with as few
requests, the one reading the fewest registers wins (less bus time).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lvgate.drivers.modbus.profile import Point

MAX_REGISTERS = 125  # per read request (function 3/4)
MAX_BITS = 2000  # per read request (function 1/2)
BIT_TABLES = ("coil", "discrete")


@dataclass(frozen=True, slots=True)
class ReadBlock:
    table: str
    start: int  # wire address
    count: int
    points: tuple[tuple[Point, int], ...]  # each point with its wire address

    @property
    def end(self) -> int:
        return self.start + self.count


@dataclass(frozen=True, slots=True)
class Span:
    table: str
    start: int
    end: int  # exclusive
    points: tuple[tuple[Point, int], ...]


@dataclass
class Learned:
    """What a device taught the planner: addresses it refuses inside merged reads (holes),
    and spans that fail even alone, which are then never merged with their neighbours."""

    holes: set[tuple[str, int]] = field(default_factory=set)
    lonely: set[tuple[str, int]] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.holes or self.lonely)


def limit_of(table: str) -> int:
    return MAX_BITS if table in BIT_TABLES else MAX_REGISTERS


def gap_of(table: str, max_gap: int) -> int:
    # A register is 16 bits on the wire: let bit reads skip as many bytes as register reads.
    return max_gap * 16 if table in BIT_TABLES else max_gap


def spans_of(located: Iterable[tuple[Point, int]]) -> list[Span]:
    """Points grouped into disjoint spans, per table, in address order."""
    by_table: dict[str, list[tuple[Point, int]]] = {}
    for point, address in located:
        by_table.setdefault(point.table, []).append((point, address))
    spans: list[Span] = []
    for table in sorted(by_table):
        items = sorted(by_table[table], key=lambda item: (item[1], item[1] + item[0].register_count))
        current: list[tuple[Point, int]] = []
        start = end = 0
        for point, address in items:
            if current and address < end:
                current.append((point, address))
                end = max(end, address + point.register_count)
                continue
            if current:
                spans.extend(_span(table, start, end, current))
            current, start, end = [(point, address)], address, address + point.register_count
        if current:
            spans.extend(_span(table, start, end, current))
    return spans


def _span(table: str, start: int, end: int, points: list[tuple[Point, int]]) -> list[Span]:
    if end - start <= limit_of(table) or len(points) == 1:
        return [Span(table, start, end, tuple(points))]
    # Overlapping points too long for one request: read each on its own.
    return [Span(table, a, a + p.register_count, ((p, a),)) for p, a in points]


def plan_spans(spans: Sequence[Span], max_gap: int, learned: Learned | None = None) -> list[ReadBlock]:
    learned = learned or Learned()
    blocks: list[ReadBlock] = []
    tables: dict[str, list[Span]] = {}
    for span in spans:
        tables.setdefault(span.table, []).append(span)
    for table, runs in tables.items():
        gap, limit = gap_of(table, max_gap), limit_of(table)
        n = len(runs)
        # joinable[k]: spans k and k+1 may share a request (short gap, no learned hole between)
        joinable = [
            runs[k + 1].start - runs[k].end <= gap
            and not any((table, a) in learned.holes for a in range(runs[k].end, runs[k + 1].start))
            for k in range(n - 1)
        ]
        lonely = [(table, s.start) in learned.lonely for s in runs]
        # best[i] = (requests, registers read, start of the last group) for the first i spans
        best: list[tuple[int, int, int]] = [(0, 0, 0)] + [(n + 1, 0, 0)] * n
        for i in range(1, n + 1):
            end = runs[i - 1].end
            for j in range(i - 1, -1, -1):
                end = max(end, runs[j].end)
                if j < i - 1 and (not joinable[j] or lonely[j] or lonely[i - 1]):
                    break  # a valid group stays valid when cut, so no longer group can be valid
                if end - runs[j].start > limit:
                    break
                candidate = (best[j][0] + 1, best[j][1] + end - runs[j].start, j)
                if candidate[:2] < best[i][:2]:
                    best[i] = candidate
        i, groups = n, []
        while i > 0:
            j = best[i][2]
            groups.append(runs[j:i])
            i = j
        for group in reversed(groups):
            start, stop = group[0].start, max(s.end for s in group)
            blocks.append(ReadBlock(table, start, stop - start, tuple(p for s in group for p in s.points)))
    return blocks


def plan_reads(located: Iterable[tuple[Point, int]], max_gap: int, learned: Learned | None = None) -> list[ReadBlock]:
    """The fewest read requests covering every point (``located``: points with wire addresses)."""
    return plan_spans(spans_of(located), max_gap, learned)


def one_per_point(located: Iterable[tuple[Point, int]]) -> list[ReadBlock]:
    """What a naive gateway does: one request per point (for comparison in bench/)."""
    return [ReadBlock(p.table, a, p.register_count, ((p, a),)) for p, a in located]


def split_block(block: ReadBlock) -> tuple[ReadBlock, ReadBlock] | None:
    """The two parts of a merged block, cut at its widest stretch of unused registers (where a
    refused address most likely is); None if it is one span."""
    spans = spans_of(block.points)
    if len(spans) < 2:
        return None
    gaps = [(spans[k + 1].start - spans[k].end, -abs(2 * (k + 1) - len(spans)), k + 1) for k in range(len(spans) - 1)]
    middle = max(gaps)[2]

    def joined(part: Sequence[Span]) -> ReadBlock:
        start, end = part[0].start, max(s.end for s in part)
        return ReadBlock(block.table, start, end - start, tuple(p for s in part for p in s.points))

    return joined(spans[:middle]), joined(spans[middle:])

"""Group a device's points into as few read requests as the protocol allows."""

from __future__ import annotations

from dataclasses import dataclass

from lvgate.drivers.modbus.profile import ModbusProfile, Point

MAX_REGISTERS = 125  # per read request (function 3/4)
MAX_BITS = 2000  # per read request (function 1/2)


@dataclass(frozen=True, slots=True)
class ReadBlock:
    table: str
    start: int  # wire address
    count: int
    points: tuple[tuple[Point, int], ...]  # each point with its wire address


def plan_reads(profile: ModbusProfile, max_gap: int | None = None) -> list[ReadBlock]:
    """Merge points of one table into blocks while the gap and the protocol limit allow."""
    gap = profile.max_gap if max_gap is None else max_gap
    by_table: dict[str, list[tuple[Point, int]]] = {}
    for point in profile.points:
        by_table.setdefault(point.table, []).append((point, profile.wire_address(point)))
    blocks: list[ReadBlock] = []
    for table, located in by_table.items():
        limit = MAX_BITS if table in ("coil", "discrete") else MAX_REGISTERS
        located.sort(key=lambda item: item[1])
        current: list[tuple[Point, int]] = []
        start = end = 0
        for point, address in located:
            last = address + point.register_count
            if current and address - end <= gap and max(end, last) - start <= limit:
                current.append((point, address))
                end = max(end, last)
                continue
            if current:
                blocks.append(ReadBlock(table, start, end - start, tuple(current)))
            current, start, end = [(point, address)], address, last
        if current:
            blocks.append(ReadBlock(table, start, end - start, tuple(current)))
    return blocks

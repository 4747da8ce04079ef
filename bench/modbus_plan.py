"""Requests per poll cycle and RTU bus time at 9600 baud for every shipped Modbus profile.

Compares lvgate's plan with one request per point and with the brute-force minimum (small
profiles only: the search tries every partition). Bus time is computed from frame lengths:
request 8 bytes, reply 5 + 2*registers (or 5 + ceil(bits/8)), each followed by the 3.5-char gap.
Writes bench/results/modbus_plan.json.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from lvgate.drivers.modbus.planner import ReadBlock, one_per_point, plan_reads, spans_of
from lvgate.drivers.modbus.profile import available_profiles, load_profile
from lvgate.drivers.modbus.transport import char_time, frame_gap

BAUD = 9600


def bus_time(blocks: list[ReadBlock]) -> float:
    char, gap = char_time(BAUD), frame_gap(BAUD)
    total = 0.0
    for block in blocks:
        reply = 5 + ((block.count + 7) // 8 if block.table in ("coil", "discrete") else 2 * block.count)
        total += (8 + reply) * char + 2 * gap
    return total


def brute_minimum(located: list[tuple[object, int]], max_gap: int) -> int | None:
    # Exhaustive check is only feasible for few spans; the planner's DP is exact anyway.
    spans = spans_of(located)  # type: ignore[arg-type]
    if len(spans) > 10:
        return None
    best = len(spans)
    n = len(spans)
    for mask in range(1 << max(n - 1, 0)):  # cut or join between each neighbouring pair
        groups, current = [], [spans[0]]
        for k in range(1, n):
            if mask >> (k - 1) & 1 and current[0].table == spans[k].table:
                current.append(spans[k])
            else:
                groups.append(current)
                current = [spans[k]]
        groups.append(current)
        ok = all(
            g[-1].end - g[0].start <= (2000 if g[0].table in ("coil", "discrete") else 125)
            and all(
                b.start - a.end <= max_gap * (16 if a.table in ("coil", "discrete") else 1)
                for a, b in itertools.pairwise(g)
            )
            for g in groups
        )
        if ok:
            best = min(best, len(groups))
    return best


def main() -> None:
    rows = []
    for name in available_profiles():
        if name == "custom":
            continue
        profile = load_profile(name)
        located = [(p, profile.wire_address(p)) for p in profile.points]
        plan, naive = plan_reads(located, profile.max_gap), one_per_point(located)
        rows.append({
            "profile": name,
            "points": len(located),
            "plan_requests": len(plan),
            "per_point_requests": len(naive),
            "brute_force_minimum": brute_minimum(located, profile.max_gap),  # type: ignore[arg-type]
            "plan_bus_ms_9600": round(bus_time(plan) * 1000, 1),
            "per_point_bus_ms_9600": round(bus_time(naive) * 1000, 1),
        })  # fmt: skip
    out = Path(__file__).parent / "results" / "modbus_plan.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"baudrate": BAUD, "profiles": rows}, indent=2) + "\n", encoding="utf-8")
    print(f"{'profile':24} {'points':>6} {'plan':>5} {'naive':>5} {'min':>4} {'plan ms':>8} {'naive ms':>9}")
    for r in rows:
        print(f"{r['profile']:24} {r['points']:6} {r['plan_requests']:5} {r['per_point_requests']:5} "
              f"{r['brute_force_minimum'] if r['brute_force_minimum'] is not None else '-':>4} "
              f"{r['plan_bus_ms_9600']:8} {r['per_point_bus_ms_9600']:9}")  # fmt: skip


if __name__ == "__main__":
    main()

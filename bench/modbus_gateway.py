"""The gateway's own time per Modbus RTU request over a pty (bytes move at memory speed).

The simulated units run in a separate process (`lvgate simulate modbus --pty`), so the CPU
time measured here is lvgate's alone: encode, send, receive, check, decode, build readings.
Compared with the wire time the same cycle needs at 9600 baud, it gives the overhead lvgate
adds and how many RS-485 buses one core could keep busy.
Writes bench/results/modbus_gateway.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.modbus_plan import bus_time
from lvgate.drivers.modbus.driver import ModbusDeviceConfig, ModbusSession
from lvgate.drivers.modbus.planner import plan_reads
from lvgate.drivers.modbus.profile import load_profile

PROFILES = ["huawei_ups2000", "generic_xy_md02", "apc_smart_ups"]
CYCLES = 200


async def measure(link: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    session = ModbusSession()
    for unit, name in enumerate(PROFILES, start=1):
        config = ModbusDeviceConfig(
            id=name, profile=name, transport="rtu", port=link, unit=unit, frame_gap=0, timeout=1.0
        )
        poller = session.poller(config)
        await poller.poll()  # warm up
        cpu0, wall0 = time.process_time(), time.perf_counter()
        bus = next(iter(session.buses.values()))
        requests0 = bus.stats.requests
        for _ in range(CYCLES):
            await poller.poll()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        requests = bus.stats.requests - requests0
        profile = load_profile(name)
        wire = bus_time(plan_reads([(p, profile.wire_address(p)) for p in profile.points], profile.max_gap))
        cpu_cycle = cpu / CYCLES
        rows.append({
            "profile": name,
            "requests_per_cycle": requests / CYCLES,
            "gateway_cpu_ms_per_request": round(cpu / requests * 1000, 3),
            "wall_ms_per_request_pty": round(wall / requests * 1000, 3),
            "wire_ms_per_cycle_9600": round(wire * 1000, 1),
            "overhead_pct_at_9600": round(100 * cpu_cycle / wire, 2),
            "buses_per_core_at_9600": round(wire / cpu_cycle, 1),
        })  # fmt: skip
    await session.close()
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        link = os.path.join(tmp, "bench-tty")
        args = [sys.executable, "-m", "lvgate.cli", "simulate", "modbus", "--pty", link]
        for name in PROFILES:
            args += ["--profile", name]
        sim = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert sim.stdout is not None
            for _ in range(len(PROFILES)):
                sim.stdout.readline()  # one line per unit once serving
            rows = asyncio.run(measure(link))
        finally:
            sim.terminate()
            sim.wait(10)
    out = Path(__file__).parent / "results" / "modbus_gateway.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"cycles": CYCLES, "profiles": rows}, indent=2) + "\n", encoding="utf-8")
    print(
        f"{'profile':18} {'req/cyc':>7} {'cpu ms/req':>10} {'wall ms/req':>11} {'wire ms':>8} {'overhead %':>10} {'buses/core':>10}"
    )
    for r in rows:
        print(f"{r['profile']:18} {r['requests_per_cycle']:7} {r['gateway_cpu_ms_per_request']:10} "
              f"{r['wall_ms_per_request_pty']:11} {r['wire_ms_per_cycle_9600']:8} {r['overhead_pct_at_9600']:10} "
              f"{r['buses_per_core_at_9600']:10}")  # fmt: skip


if __name__ == "__main__":
    main()

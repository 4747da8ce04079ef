"""A farm of simulated Modbus TCP devices for the benchmarks, in a process of its own.

Every device is one unit id with 20 holding registers (wire addresses 0..19). Registers 0..17
hold slowly changing plausible numbers; registers 18 and 19 hold the simulator's clock at the
moment it answers (epoch milliseconds modulo 2**32, high word first), so a subscriber can
measure the time from the device's answer to the broker. Every request is counted, which
gives "Modbus requests per cycle" for any gateway, lvgate or a peer, measured at the device.

    python -m bench._farm --devices 100 --units-per-port 10 --ports 5020,5021,... --stats FILE

Writes ``{"requests": n, "registers": m}`` to FILE ten times a second and on SIGTERM; prints
``ready`` once every port listens. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

REGISTERS = 20
STAMP_HIGH, STAMP_LOW = 18, 19


class Counter:
    def __init__(self) -> None:
        self.requests = 0
        self.registers = 0


def stamp_words(now_ms: int) -> tuple[int, int]:
    """The clock as two registers: (epoch ms mod 2**32) high word, low word."""
    value = now_ms & 0xFFFFFFFF
    return value >> 16, value & 0xFFFF


def device(unit: int, counter: Counter) -> SimDevice:
    async def answer(
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: Any,
    ) -> None:
        counter.requests += 1
        counter.registers += count
        if set_values:
            return
        now = time.time()
        tick = int(now) // 5
        for i in range(STAMP_HIGH):
            registers[i - start_address] = 200 + 10 * i + (tick + unit + i) % 7
        high, low = stamp_words(int(now * 1000))
        registers[STAMP_HIGH - start_address] = high
        registers[STAMP_LOW - start_address] = low

    regs = [SimData(0, values=[0] * REGISTERS, datatype=DataType.REGISTERS)]
    unused = [SimData(0, values=[0], datatype=DataType.REGISTERS)]
    bits = [SimData(0, values=[False], datatype=DataType.BITS)]
    return SimDevice(unit, simdata=(bits, bits, regs, unused), action=answer)


async def serve(devices: int, per_port: int, ports: list[int], stats: Path) -> None:
    counter = Counter()
    servers: list[ModbusTcpServer] = []
    for index, port in enumerate(ports):
        first = index * per_port
        units = [device(u + 1, counter) for u in range(min(per_port, devices - first))]
        if not units:
            break
        server = ModbusTcpServer(units, address=("127.0.0.1", port))
        await server.serve_forever(background=True)
        servers.append(server)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def write() -> None:
        tmp = stats.with_suffix(".tmp")
        tmp.write_text(json.dumps({"requests": counter.requests, "registers": counter.registers}))
        os.replace(tmp, stats)

    write()
    print("ready", flush=True)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)
        write()
    for server in servers:
        await server.shutdown()  # type: ignore[no-untyped-call]


def ports_needed(devices: int, per_port: int) -> int:
    return (devices + per_port - 1) // per_port


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--units-per-port", type=int, default=10)
    parser.add_argument("--ports", required=True, help="comma-separated loopback ports")
    parser.add_argument("--stats", type=Path, required=True)
    args = parser.parse_args(argv)
    ports = [int(p) for p in args.ports.split(",")]
    if len(ports) < ports_needed(args.devices, args.units_per_port):
        parser.error("not enough ports for that many devices")
    asyncio.run(serve(args.devices, args.units_per_port, ports, args.stats))


if __name__ == "__main__":
    main()

"""Run the gateway and the collector in the test's event loop against a counting Modbus device.

The device's temperature register counts up by one on every read (0.1 C per step), and the
server notes when it served each value, so a test knows exactly what was measured and when.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from lvgate.collector.config import load_collector_config
from lvgate.collector.service import Collector
from lvgate.gateway.config import load_gateway_config
from lvgate.gateway.runtime import Gateway


@dataclass
class CountingSensor:
    """An XY-MD02-like sensor (input registers 1 and 2) whose temperature counts reads."""

    port: int
    served: list[tuple[int, int]] = field(default_factory=list)  # (raw value, epoch ms)
    server: Any = None
    humidity_raw: int = 500

    async def _count(self, fc: int, start: int, address: int, count: int, regs: list[int], values: Any) -> None:
        if fc == 4 and address <= 1 < address + count:
            raw = len(self.served) + 1
            regs[1 - start] = raw
            regs[2 - start] = self.humidity_raw
            self.served.append((raw, time.time_ns() // 1_000_000))

    async def start(self) -> None:
        device = SimDevice(
            1,
            simdata=(
                [SimData(0, values=[False], datatype=DataType.BITS)],
                [SimData(0, values=[False], datatype=DataType.BITS)],
                [SimData(0, values=[0], datatype=DataType.REGISTERS)],
                [SimData(1, values=[0, 0], datatype=DataType.REGISTERS)],
            ),
            action=self._count,
        )
        self.server = ModbusTcpServer([device], address=("127.0.0.1", self.port))
        await self.server.serve_forever(background=True)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None

    def served_values(self) -> dict[float, int]:
        """Temperature in C -> when it was served."""
        return {round(raw * 0.1, 1): ts for raw, ts in self.served}


def gateway_yaml(
    broker_port: int, modbus_port: int, *, interval: float = 0.1, extra: str = "", name: str = "Sensor"
) -> str:
    return f"""site: s1
room: r1
gateway_id: gw
mqtt: {{host: 127.0.0.1, port: {broker_port}, keepalive: 5}}
state_dir: gw-state
{extra}
devices:
  - id: sensor-1
    name: "{name}"
    driver: modbus
    profile: generic_xy_md02
    host: 127.0.0.1
    port: {modbus_port}
    unit: 1
    timeout: 0.5
    poll_interval: {interval}
"""


def collector_yaml(broker_port: int, history: Path) -> str:
    return f"""collector_id: c1
mqtt: {{host: 127.0.0.1, port: {broker_port}, keepalive: 5}}
state_dir: collector-state
storage:
  sqlite: {{path: '{history}'}}
"""


@contextlib.asynccontextmanager
async def running(service: Gateway | Collector) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


def load_gateway(directory: Path, text: str) -> Gateway:
    path = directory / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return Gateway(load_gateway_config(path))


def load_collector(directory: Path, text: str) -> Collector:
    path = directory / "collector.yaml"
    path.write_text(text, encoding="utf-8")
    return Collector(load_collector_config(path))


def stored_temperatures(history: Path) -> list[tuple[float, int]]:
    """(value, ts_ms) of every stored temperature reading, in time order."""
    if not history.exists():
        return []
    with contextlib.closing(sqlite3.connect(history)) as db:
        try:
            return db.execute(
                "SELECT value, ts_ms FROM readings WHERE device='sensor-1' AND entity='temperature' ORDER BY ts_ms"
            ).fetchall()
        except sqlite3.OperationalError:
            return []

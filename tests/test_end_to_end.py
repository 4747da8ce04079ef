"""The whole chain with real peers: pymodbus server -> lvgate run -> Mosquitto -> lvgate collector -> storage.

The Modbus server holds register values written here with struct packing; the test checks
that storage holds the same physical values, units and measurement times.
"""

from __future__ import annotations

import asyncio
import sqlite3
import struct
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from tests.contract import contract_problems
from tests.services import InfluxDB1, MosquittoBroker, MqttProbe, ProcessGuard, free_port, wait_for_async

POLL_INTERVAL_S = 1.0

# UPS (huawei_ups2000, holding registers) and room sensor (generic_xy_md02, input registers):
# raw words and the physical values they stand for, worked out by hand from the vendor sheets.
UPS_WORDS = {
    11000: struct.unpack(">H", struct.pack(">H", 2317))[0],  # input voltage 231.7 V (0.1 V)
    12003: 87,  # battery charge 87 %
    **dict(zip((12004, 12005), struct.unpack(">HH", struct.pack(">I", 70_000)), strict=True)),  # runtime 70000 s
}
SENSOR_WORDS = {
    1: struct.unpack(">H", struct.pack(">h", -52))[0],  # temperature -5.2 C (signed, 0.1 C)
    2: 455,  # humidity 45.5 %
}
EXPECTED = [
    # (measurement, device, entity, value, unit)
    ("ups", "ups-1", "input_voltage", 231.7, "V"),
    ("ups", "ups-1", "battery_charge", 87.0, "%"),
    ("ups", "ups-1", "battery_runtime", 70000.0, "s"),
    ("env_sensor", "env-1", "temperature", -5.2, "°C"),
    ("env_sensor", "env-1", "humidity", 45.5, "%"),
]


@dataclass
class RecordingServer:
    """A pymodbus TCP server that notes when each unit was read (epoch ms)."""

    port: int
    read_times: dict[int, list[int]] = field(default_factory=lambda: {1: [], 2: []})
    server: Any = None

    def _action(self, unit: int) -> Any:
        async def note(fc: int, start: int, address: int, count: int, regs: list[int], values: Any) -> None:
            self.read_times[unit].append(time.time_ns() // 1_000_000)

        return note

    async def start(self) -> None:
        ups_regs = [0] * 30
        for address, word in UPS_WORDS.items():
            if address < 12000:
                ups_regs[address - 11000] = word
        battery = [0] * 6
        for address, word in UPS_WORDS.items():
            if address >= 12000:
                battery[address - 12000] = word
        ups = SimDevice(
            1,
            simdata=(
                [SimData(0, values=[False], datatype=DataType.BITS)],
                [SimData(0, values=[False], datatype=DataType.BITS)],
                [
                    SimData(11000, values=ups_regs, datatype=DataType.REGISTERS),
                    SimData(11043, values=[0], datatype=DataType.REGISTERS),
                    SimData(12000, values=battery, datatype=DataType.REGISTERS),
                ],
                [SimData(0, values=[0], datatype=DataType.REGISTERS)],
            ),
            action=self._action(1),
        )
        sensor = SimDevice(
            2,
            simdata=(
                [SimData(0, values=[False], datatype=DataType.BITS)],
                [SimData(0, values=[False], datatype=DataType.BITS)],
                [SimData(0, values=[0], datatype=DataType.REGISTERS)],
                [SimData(1, values=[SENSOR_WORDS[1], SENSOR_WORDS[2]], datatype=DataType.REGISTERS)],
            ),
            action=self._action(2),
        )
        self.server = ModbusTcpServer([ups, sensor], address=("127.0.0.1", self.port))
        await self.server.serve_forever(background=True)

    async def stop(self) -> None:
        await self.server.shutdown()


@pytest.fixture
async def modbus_server() -> AsyncIterator[RecordingServer]:
    server = RecordingServer(free_port())
    await server.start()
    yield server
    await server.stop()


def write_configs(tmp_path: Path, broker: MosquittoBroker, modbus_port: int, storage: str) -> tuple[Path, Path]:
    gateway = tmp_path / "room.yaml"
    gateway.write_text(
        f"""site: test site
room: B1
gateway_id: gw-test
mqtt: {{host: 127.0.0.1, port: {broker.port}}}
state_dir: gw-state
devices:
  - {{id: ups-1, driver: modbus, profile: huawei_ups2000, host: 127.0.0.1, port: {modbus_port}, unit: 1,
      poll_interval: {POLL_INTERVAL_S}}}
  - {{id: env-1, driver: modbus, profile: generic_xy_md02, host: 127.0.0.1, port: {modbus_port}, unit: 2,
      poll_interval: {POLL_INTERVAL_S}}}
""",
        encoding="utf-8",
    )
    collector = tmp_path / "collector.yaml"
    collector.write_text(
        f"""collector_id: c1
mqtt: {{host: 127.0.0.1, port: {broker.port}}}
state_dir: collector-state
storage:
{storage}
""",
        encoding="utf-8",
    )
    return gateway, collector


def start_chain(guard: ProcessGuard, gateway: Path, collector: Path) -> None:
    """The collector first: its MQTT session begins when it subscribes, and the gateway
    publishes unchanged values only on a heartbeat, so the collector must hear the first poll."""
    collector_process = guard.start(
        [sys.executable, "-m", "lvgate.cli", "collector", "-c", str(collector)], name="collector"
    )
    collector_process.wait_for_output("collector subscribed", timeout=20)
    guard.start([sys.executable, "-m", "lvgate.cli", "run", "-c", str(gateway)], name="gateway")


def check_times(stored_ms: int, read_times: list[int]) -> None:
    """The stored time is when the device answered, not when the message was sent or stored."""
    nearest = min(read_times, key=lambda t: abs(t - stored_ms))
    assert abs(nearest - stored_ms) < POLL_INTERVAL_S * 1000, (stored_ms, nearest)


async def test_modbus_to_influxdb(
    tmp_path: Path,
    mqtt_broker: MosquittoBroker,
    influxdb: InfluxDB1,
    influxdb_database: str,
    modbus_server: RecordingServer,
    process_guard: ProcessGuard,
) -> None:
    storage = f"  influxdb: {{url: '{influxdb.url}', api: v1, database: {influxdb_database}}}"
    gateway, collector = write_configs(tmp_path, mqtt_broker, modbus_server.port, storage)
    start_chain(process_guard, gateway, collector)

    def rows(measurement: str, device: str, entity: str) -> list[dict[str, Any]]:
        query = f"SELECT * FROM \"{measurement}\" WHERE device='{device}' AND entity='{entity}'"
        return influxdb.rows(influxdb_database, query, epoch="ms")

    async def all_stored() -> bool:
        found = [await asyncio.to_thread(rows, m, d, e) for m, d, e, _, _ in EXPECTED]
        return all(found)

    await wait_for_async(all_stored, timeout=30, what="every entity stored in InfluxDB")
    for measurement, device, entity, value, unit in EXPECTED:
        row = rows(measurement, device, entity)[0]
        assert row["value"] == pytest.approx(value, abs=1e-9), entity
        assert row["unit"] == unit
        assert row["gateway"] == "gw-test" and row["site"] == "test site" and row["room"] == "B1"
        unit_id = 1 if device == "ups-1" else 2
        check_times(int(row["time"]), modbus_server.read_times[unit_id])


async def test_modbus_to_sqlite_history(
    tmp_path: Path,
    mqtt_broker: MosquittoBroker,
    modbus_server: RecordingServer,
    process_guard: ProcessGuard,
) -> None:
    history = tmp_path / "history.sqlite"
    gateway, collector = write_configs(tmp_path, mqtt_broker, modbus_server.port, f"  sqlite: {{path: '{history}'}}")
    probe = MqttProbe(mqtt_broker.port).connect()
    probe.subscribe("#")
    start_chain(process_guard, gateway, collector)

    def stored(device: str, entity: str) -> list[tuple[float, str, int]]:
        if not history.exists():
            return []
        with sqlite3.connect(history) as db:
            try:
                return db.execute(
                    "SELECT value, unit, ts_ms FROM readings WHERE device=? AND entity=? ORDER BY ts_ms",
                    (device, entity),
                ).fetchall()
            except sqlite3.OperationalError:
                return []

    async def all_stored() -> bool:
        return all(stored(d, e) for _, d, e, _, _ in EXPECTED)

    await wait_for_async(all_stored, timeout=30, what="every entity stored in the SQLite history")
    for _, device, entity, value, unit in EXPECTED:
        stored_value, stored_unit, ts_ms = stored(device, entity)[0]
        assert stored_value == pytest.approx(value, abs=1e-9), entity
        assert stored_unit == unit
        check_times(ts_ms, modbus_server.read_times[1 if device == "ups-1" else 2])
    # Every message the gateway published on the way validates against the contract.
    process_guard.stop_all()
    probe.close()
    seen = probe.received("#")
    assert {m.topic.rsplit("/", 1)[-1] for m in seen} >= {"telemetry", "state", "availability", "info", "config"}
    assert contract_problems(seen) == []

"""Real Modbus peers for tests: pymodbus servers on loopback TCP and on a socat pty pair.

A :class:`Peer` serves fixed register maps (``{unit: {table: {address: word}}}``); addresses
not in the map are invalid, so a read across them gets exception 2, as from a real device.
It counts the requests it receives, can go silent for chosen units (their frames are
corrupted on arrival, so pymodbus drops them as line noise) and can answer one address
late once.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pymodbus.pdu.device import ModbusDeviceIdentification
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from lvgate.drivers.modbus.pty import PtyPair

Tables = dict[str, dict[int, int]]
TABLES = ("coil", "discrete", "holding", "input")
_FUNCTION_TABLE = {1: "coil", 2: "discrete", 3: "holding", 4: "input"}


def require_socat() -> None:
    if shutil.which("socat") is None:
        pytest.skip("socat is not installed (apt-get install socat): no pseudo-terminal pair for RTU tests")


def _runs(addresses: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for address in sorted(addresses):
        if runs and address == runs[-1][-1] + 1:
            runs[-1].append(address)
        else:
            runs.append([address])
    return runs


@dataclass
class Peer:
    units: dict[int, Tables]
    identity: dict[str, str] = field(default_factory=dict)
    muted: set[int] = field(default_factory=set)
    requests: list[tuple[int, int, int, int]] = field(default_factory=list)  # unit, function, address, count
    late_once: dict[tuple[int, int], float] = field(default_factory=dict)  # (unit, address) -> delay
    server: Any = None

    def devices(self) -> list[SimDevice]:
        devices = []
        for unit, tables in self.units.items():
            blocks: list[list[SimData]] = [[], [], [], []]
            for index, table in enumerate(TABLES):
                words = tables.get(table, {})
                if index < 2:  # bits: 16 to a register from bit 0; unset bits read 0
                    top = max(words, default=0)
                    bits = [bool(words.get(a, 0)) for a in range(16 * (top // 16 + 1))]
                    blocks[index].append(SimData(0, values=bits, datatype=DataType.BITS))
                    continue
                for run in _runs(list(words)) or [[65535]]:
                    values = [words.get(a, 0) for a in run]
                    blocks[index].append(SimData(run[0], values=values, datatype=DataType.REGISTERS))
            devices.append(
                SimDevice(unit, simdata=(blocks[0], blocks[1], blocks[2], blocks[3]), action=self._action(unit))
            )
        return devices

    def _action(self, unit: int) -> Any:
        async def action(
            function_code: int,
            start_address: int,
            address: int,
            count: int,
            registers: list[int],
            set_values: list[int] | list[bool] | None,
        ) -> None:
            delay = self.late_once.pop((unit, address), None)
            if delay:
                await asyncio.sleep(delay)

        return action

    def _trace(self, sending: bool, data: bytes) -> bytes:
        # Silence for a muted unit: spoil the CRC so the server drops the frame as noise.
        if not sending and data and data[0] in self.muted:
            return data[:-1] + bytes([data[-1] ^ 0xFF])
        return data

    def _trace_pdu(self, sending: bool, pdu: Any) -> Any:
        if not sending:  # every request the server decodes, refused ones included
            self.requests.append((pdu.dev_id, pdu.function_code, getattr(pdu, "address", 0), getattr(pdu, "count", 0)))
        return pdu

    def _identity(self) -> ModbusDeviceIdentification | None:
        if not self.identity:
            return None
        return ModbusDeviceIdentification(info_name=self.identity)  # type: ignore[no-untyped-call]

    async def start_tcp(self, port: int) -> None:
        self.server = ModbusTcpServer(
            self.devices(), address=("127.0.0.1", port), identity=self._identity(), trace_pdu=self._trace_pdu
        )
        await self.server.serve_forever(background=True)

    async def start_rtu(self, path: str, baudrate: int = 9600) -> None:
        self.server = ModbusSerialServer(
            self.devices(),
            port=path,
            baudrate=baudrate,
            trace_packet=self._trace,
            trace_pdu=self._trace_pdu,
            identity=self._identity(),
        )
        await self.server.serve_forever(background=True)
        await asyncio.sleep(0.05)  # the serial server opens its port from a task

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None

    def reads(self, unit: int | None = None) -> list[tuple[int, int, int, int]]:
        return [r for r in self.requests if unit is None or r[0] == unit]


@contextlib.asynccontextmanager
async def pty_pair(directory: Path) -> AsyncIterator[PtyPair]:
    require_socat()
    pair = PtyPair(str(directory / "gateway-tty"), str(directory / "device-tty"))
    await pair.start()
    try:
        yield pair
    finally:
        await pair.stop()

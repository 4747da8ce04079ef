"""Serve a profile's registers on loopback with plausible, slowly changing values.

Values come from ``edge_config/simulation.yaml`` and are encoded through the same profile the
gateway decodes with, so a simulated UPS reads back as the values it was given.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml
from pymodbus.pdu.device import ModbusDeviceIdentification
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from lvgate.drivers.base import ProfileError
from lvgate.drivers.modbus.codec import encode_number, encode_string
from lvgate.drivers.modbus.profile import ModbusProfile, Point, load_profile
from lvgate.mqtt_schema.vocabulary import entity_kind
from lvgate.paths import data_dir

_TABLE_OF_FUNCTION = {
    1: "coil",
    5: "coil",
    15: "coil",
    2: "discrete",
    3: "holding",
    4: "input",
    6: "holding",
    16: "holding",
}
_TABLE_INDEX = {"coil": 0, "discrete": 1, "holding": 2, "input": 3}


@cache
def _simulation_spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((data_dir() / "simulation.yaml").read_text(encoding="utf-8"))
    return loaded


def plausible_value(key: str, t: float, rng: random.Random) -> float | str | bool | None:
    """The simulated physical value of ``key`` at time ``t`` (seconds)."""
    spec = _simulation_spec()
    if key in spec["state"]:
        value: str | bool = spec["state"][key]
        return value
    wave = spec["float"].get(key)
    if wave is None:
        return None
    swing = wave["amplitude"] * math.sin(2 * math.pi * t / wave["period"])
    return float(wave["nominal"] + swing + rng.uniform(-wave["noise"], wave["noise"]))


def encode_point(point: Point, value: float | str | bool, order: str) -> list[int] | None:
    """Registers that decode to ``value`` through ``point``; None if the point cannot say it."""
    order = point.byte_order or order
    if point.type == "string" and point.length:
        return encode_string(str(value), point.length, order)
    if point.map is not None:
        matches = [raw for raw, mapped in point.map.items() if mapped == value]
        if not matches:
            return None  # the map default: leave the register to the point that owns it
        raw_value: float = matches[0]
    elif isinstance(value, bool):
        raw_value = int(value)
    elif isinstance(value, str):
        return None
    else:
        raw_value = (value - point.offset) / point.scale
    if point.table in ("coil", "discrete") or point.type == "bool":
        return [1 if raw_value else 0]
    if not point.type.startswith("float"):
        raw_value = round(raw_value)
    return encode_number(raw_value, point.type, order)


@dataclass
class SimulatedUnit:
    """One unit id answering with one profile's registers."""

    profile: ModbusProfile
    unit: int
    overrides: dict[str, float | str | bool] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.started = time.monotonic()

    def current_words(self) -> dict[str, dict[int, int]]:
        """Every table's words as they should read now."""
        t = time.monotonic() - self.started
        tables: dict[str, dict[int, int]] = {name: {} for name in _TABLE_INDEX}
        # Bit points go last so they only set their bit in a register others may also use.
        for point in sorted(self.profile.points, key=lambda p: p.bit is not None or p.flags is not None):
            if point.flags:
                self._set_flags(tables[point.table], point)
                continue
            key = point.key or ""
            value = self.overrides.get(key, plausible_value(key, t, self.rng))
            if value is None:
                continue
            if entity_kind(self.profile.device_class, key).type == "int" and isinstance(value, float):
                value = round(value)
            address = self.profile.wire_address(point)
            table = tables[point.table]
            if point.bit is not None:
                word = table.get(address, 0)
                table[address] = word | (1 << point.bit) if value else word & ~(1 << point.bit)
                continue
            words = encode_point(point, value, self.profile.byte_order)
            if words is None:
                continue
            for i, word in enumerate(words):
                table[address + i] = word
        for point in self.profile.identity:
            text = self.overrides.get(point.key or "", f"SIM-{point.key}")
            words = encode_point(point, text, self.profile.byte_order)
            for i, word in enumerate(words or []):
                tables[point.table][self.profile.wire_address(point) + i] = word
        return tables

    def _set_flags(self, table: dict[int, int], point: Point) -> None:
        """Set the named bits from their overrides (or the simulation's fixed states)."""
        address = self.profile.wire_address(point)
        words = point.register_count
        bits = 0
        for bit, key in (point.flags or {}).items():
            value = self.overrides.get(key, _simulation_spec()["state"].get(key, False))
            if value:
                bits |= 1 << bit
        current = sum(table.get(address + i, 0) << (16 * (words - 1 - i)) for i in range(words))
        mask = sum(1 << bit for bit in point.flags or {})
        merged = (current & ~mask) | bits
        for i, word in enumerate(encode_number(merged, point.type, point.byte_order or self.profile.byte_order)):
            table[address + i] = word

    def sim_device(self) -> SimDevice:
        blocks: list[list[SimData]] = [[], [], [], []]
        for table, index in _TABLE_INDEX.items():
            addresses = [
                self.profile.wire_address(p) + i
                for p in (*self.profile.points, *self.profile.identity)
                if p.table == table
                for i in range(p.register_count)
            ]
            if not addresses:
                # pymodbus wants every table present; one unused register is enough.
                addresses = [0]
            low, high = min(addresses), max(addresses)
            if index < 2:  # bits live 16 to a register, from bit 0
                values: Any = [False] * (16 * (high // 16 + 1))
                blocks[index].append(SimData(0, values=values, datatype=DataType.BITS))
                continue
            blocks[index].append(SimData(low, values=[0] * (high - low + 1), datatype=DataType.REGISTERS))
        return SimDevice(self.unit, simdata=(blocks[0], blocks[1], blocks[2], blocks[3]), action=self._action())

    def _action(self) -> Callable[..., Coroutine[Any, Any, None]]:
        async def refresh(
            function_code: int,
            start_address: int,
            address: int,
            count: int,
            registers: list[int],
            set_values: list[int] | list[bool] | None,
        ) -> None:
            table = _TABLE_OF_FUNCTION.get(function_code)
            if table is None or set_values:
                return
            if table in ("coil", "discrete"):
                for bit_address, on in self.current_words()[table].items():
                    word, bit = bit_address // 16 - start_address, bit_address % 16
                    if 0 <= word < len(registers):
                        registers[word] = registers[word] | (1 << bit) if on else registers[word] & ~(1 << bit)
                return
            for wire, word in self.current_words()[table].items():
                offset = wire - start_address
                if 0 <= offset < len(registers):
                    registers[offset] = word

        return refresh


def identity_of(units: list[SimulatedUnit]) -> ModbusDeviceIdentification:
    """What function 43/14 answers (pymodbus keeps one identity per server: the first unit's)."""
    first = units[0].profile
    return ModbusDeviceIdentification(  # type: ignore[no-untyped-call]
        info_name={"VendorName": first.manufacturer, "ProductCode": first.model, "MajorMinorRevision": "sim-1.0"}
    )


async def start_server(units: list[SimulatedUnit], host: str = "127.0.0.1", port: int = 5020) -> ModbusTcpServer:
    """Start a Modbus TCP server for ``units`` on ``host:port`` (loopback unless told otherwise)."""
    server = ModbusTcpServer([u.sim_device() for u in units], address=(host, port), identity=identity_of(units))
    await server.serve_forever(background=True)
    return server


async def start_rtu_server(units: list[SimulatedUnit], path: str, baudrate: int = 9600) -> ModbusSerialServer:
    """Serve ``units`` as RTU slaves on a serial device (one end of a pty pair in tests)."""
    server = ModbusSerialServer(
        [u.sim_device() for u in units], port=path, baudrate=baudrate, identity=identity_of(units)
    )
    await server.serve_forever(background=True)
    return server


async def run_simulator(args: argparse.Namespace, stop: asyncio.Event) -> int:
    """`lvgate simulate modbus`: TCP on loopback, or RTU on a serial device or a new pty pair."""
    from lvgate.drivers.modbus.pty import PtyPair
    from lvgate.simulate import is_loopback

    try:
        units = [unit_for(name, index + 1) for index, name in enumerate(args.profile)]
    except ProfileError as exc:
        print(exc)
        return 1
    pair: PtyPair | None = None
    server: Any
    if args.pty:
        pair = PtyPair(args.pty, args.pty + ".sim")
        await pair.start()
        server = await start_rtu_server(units, pair.server_path, args.baudrate)
        where = f"RTU on pty {args.pty} (transport: rtu, port: {args.pty}, baudrate: {args.baudrate})"
    elif args.serial:
        server = await start_rtu_server(units, args.serial, args.baudrate)
        where = f"RTU on {args.serial} at {args.baudrate} baud"
    else:
        if not is_loopback(args.host):
            print(f"refusing to serve on {args.host}: simulators bind loopback only")
            return 2
        server = await start_server(units, host=args.host, port=args.port)
        where = f"{args.host}:{args.port}"
    for unit in units:
        print(f"unit {unit.unit}: {unit.profile.profile} on {where}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.shutdown()
        if pair is not None:
            await pair.stop()
    return 0


def unit_for(profile_name: str, unit: int, **overrides: float | str | bool) -> SimulatedUnit:
    return SimulatedUnit(load_profile(profile_name), unit, dict(overrides))

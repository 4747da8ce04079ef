"""The driver against real pymodbus servers: over loopback TCP and over RTU on a socat pty.

Register contents are built here with ``struct`` from chosen values; the driver must read
those values back. Bus behaviour (holes, late replies, a dead unit, a vanished port) is
checked by what the server sees and what the pollers return.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lvgate.drivers.base import DeviceError
from lvgate.drivers.modbus.driver import ModbusDeviceConfig, ModbusSession
from lvgate.drivers.modbus.frames import read_request, registers_of
from lvgate.drivers.modbus.poller import ModbusPoller
from lvgate.drivers.modbus.pty import PtyPair
from lvgate.drivers.modbus.transport import SerialRtuBus, TcpBus
from lvgate.reading import Quality, Reading
from tests.modbus_peers import Peer, pty_pair
from tests.services import free_port


def words(fmt: str, value: float, swap_words: bool = False) -> list[int]:
    raw = struct.pack(fmt, value)
    out = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    return out[::-1] if swap_words else out


def at(start: int, values: list[int]) -> dict[int, int]:
    return {start + i: v for i, v in enumerate(values)}


# One map that exercises every type and order; values chosen here, words made by struct.
HOLDING = {
    **at(0, words(">h", -1234)),  # int16 negative
    **at(1, words(">H", 2292)),  # uint16 * 0.1
    **at(2, words(">i", -123456)),  # int32 ABCD
    **at(4, words(">i", -7, swap_words=True)),  # int32 CDAB
    **at(6, words(">f", 21.5)),  # float32 ABCD
    **at(8, words(">f", float("nan"))),  # NaN
    **at(10, words(">Q", 2**40 + 3)),  # uint64
    **at(14, words(">d", -0.125, swap_words=True)),  # float64 word-swapped
    **at(18, [0xFFFF]),  # sentinel
    **at(19, [0b0100_0100]),  # bitfield: bits 2 and 6
    **at(20, [3]),  # enum
    **at(21, [0]),  # a real zero
    **at(30, [int.from_bytes(b, "big") for b in (b"UP", b"S2", b"00", b"0\x00")]),  # string
    **at(34, [0x3412, 0x7856]),  # 0x12345678 with bytes swapped in each word (BADC)
}
POINTS: list[dict[str, Any]] = [
    {"key": "temperature", "address": 0, "type": "int16", "scale": 0.01},
    {"key": "input_voltage", "address": 1, "type": "uint16", "scale": 0.1},
    {"key": "output_power", "address": 2, "type": "int32"},
    {"key": "output_current", "address": 4, "type": "int32", "byte_order": "CDAB"},
    {"key": "battery_temperature", "address": 6, "type": "float32"},
    {"key": "output_frequency", "address": 8, "type": "float32"},
    {"key": "battery_runtime", "address": 10, "type": "uint64"},
    {"key": "bypass_voltage", "address": 14, "type": "float64", "byte_order": "CDAB"},
    {"key": "battery_voltage", "address": 18, "type": "uint16", "invalid": [0xFFFF]},
    {"address": 19, "type": "uint16", "flags": {2: "on_battery", 6: "battery_low"}},
    {"key": "power_mode", "address": 20, "type": "uint16", "map": {2: "online", 3: "on_battery"}},
    {"key": "load", "address": 21, "type": "uint16"},
    {"key": "battery_charge", "address": 34, "type": "uint32", "byte_order": "BADC"},
]
EXPECTED = {
    "temperature": (-12.34, Quality.GOOD),
    "input_voltage": (229.2, Quality.GOOD),
    "output_power": (-123456.0, Quality.GOOD),
    "output_current": (-7.0, Quality.GOOD),
    "battery_temperature": (21.5, Quality.GOOD),
    "output_frequency": (None, Quality.UNCERTAIN),
    "battery_runtime": (float(2**40 + 3), Quality.GOOD),
    "bypass_voltage": (-0.125, Quality.GOOD),
    "battery_voltage": (None, Quality.BAD),
    "on_battery": (True, Quality.GOOD),
    "battery_low": (True, Quality.GOOD),
    "power_mode": ("on_battery", Quality.GOOD),
    "load": (0.0, Quality.GOOD),
    "battery_charge": (float(0x12345678), Quality.GOOD),
}


def custom(unit: int = 1, **settings: Any) -> ModbusDeviceConfig:
    base: dict[str, Any] = {
        "id": f"dev-{unit}",
        "profile": "custom",
        "device_class": "ups",
        "points": POINTS,
        "unit": unit,
        "timeout": 0.3,
        "retries": 0,
    }
    return ModbusDeviceConfig.model_validate({**base, **settings})


def by_key(readings: list[Reading]) -> dict[str, tuple[object, Quality]]:
    return {r.key: (r.value, r.quality) for r in readings}


@pytest.fixture
async def rtu(tmp_path: Path) -> AsyncIterator[PtyPair]:
    async with pty_pair(tmp_path) as pair:
        yield pair


async def test_every_type_over_tcp() -> None:
    port = free_port()
    peer = Peer({1: {"holding": HOLDING}})
    await peer.start_tcp(port)
    session = ModbusSession()
    try:
        poller = session.poller(custom(port=port))
        assert by_key(await poller.poll()) == EXPECTED
    finally:
        await session.close()
        await peer.stop()


async def test_every_type_over_rtu_on_a_pty(rtu: PtyPair) -> None:
    peer = Peer({1: {"holding": HOLDING}})
    await peer.start_rtu(rtu.server_path)
    session = ModbusSession()
    try:
        poller = session.poller(custom(transport="rtu", port=rtu.client_path, baudrate=9600))
        assert by_key(await poller.poll()) == EXPECTED
        # 13 points, two requests: 0..21 and 34..35 (the 12-register gap is wider than max_gap 8)
        assert [(f, a, c) for _, f, a, c in peer.reads()] == [(3, 0, 22), (3, 34, 2)]
    finally:
        await session.close()
        await peer.stop()


async def test_strings_and_identity_over_rtu(rtu: PtyPair) -> None:
    peer = Peer({1: {"holding": HOLDING}}, identity={"VendorName": "Acme Power", "ProductCode": "UPS-9"})
    await peer.start_rtu(rtu.server_path)
    bus = SerialRtuBus(rtu.client_path, baudrate=9600, bytesize=8, parity="N", stopbits=1, timeout=0.3, retries=0)
    try:
        from lvgate.drivers.modbus.profile import ModbusProfile, Point

        profile = ModbusProfile(
            profile="t", device_class="ups", manufacturer="x", model="y", source="test",
            identity=(Point(key="serial", address=30, type="string", length=4),),
            points=(Point(key="load", address=21),),
        )  # fmt: skip
        poller = ModbusPoller(custom(), bus, profile, unit=1, max_gap=8, byte_order="ABCD")
        identity = await poller.identity()
        assert identity == {"manufacturer": "Acme Power", "model": "UPS-9", "serial": "UPS2000"}
    finally:
        await bus.close()
        await peer.stop()


async def test_exception_2_splits_and_the_learned_plan_is_kept(rtu: PtyPair) -> None:
    # Registers 0-1 and 5 exist, 2-4 do not: the merged read 0..5 is refused with exception 2.
    peer = Peer({1: {"holding": {0: 11, 1: 12, 5: 15}}})
    await peer.start_rtu(rtu.server_path)
    points = [
        {"key": "load", "address": 0},
        {"key": "battery_charge", "address": 1},
        {"key": "temperature", "address": 5},
    ]
    session = ModbusSession()
    try:
        poller = session.poller(
            custom(transport="rtu", port=rtu.client_path, points=points, device_class="ups", timeout=0.5)
        )
        first = by_key(await poller.poll())
        assert first == {"load": (11.0, Quality.GOOD), "battery_charge": (12.0, Quality.GOOD),
                         "temperature": (15.0, Quality.GOOD)}  # fmt: skip
        assert [(a, c) for _, _, a, c in peer.reads()] == [(0, 6), (0, 2), (5, 1)]
        peer.requests.clear()
        for _ in range(3):
            assert by_key(await poller.poll()) == first
        # later cycles go straight to the learned plan: two requests each, never the merged one
        assert [(a, c) for _, _, a, c in peer.reads()] == [(0, 2), (5, 1)] * 3
    finally:
        await session.close()
        await peer.stop()


async def test_late_reply_is_discarded_over_rtu(rtu: PtyPair) -> None:
    # The server answers address 100 after 0.6 s, the client gives up after 0.25 s.
    peer = Peer({1: {"holding": {100: 1111, 200: 2222, 300: 3333}}})
    peer.late_once[(1, 100)] = 0.6
    await peer.start_rtu(rtu.server_path)
    bus = SerialRtuBus(rtu.client_path, baudrate=9600, bytesize=8, parity="N", stopbits=1, timeout=0.25, retries=0)
    try:
        with pytest.raises(TimeoutError):
            await bus.request(1, read_request("holding", 100, 1))
        assert registers_of(await bus.request(1, read_request("holding", 200, 1))) == [2222]
        await asyncio.sleep(0.6)  # the late answer (same shape as the next one) is now on the line
        assert registers_of(await bus.request(1, read_request("holding", 300, 1))) == [3333]
        assert bus.stats.discarded_bytes == 7  # one whole 1-register reply thrown away
    finally:
        await bus.close()
        await peer.stop()


async def test_late_reply_is_discarded_over_tcp() -> None:
    port = free_port()
    peer = Peer({1: {"holding": {100: 1111, 200: 2222, 300: 3333}}})
    peer.late_once[(1, 100)] = 0.6
    await peer.start_tcp(port)
    bus = TcpBus("127.0.0.1", port, timeout=0.25, retries=0)
    try:
        with pytest.raises(TimeoutError):
            await bus.request(1, read_request("holding", 100, 1))
        assert registers_of(await bus.request(1, read_request("holding", 200, 1))) == [2222]
        await asyncio.sleep(0.6)
        assert registers_of(await bus.request(1, read_request("holding", 300, 1))) == [3333]
    finally:
        await bus.close()
        await peer.stop()


async def _poll_loop(poller: Any, interval: float, until: float, log: list[tuple[float, bool, str | None]]) -> None:
    """What the gateway runtime does for one device: poll on a fixed interval."""
    next_due = time.monotonic()
    while time.monotonic() < until:
        try:
            await poller.poll()
            log.append((time.monotonic(), True, None))
        except DeviceError as exc:
            log.append((time.monotonic(), False, exc.reason))
        next_due += interval
        await asyncio.sleep(max(0.0, next_due - time.monotonic()))


async def test_dead_middle_unit_backs_off_and_recovers(rtu: PtyPair) -> None:
    sensor = {"input": {1: 250, 2: 450}}
    peer = Peer({1: sensor, 2: sensor, 3: sensor})
    peer.muted.add(2)
    await peer.start_rtu(rtu.server_path)
    session = ModbusSession()
    common = {"transport": "rtu", "port": rtu.client_path, "profile": "generic_xy_md02", "poll_interval": 0.3}
    configs = [
        ModbusDeviceConfig.model_validate(
            {**common, "id": f"env-{u}", "unit": u, "timeout": 0.4, "retries": 1, "backoff_after": 2, "backoff_max": 3}
        )
        for u in (1, 2, 3)
    ]
    pollers = [session.poller(c) for c in configs]
    logs: list[list[tuple[float, bool, str | None]]] = [[], [], []]
    try:
        window = 6.0
        until = time.monotonic() + window
        await asyncio.gather(*(_poll_loop(p, 0.3, until, log) for p, log in zip(pollers, logs, strict=True)))
        # Without back-off each dead attempt holds the bus for 2 x 0.4 s every cycle and the live
        # units would manage about 5 polls in 6 s; with it they keep close to their 20.
        for live in (logs[0], logs[2]):
            assert all(ok for _, ok, _ in live)
            assert len(live) >= 12, len(live)
        dead = logs[1]
        assert dead and not any(ok for _, ok, _ in dead)
        assert {reason for _, _, reason in dead} == {"timeout"}
        assert len([r for r in peer.reads(2)]) == 0  # muted: the server never saw its frames
        # bus attempts at unit 2 (each a timeout): far fewer than its 20 scheduled polls
        assert session.buses[next(iter(session.buses))].stats.timeouts <= 2 * 6
        peer.muted.clear()
        recovered_at = None
        until = time.monotonic() + 8.0
        recovery: list[tuple[float, bool, str | None]] = []
        task = asyncio.create_task(_poll_loop(pollers[1], 0.3, until, recovery))
        while time.monotonic() < until and recovered_at is None:
            await asyncio.sleep(0.1)
            recovered_at = next((t for t, ok, _ in recovery if ok), None)
        task.cancel()
        assert recovered_at is not None, "the unit was brought back but never read again"
    finally:
        await session.close()
        await peer.stop()


async def test_pty_removed_and_recreated_while_polling(tmp_path: Path) -> None:
    pair = PtyPair(str(tmp_path / "gw"), str(tmp_path / "dev"))
    from tests.modbus_peers import require_socat

    require_socat()
    await pair.start()
    peer = Peer({1: {"input": {1: 215, 2: 480}}})
    await peer.start_rtu(pair.server_path)
    session = ModbusSession()
    config = ModbusDeviceConfig.model_validate(
        {"id": "env", "profile": "generic_xy_md02", "transport": "rtu", "port": pair.client_path, "timeout": 0.3}
    )
    poller = session.poller(config)
    try:
        assert by_key(await poller.poll())["temperature"] == (21.5, Quality.GOOD)
        await peer.stop()
        await pair.stop()  # the adapter is pulled: both links vanish
        with pytest.raises(DeviceError) as gone:
            await poller.poll()
        assert gone.value.reason in ("link_down", "timeout")
        await pair.start()  # plugged in again: a new pty behind the same path
        peer = Peer({1: {"input": {1: 216, 2: 481}}})
        await peer.start_rtu(pair.server_path)
        readings: dict[str, tuple[object, Quality]] = {}
        for _ in range(40):
            try:
                readings = by_key(await poller.poll())
                break
            except DeviceError:
                await asyncio.sleep(0.25)
        assert readings.get("temperature") == (21.6, Quality.GOOD)
    finally:
        await session.close()
        await peer.stop()
        await pair.stop()

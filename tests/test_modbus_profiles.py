"""Every shipped Modbus profile: loads, maps only vocabulary keys, cites its vendor document,
has a firmware note, and decodes recorded replies to the values the sources give."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lvgate.drivers.modbus.driver import ModbusDeviceConfig, ModbusSession
from lvgate.drivers.modbus.profile import available_profiles, load_profile, profile_path
from lvgate.drivers.modbus.simulator import start_server, unit_for
from lvgate.mqtt_schema.vocabulary import vocabulary
from lvgate.reading import Quality
from tests.modbus_peers import Peer
from tests.services import free_port
from tests.shared_fixtures import fixture_path

SHIPPED = [name for name in available_profiles() if name != "custom"]
NOTES = Path(__file__).resolve().parents[1] / "firmware_notes"


def test_the_issue_asks_for_these_families() -> None:
    classes = [load_profile(n).device_class for n in SHIPPED]
    assert classes.count("ups") >= 2
    assert classes.count("env_sensor") >= 2
    assert "leak_sensor" in classes


@pytest.mark.parametrize("name", SHIPPED)
def test_profile_maps_only_vocabulary_keys(name: str) -> None:
    raw = yaml.safe_load(profile_path(name).read_text(encoding="utf-8"))
    entities = vocabulary()[raw["device_class"]].entities
    for point in raw["points"]:
        keys = list(point["flags"].values()) if "flags" in point else [point["key"]]
        for key in keys:
            assert key in entities, f"{name}: '{key}' is not a vocabulary key of {raw['device_class']}"
    profile = load_profile(name)
    assert profile.profile == name
    assert profile.source.strip()
    assert profile.firmware_notes and (NOTES / profile.firmware_notes).is_file()


@pytest.mark.parametrize("name", SHIPPED)
async def test_simulator_serves_every_profile_without_errors(name: str) -> None:
    port = free_port()
    server = await start_server([unit_for(name, 1)], port=port)
    session = ModbusSession()
    try:
        poller = session.poller(ModbusDeviceConfig(id="d", profile=name, port=port, timeout=1.0))
        readings = await poller.poll()
        profile = load_profile(name)
        assert sorted(r.key for r in readings) == sorted(k for p in profile.points for k in p.keys)
        assert all(r.quality is Quality.GOOD for r in readings), [r for r in readings if r.quality != "good"]
    finally:
        await session.close()
        await server.shutdown()  # type: ignore[no-untyped-call]


def _frame_words(frame_id: str) -> tuple[int, int, list[int], dict[str, float]]:
    frames = yaml.safe_load(fixture_path("modbus", "frames.yaml").read_text(encoding="utf-8"))["frames"]
    frame = next(f for f in frames if f["id"] == frame_id)
    request = bytes.fromhex(frame["request"].replace(" ", ""))
    response = bytes.fromhex(frame["response"].replace(" ", ""))
    address = int.from_bytes(request[2:4], "big")
    words = [int.from_bytes(response[3 + i : 5 + i], "big") for i in range(0, response[2], 2)]
    return request[1], address, words, frame["decoded"]


@pytest.mark.parametrize(
    ("profile", "frame_id"),
    [
        ("generic_xy_md02", "xy-md02-capture-1"),
        ("renke_rs_ws_n01", "renke-rs-ws-manual"),
        ("huawei_02312pbl", "huawei-02312pbl-manual-th"),
    ],
)
async def test_recorded_replies_decode_through_the_profile(profile: str, frame_id: str) -> None:
    function, address, words, decoded = _frame_words(frame_id)
    table = {3: "holding", 4: "input"}[function]
    registers = {address + i: w for i, w in enumerate(words)}
    if profile == "huawei_02312pbl":
        registers.update({a: 0 for a in range(address + 2, 0x22)})
        registers[0x21] = 0x8000  # probe 1 not connected, as the guide shows for probes 5 and 6
    port = free_port()
    peer = Peer({1: {table: registers}})
    await peer.start_tcp(port)
    session = ModbusSession()
    try:
        poller = session.poller(ModbusDeviceConfig(id="d", profile=profile, port=port, timeout=1.0))
        got = {r.key: (r.value, r.quality) for r in await poller.poll()}
    finally:
        await session.close()
        await peer.stop()
    assert got["temperature"] == (decoded["temperature_degC"], Quality.GOOD)
    assert got["humidity"] == (decoded["humidity_pct"], Quality.GOOD)
    if profile == "huawei_02312pbl":
        assert got["probe_temperature"] == (None, Quality.BAD)


async def test_apc_binary_fixed_point_worked_example() -> None:
    # From the fixture's worked example: 51200/2^9 = 100 %, 864/2^5 = 27 V, 14720/2^6 = 230 V.
    example = yaml.safe_load(fixture_path("modbus", "apc_smart-ups-modbus.yaml").read_text(encoding="utf-8"))
    worked = example["worked_example"]
    registers = {a: 0 for a in range(0, 152)}
    registers.update({0: 0, 1: 0b100, 130: worked["battery_charge_raw"], 131: worked["battery_voltage_raw"]})
    registers[142] = worked["output_voltage_raw"]
    registers[151] = 0xFFFF  # input voltage not available
    port = free_port()
    peer = Peer({1: {"holding": registers}})
    await peer.start_tcp(port)
    session = ModbusSession()
    try:
        poller = session.poller(ModbusDeviceConfig(id="d", profile="apc_smart_ups", port=port, timeout=1.0))
        got = {r.key: (r.value, r.quality) for r in await poller.poll()}
    finally:
        await session.close()
        await peer.stop()
    assert got["battery_charge"] == (100.0, Quality.GOOD)
    assert got["battery_voltage"] == (27.0, Quality.GOOD)
    assert got["output_voltage"] == (230.0, Quality.GOOD)
    assert got["on_battery"] == (True, Quality.GOOD)  # bit 2 of the status word
    assert got["input_voltage"] == (None, Quality.BAD)

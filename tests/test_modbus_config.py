"""Modbus device configs: serial keys a technician expects, custom devices, located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvgate.drivers.modbus import DRIVER
from lvgate.drivers.modbus.driver import ModbusDeviceConfig
from lvgate.gateway.config import load_gateway_config
from lvgate.gateway.yaml_source import ConfigError

HEAD = "site: HQ\nroom: B1\ngateway_id: gw\ndevices:\n"


def problems(tmp_path: Path, devices: str) -> list[str]:
    path = tmp_path / "room.yaml"
    path.write_text(HEAD + devices, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_gateway_config(path)
    return [str(p) for p in caught.value.problems]


def test_serial_device_with_every_line_setting(tmp_path: Path) -> None:
    path = tmp_path / "room.yaml"
    path.write_text(
        HEAD + "  - {id: ups, driver: modbus, profile: huawei_ups2000, transport: rtu,\n"
        "     port: /dev/serial/by-id/usb-FTDI-if00, baudrate: 19200, parity: E, bytesize: 8, stopbits: 1, unit: 3}\n",
        encoding="utf-8",
    )
    (device,) = load_gateway_config(path).devices
    assert isinstance(device, ModbusDeviceConfig)
    assert (device.port, device.baudrate, device.parity, device.unit) == (
        "/dev/serial/by-id/usb-FTDI-if00",
        19200,
        "E",
        3,
    )
    assert "rtu /dev/serial/by-id/usb-FTDI-if00 19200 8E1 unit 3" in DRIVER.describe(device)


def test_misspelt_serial_key_names_the_right_one(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "  - {id: ups, driver: modbus, profile: huawei_ups2000, transport: rtu, port: /dev/ttyUSB0, baudrat: 9600}\n",
    )
    assert any("unknown key 'baudrat'" in p and "baudrate" in p for p in found), found


def test_rtu_needs_a_device_path(tmp_path: Path) -> None:
    found = problems(tmp_path, "  - {id: ups, driver: modbus, profile: huawei_ups2000, transport: rtu, port: 502}\n")
    assert any("serial device" in p and "ups" in p for p in found), found


def test_custom_device_points_are_checked_against_the_vocabulary(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "  - id: meter\n    driver: modbus\n    profile: custom\n    device_class: ups\n"
        "    points:\n      - {key: volts, address: 0}\n",
    )
    assert any("'volts' is not in the vocabulary" in p for p in found), found


def test_custom_device_loads_and_plans(tmp_path: Path) -> None:
    path = tmp_path / "room.yaml"
    path.write_text(
        HEAD + "  - id: meter\n    driver: modbus\n    profile: custom\n    device_class: env_sensor\n"
        "    addressing: modicon\n    points:\n"
        "      - {key: temperature, table: input, address: 30002, type: int16, scale: 0.1}\n"
        "      - {key: humidity, table: input, address: 30003, scale: 0.1}\n",
        encoding="utf-8",
    )
    (device,) = load_gateway_config(path).devices
    # modicon 30002 is input register 1 on the wire
    assert DRIVER.describe_plan(device)[1:] == ["fc 4 input 1..2 (2): temperature@1, humidity@2"]

"""Broken gateway configs and the exact errors they produce.

Each case is a small room.yaml; the expected lines were worked out by hand from the text
(lines and columns are 1-based, the column of a value is where its first character is).
The tests run inside tmp_path and pass the relative name ``room.yaml``, so that the
expected strings read the way a technician sees them from ``lvgate check room.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

import lvgate.gateway.config as config_module
from lvgate.drivers.modbus import DRIVER as MODBUS
from lvgate.drivers.modbus.driver import ModbusDeviceConfig
from lvgate.drivers.registry import drivers
from lvgate.gateway.config import load_gateway_config
from lvgate.gateway.yaml_source import ConfigError

UNSET = "LVGATE_TEST_UNSET_VAR"


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    expected: list[str]
    env: dict[str, str] = field(default_factory=dict)
    secrets_yaml: str | None = None
    must_not_show: tuple[str, ...] = ()


CASES = [
    Case(
        "unknown-key-in-device",
        "site: HQ\n"
        "room: B1-LV\n"
        "gateway_id: gw-b1\n"
        "devices:\n"
        "  - id: ups-1\n"
        "    driver: modbus\n"
        "    profile: huawei_ups2000\n"
        "    prot: 502\n",
        ["room.yaml:8:5: unknown key 'prot' in device 'ups-1' (did you mean 'port'?)"],
    ),
    Case(
        "unknown-top-level-key",
        "site: HQ\nroom: B1-LV\ngateway_id: gw-b1\nowner: facilities\n",
        ["room.yaml:4:1: unknown key 'owner'"],
    ),
    Case(
        "unknown-nested-key",
        "site: HQ\nroom: B1-LV\ngateway_id: gw-b1\nmqtt:\n  tls:\n    ca_fil: ca.pem\n",
        ["room.yaml:6:5: unknown key 'ca_fil' in 'mqtt.tls' (did you mean 'ca_file'?)"],
    ),
    Case(
        "wrong-type-port",
        "site: HQ\n"
        "room: B1-LV\n"
        "gateway_id: gw-b1\n"
        "devices:\n"
        "  - id: ups-1\n"
        "    driver: modbus\n"
        "    profile: huawei_ups2000\n"
        '    port: "abc"\n',
        ["room.yaml:8:11: bad value for 'port' in device 'ups-1': expected a whole number (got 'abc')"],
    ),
    Case(
        "port-out-of-range",
        "site: HQ\nroom: B1-LV\ngateway_id: gw-b1\nmqtt:\n  host: broker.local\n  port: 70000\n",
        ["room.yaml:6:9: bad value for 'mqtt.port': must be at most 65535 (got 70000)"],
    ),
    Case(
        "number-where-text-expected",
        "site: HQ\nroom: 101\ngateway_id: gw-b1\n",
        ["room.yaml:2:7: bad value for 'room': expected text (got 101); write it in quotes"],
    ),
    Case(
        "bad-gateway-id",
        "site: HQ\nroom: B1-LV\ngateway_id: gw b1\n",
        [
            "room.yaml:3:13: bad value for 'gateway_id': must be 1 to 64 letters, digits, '_', '.' or '-',"
            " starting with a letter or digit (got 'gw b1')"
        ],
    ),
    Case(
        "missing-gateway-id",
        "site: HQ\nroom: B1-LV\nmqtt:\n  host: broker.local\n",
        ["room.yaml:1:1: missing required key 'gateway_id'"],
    ),
    Case(
        "missing-device-profile",
        "site: HQ\nroom: B1-LV\ngateway_id: gw-b1\ndevices:\n  - id: th-1\n    driver: modbus\n    port: 5020\n",
        ["room.yaml:5:5: missing required key 'profile' in device 'th-1'"],
    ),
    Case(
        "device-not-a-mapping",
        "site: HQ\nroom: B1-LV\ngateway_id: gw-b1\ndevices:\n  - ups-1\n",
        ["room.yaml:5:5: device #1 must be a mapping of settings (id, driver, profile, ...), not a single value"],
    ),
    Case(
        "duplicate-device-id",
        "site: HQ\n"
        "room: B1-LV\n"
        "gateway_id: gw-b1\n"
        "devices:\n"
        "  - id: ups-1\n"
        "    driver: modbus\n"
        "    profile: huawei_ups2000\n"
        "  - id: ups-1\n"
        "    driver: modbus\n"
        "    profile: generic_xy_md02\n",
        ["room.yaml:8:9: duplicate device id 'ups-1' (first used at line 5)"],
    ),
    Case(
        "unknown-driver",
        "site: HQ\n"
        "room: B1-LV\n"
        "gateway_id: gw-b1\n"
        "devices:\n"
        "  - id: ups-1\n"
        "    driver: modbuss\n"
        "    profile: huawei_ups2000\n",
        [
            "room.yaml:6:13: unknown driver 'modbuss' in device 'ups-1' (did you mean 'modbus'?);"
            " installed drivers: modbus"
        ],
    ),
    Case(
        "unknown-profile",
        "site: HQ\n"
        "room: B1-LV\n"
        "gateway_id: gw-b1\n"
        "devices:\n"
        "  - id: ups-1\n"
        "    driver: modbus\n"
        "    profile: huawei_ups200\n",
        ["room.yaml:7:14: unknown Modbus profile 'huawei_ups200' in device 'ups-1' (did you mean 'huawei_ups2000'?)"],
    ),
    Case(
        # The profile is still checked when another key of the same device is wrong.
        "unknown-profile-and-unknown-key",
        "site: HQ\n"
        "room: B1-LV\n"
        "gateway_id: gw-b1\n"
        "devices:\n"
        "  - id: ups-1\n"
        "    driver: modbus\n"
        "    profile: huawei_ups200\n"
        "    prot: 502\n",
        [
            "room.yaml:7:14: unknown Modbus profile 'huawei_ups200' in device 'ups-1' (did you mean 'huawei_ups2000'?)",
            "room.yaml:8:5: unknown key 'prot' in device 'ups-1' (did you mean 'port'?)",
        ],
    ),
    Case(
        "missing-env-secret",
        f"site: HQ\nroom: B1-LV\ngateway_id: gw-b1\nmqtt:\n  host: broker.local\n  password: ${{{UNSET}}}\n",
        [f"room.yaml:6:13: environment variable '{UNSET}' is not set"],
    ),
    Case(
        "missing-secret-name",
        "site: HQ\nroom: B1-LV\ngateway_id: gw-b1\nmqtt:\n  username: gw\n  password: !secret mqtt_password\n",
        ["room.yaml:6:13: secret 'mqtt_password' not found in secrets.yaml (did you mean 'mqtt_passwd'?)"],
        secrets_yaml="mqtt_passwd: hunter2\n",
        must_not_show=("hunter2",),
    ),
    Case(
        "missing-secrets-file",
        "site: HQ\nroom: B1-LV\ngateway_id: gw-b1\nmqtt:\n  username: gw\n  password: !secret mqtt_password\n",
        ["room.yaml:6:13: !secret needs secrets.yaml, which does not exist"],
    ),
    Case(
        "missing-secret-file",
        "site: HQ\nroom: B1-LV\ngateway_id: gw-b1\nmqtt:\n  username: gw\n  password: !file mqtt_password.txt\n",
        ["room.yaml:6:13: cannot read secret file mqtt_password.txt: No such file or directory"],
    ),
    Case(
        "tab-indentation",
        "site: HQ\nroom: B1-LV\ngateway_id: gw-b1\nmqtt:\n\thost: broker.local\n",
        ["room.yaml:5:1: tab character in indentation: YAML indents with spaces only"],
    ),
    Case(
        "tab-after-colon",
        "site: HQ\nroom: B1-LV\ngateway_id: gw-b1\nmqtt:\n  port:\t1883\n",
        ["room.yaml:5:8: tab character: YAML expects a space here"],
    ),
    Case(
        "unclosed-quote",
        'site: "HQ\nroom: B1-LV\ngateway_id: gw-b1\n',
        [
            "room.yaml:1:7: YAML syntax error: found unexpected end of stream (while scanning a quoted scalar that starts here)"
        ],
    ),
    Case("empty-file", "", ["room.yaml:1:1: file is empty: expected a mapping of settings"]),
    Case("only-comments", "# nothing yet\n\n", ["room.yaml:1:1: file is empty: expected a mapping of settings"]),
    Case(
        "top-level-list",
        "- site: HQ\n- room: B1-LV\n",
        ["room.yaml:1:1: top level must be a mapping of settings (site, room, gateway_id, mqtt, devices), not a list"],
    ),
    Case(
        # The device error comes second in validation order but first in the file.
        "two-errors-sorted-by-line",
        "site: HQ\n"
        "room: B1-LV\n"
        "devices:\n"
        "  - id: ups-1\n"
        "    driver: modbus\n"
        "    profile: huawei_ups2000\n"
        "    port: 0\n"
        "gateway_id: gw-b1\n"
        "mqtt:\n"
        "  keepalive: 1\n",
        [
            "room.yaml:7:11: bad value for 'port' in device 'ups-1': must be at least 1 (got 0)",
            "room.yaml:10:14: bad value for 'mqtt.keepalive': must be at least 5 (got 1)",
        ],
    ),
    Case(
        # A missing secret does not stop validation; the empty host is not reported twice.
        "missing-env-and-unknown-key",
        f"site: HQ\nroom: B1-LV\ngateway_id: gw-b1\nmqtt:\n  host: ${{{UNSET}}}\n  prot: 1883\n",
        [
            f"room.yaml:5:9: environment variable '{UNSET}' is not set",
            "room.yaml:6:3: unknown key 'prot' in 'mqtt' (did you mean 'port'?)",
        ],
    ),
    Case(
        "duplicate-yaml-key",
        "site: HQ\nroom: B1-LV\ngateway_id: gw-b1\nmqtt:\n  host: broker.local\n  port: 1883\n  port: 1884\n",
        ["room.yaml:7:3: duplicate key 'port' (first given at line 6)"],
    ),
    Case(
        # Values that come from the environment or from secrets.yaml are never echoed.
        "secret-values-not-echoed",
        "site: HQ\n"
        "room: B1-LV\n"
        "gateway_id: gw-b1\n"
        "mqtt:\n"
        "  port: ${LVGATE_TEST_MQTT_PORT}\n"
        "  password: !secret mqtt_password\n",
        [
            "room.yaml:5:9: bad value for 'mqtt.port': expected a whole number",
            "room.yaml:6:13: bad value for 'mqtt.password': expected text; quote it in secrets.yaml",
        ],
        env={"LVGATE_TEST_MQTT_PORT": "hunter2-port"},
        secrets_yaml="mqtt_password: 31415926\n",
        must_not_show=("hunter2", "31415926"),
    ),
    Case(
        # A password written in clear is still never printed back.
        "clear-password-not-echoed",
        "site: HQ\nroom: B1-LV\ngateway_id: gw-b1\nmqtt:\n  password: 27182818\n",
        ["room.yaml:5:13: bad value for 'mqtt.password': expected text; write it in quotes"],
        must_not_show=("27182818",),
    ),
]


@pytest.fixture
def room(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in tmp_path with a known environment and exactly the modbus driver installed."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(UNSET, raising=False)
    monkeypatch.delenv("LVGATE_DATA_DIR", raising=False)
    # Other drivers may be installed later; the expected "installed drivers" list must not move.
    monkeypatch.setattr(config_module, "drivers", lambda: {"modbus": MODBUS})
    return tmp_path


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 14
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_broken_config(case: Case, room: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (room / "room.yaml").write_text(case.text, encoding="utf-8")
    if case.secrets_yaml is not None:
        (room / "secrets.yaml").write_text(case.secrets_yaml, encoding="utf-8")
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError) as caught:
        load_gateway_config("room.yaml")

    assert [str(p) for p in caught.value.problems] == case.expected
    assert str(caught.value) == "\n".join(case.expected)
    for secret in case.must_not_show:
        assert secret not in str(caught.value)


def test_absolute_path_is_the_display_name(room: Path) -> None:
    path = room / "room.yaml"
    path.write_text("site: HQ\nroom: B1-LV\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_gateway_config(str(path))
    assert [str(p) for p in caught.value.problems] == [f"{path}:1:1: missing required key 'gateway_id'"]


def test_modbus_driver_is_found_through_its_entry_point() -> None:
    assert drivers()["modbus"] is MODBUS


VALID = """\
# Equipment room B1, low-voltage systems.
site: HQ
room: B1-LV
gateway_id: gw-b1
mqtt:
  host: ${LVGATE_TEST_BROKER:-broker.local}
  port: 8883
  username: ${LVGATE_TEST_MQTT_USER}
  password: !secret mqtt_password
  protocol: 5
  tls:
    ca_file: !file ca_path.txt
devices:
  - id: ups-1
    name: UPS 1 (rack A)
    driver: modbus
    profile: huawei_ups2000
    host: 10.0.0.5
  - id: th-1
    driver: modbus
    profile: generic_xy_md02
    port: 5020
    unit: 2
    poll_interval: 2.5
"""


def test_valid_config_loads(room: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LVGATE_TEST_BROKER", raising=False)
    monkeypatch.setenv("LVGATE_TEST_MQTT_USER", "gateway-b1")
    (room / "room.yaml").write_text(VALID, encoding="utf-8")
    (room / "secrets.yaml").write_text('mqtt_password: "s3cr3t pass"\n', encoding="utf-8")
    (room / "ca_path.txt").write_text("/etc/ssl/room-ca.pem\n", encoding="utf-8")

    config = load_gateway_config("room.yaml")

    settings = config.settings
    assert (settings.site, settings.room, settings.gateway_id) == ("HQ", "B1-LV", "gw-b1")
    mqtt = settings.mqtt
    assert mqtt.host == "broker.local"  # the ${VAR:-default} default
    assert mqtt.port == 8883
    assert mqtt.username == "gateway-b1"  # from the environment
    assert mqtt.password is not None
    assert mqtt.password.get_secret_value() == "s3cr3t pass"  # from secrets.yaml
    assert "s3cr3t" not in repr(settings)
    assert mqtt.protocol == "5"  # YAML's number 5, taken as the version word
    assert mqtt.tls is not None
    assert mqtt.tls.ca_file == Path("/etc/ssl/room-ca.pem")  # !file, stripped
    assert mqtt.keepalive == 30

    ups, th = config.devices
    assert isinstance(ups, ModbusDeviceConfig)
    assert isinstance(th, ModbusDeviceConfig)
    assert (ups.id, ups.display_name, ups.profile, ups.host, ups.port, ups.unit) == (
        "ups-1",
        "UPS 1 (rack A)",
        "huawei_ups2000",
        "10.0.0.5",
        502,
        1,
    )
    assert ups.poll_interval == 10.0
    assert (th.id, th.display_name, th.profile, th.host, th.port, th.unit) == (
        "th-1",
        "th-1",
        "generic_xy_md02",
        "127.0.0.1",
        5020,
        2,
    )
    assert th.poll_interval == 2.5
    assert config.driver_of(ups) is MODBUS
    assert config.state_dir == (room / "var").resolve()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("from-env.local", "from-env.local"), ("", "broker.local")],
    ids=["set", "set-but-empty"],
)
def test_env_default_applies_when_unset_or_empty(
    room: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv("LVGATE_TEST_BROKER", value)
    (room / "room.yaml").write_text(
        "site: HQ\nroom: B1-LV\ngateway_id: gw-b1\nmqtt:\n  host: ${LVGATE_TEST_BROKER:-broker.local}\n",
        encoding="utf-8",
    )
    assert load_gateway_config("room.yaml").settings.mqtt.host == expected


def test_broken_secrets_file_is_not_quoted(room: Path) -> None:
    (room / "room.yaml").write_text(
        "site: HQ\nroom: B1-LV\ngateway_id: gw-b1\nmqtt:\n  username: gw\n  password: !secret mqtt_password\n",
        encoding="utf-8",
    )
    (room / "secrets.yaml").write_text('other: x\nmqtt_password: "hunter2\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_gateway_config("room.yaml")
    # The unclosed quote opens on line 2 of secrets.yaml; what follows it stays out of the message.
    assert [str(p) for p in caught.value.problems] == ["room.yaml:6:13: secrets.yaml is not valid YAML at line 2"]
    assert "hunter2" not in str(caught.value)

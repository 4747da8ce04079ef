"""Home Assistant discovery: every device class passes the documented rules; so do the real fixtures."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lvgate.mqtt_schema import discovery, examples
from lvgate.mqtt_schema.vocabulary import vocabulary
from tests.ha_discovery_rules import check_discovery, deprecations, expand
from tests.shared_fixtures import fixtures_root

GW, BASE = "gw-b1", "lvgate"


def _device(
    device_class: str, keys: list[str] | None = None, name: str = "UPS / #1 机房 B1"
) -> tuple[str, dict[str, Any]]:
    return discovery.device_config(
        gateway_id=GW,
        base_topic=BASE,
        device_id="dev-1",
        display_name=name,
        device_class=device_class,
        entity_keys=keys if keys is not None else list(vocabulary()[device_class].entities),
        identity={"manufacturer": "Huawei", "model": "UPS2000-G", "serial": "2102", "firmware": None},
    )


@pytest.mark.parametrize("device_class", sorted(vocabulary()))
def test_every_device_class_gives_a_config_home_assistant_accepts(device_class: str) -> None:
    topic, payload = _device(device_class)
    assert check_discovery(topic, payload) == []
    assert deprecations(payload) == []
    assert topic == "homeassistant/device/lvgate_gw-b1_dev-1/config"
    entities = vocabulary()[device_class].entities
    components = payload["cmps"]
    assert len(components) == len(entities)
    for key, kind in entities.items():
        c = components[key]
        assert c["p"] == ("binary_sensor" if kind.type == "bool" else "sensor")
        assert c["unique_id"] == f"lvgate:gw-b1:dev-1:{key}"
        assert c["default_entity_id"] == f"{c['p']}.lvgate_gw_b1_dev_1_{key}"
        assert c["state_topic"] == "lvgate/gw-b1/dev-1/state"
        assert c.get("entity_category") == kind.ha.get("entity_category")
        if kind.type == "enum":
            assert (c["device_class"], c["options"]) == ("enum", list(kind.states))
        else:
            assert c.get("unit_of_measurement") == (kind.unit if kind.type != "bool" else None)


def test_device_block_links_to_the_gateway_and_keeps_the_display_name() -> None:
    _, payload = _device("ups")
    assert payload["dev"] == {
        "ids": ["lvgate_gw-b1_dev-1"],
        "name": "UPS / #1 机房 B1",
        "via_device": "lvgate_gw-b1",
        "mf": "Huawei",
        "mdl": "UPS2000-G",
        "sn": "2102",
    }
    _, gateway = discovery.gateway_config(gateway_id=GW, base_topic=BASE)
    assert gateway["dev"]["ids"] == [payload["dev"]["via_device"]]
    assert payload["o"]["name"] == "lvgate" and payload["o"]["sw"]
    assert payload["availability_mode"] == "all"
    assert [a["topic"] for a in payload["availability"]] == [
        "lvgate/gw-b1/bridge/state",
        "lvgate/gw-b1/dev-1/availability",
    ]


def test_ids_never_come_from_the_display_name() -> None:
    topic_a, a = _device("env_sensor", name="Room sensor")
    topic_b, b = _device("env_sensor", name="温湿度 / #2 + rack")
    assert topic_a == topic_b
    assert [c["unique_id"] for c in a["cmps"].values()] == [c["unique_id"] for c in b["cmps"].values()]
    assert [c["default_entity_id"] for c in a["cmps"].values()] == [c["default_entity_id"] for c in b["cmps"].values()]


def test_ids_with_characters_home_assistant_refuses_are_made_safe_and_stay_distinct() -> None:
    topic, payload = discovery.device_config(
        gateway_id="gw.1",
        base_topic=BASE,
        device_id="ups.1",
        display_name="x",
        device_class="switch",
        entity_keys=["temperature.1010", "psu_status.2_1_1_0"],
    )
    assert check_discovery(topic, payload) == []
    node = topic.split("/")[2]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", node)
    assert node != discovery.node_id("gw_1", "ups_1")
    assert payload["cmps"]["temperature_1010_" + discovery.object_id("temperature.1010")[-8:]]["name"] == (
        "Temperature 1010"
    )


@given(st.text(min_size=1, max_size=40))
def test_object_ids_hold_only_the_characters_home_assistant_allows(text: str) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]+", discovery.object_id(text))
    # Home Assistant's entity id rule: lowercase, digits, '_', no '__', no '_' at either end.
    assert re.fullmatch(r"(?!_)(?!.*__)[a-z0-9_]+(?<!_)", discovery.entity_slug("lvgate", text))


def test_gateway_config_reads_uptime_and_queue_from_health() -> None:
    topic, payload = discovery.gateway_config(gateway_id=GW, base_topic=BASE, room="B1 机房")
    assert topic == "homeassistant/device/lvgate_gw-b1/config"
    assert check_discovery(topic, payload) == []
    assert set(payload["cmps"]) == set(vocabulary()["gateway"].entities)
    assert {c["state_topic"] for c in payload["cmps"].values()} == {"lvgate/gw-b1/bridge/health"}
    assert {c["entity_category"] for c in payload["cmps"].values()} == {"diagnostic"}
    assert payload["dev"]["sa"] == "B1 机房"


def test_a_removed_device_is_cleared_on_its_own_topic() -> None:
    topic, _ = _device("ups")
    assert discovery.clear_device(GW, "dev-1") == (topic, b"")


def test_an_unknown_entity_key_is_refused() -> None:
    with pytest.raises(KeyError):
        _device("ups", ["leak"])


# --- templates, rendered with Jinja (the engine Home Assistant uses) on real payloads ----------


def _render(template: str, payload: dict[str, Any]) -> str:
    jinja2 = pytest.importorskip("jinja2", reason="jinja2 renders the templates as Home Assistant would")
    return str(jinja2.Environment().from_string(template).render(value_json=payload))


def test_value_templates_read_the_state_payload() -> None:
    _, state = examples.examples()["state"]  # output_voltage 229.8, on_battery false, temperature bad
    keys = ["output_voltage", "on_battery", "battery_temperature", "power_mode", "input_voltage"]
    _, payload = _device("ups", keys)
    rendered = {key: _render(payload["cmps"][key]["value_template"], state) for key in keys}
    assert rendered == {
        "output_voltage": "229.8",
        "on_battery": "OFF",
        "battery_temperature": "None",  # null -> unknown
        "power_mode": "online",
        "input_voltage": "None",  # not in the state yet -> unknown
    }
    state["values"]["on_battery"] = True
    assert _render(payload["cmps"]["on_battery"]["value_template"], state) == "ON"


def test_availability_templates_read_the_json_state() -> None:
    _, payload = _device("ups", ["load"])
    for entry in payload["availability"]:
        assert _render(entry["value_template"], {"schema_version": 1, "state": "offline"}) == "offline"


def test_gateway_templates_read_the_health_payload() -> None:
    _, health = examples.examples()["bridge_health"]
    _, payload = discovery.gateway_config(gateway_id=GW, base_topic=BASE)
    assert _render(payload["cmps"]["uptime"]["value_template"], health) == "3600.0"
    assert _render(payload["cmps"]["queue_depth"]["value_template"], health) == "0"


# --- the checker itself: the real fixtures pass, broken configs do not ----------------------------


def _fixture_files() -> list[Path]:
    return sorted((fixtures_root() / "mqtt").glob("*.json"))


@pytest.mark.parametrize("path", _fixture_files() or [None], ids=lambda p: p.name if p else "absent")
def test_real_discovery_payloads_pass_the_checker(path: Path | None) -> None:
    if path is None:
        pytest.skip(f"no MQTT fixtures in {fixtures_root() / 'mqtt'} (set LVGATE_FIXTURES)")
    fixture = json.loads(path.read_text(encoding="utf-8"))
    # The HA docs leave the object id of some example topics open as "<object_id>" (see SOURCES.md).
    topic = fixture["topic"].replace("<object_id>", "example")
    assert fixture["retain"] is True
    assert check_discovery(topic, fixture["payload"]) == []


def test_abbreviations_are_expanded() -> None:
    expanded = expand({"dev": {"ids": "x", "mf": "m"}, "o": {"name": "n", "url": "u"}, "cmps": {"a": {"p": "sensor"}}})
    assert expanded == {
        "device": {"identifiers": "x", "manufacturer": "m"},
        "origin": {"name": "n", "support_url": "u"},
        "components": {"a": {"platform": "sensor"}},
    }


def _broken(mutate: Any) -> list[str]:
    topic, payload = _device("env_sensor", ["temperature", "humidity"])
    result = mutate(payload)
    if isinstance(result, tuple):  # a mutation that replaces the topic
        topic = result[0]
    return check_discovery(topic, payload)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda p: p["cmps"]["temperature"].update(unit_of_measurement="C"), "device class 'temperature' takes"),
        (lambda p: p["cmps"]["humidity"].update(state_class="average"), "'average' is not a state class"),
        (lambda p: p["cmps"]["humidity"].update(device_class="wetness"), "'wetness' is not a sensor device class"),
        (lambda p: p["cmps"]["humidity"].update(options=["a"]), "options need device_class enum"),
        (lambda p: p["cmps"]["humidity"].pop("state_topic"), "sensor needs a state_topic"),
        (lambda p: p["cmps"]["humidity"].pop("unique_id"), "an entity component needs a unique_id"),
        (lambda p: p["cmps"]["humidity"].update(p="light_bulb"), "platform must be a supported platform"),
        (lambda p: p["cmps"]["humidity"].update(dev={"ids": ["x"]}), "device cannot be set per component"),
        (lambda p: p["cmps"]["humidity"].update(unique_id="lvgate:gw-b1:dev-1:temperature"), "already used"),
        (lambda p: p["cmps"]["humidity"].update(default_entity_id="binary_sensor.x"), "default_entity_id must be"),
        (lambda p: p["cmps"]["humidity"].update(entity_category="hidden"), "entity_category must be"),
        (lambda p: p["cmps"]["humidity"].update(value_template="{{ value_json['x' }}"), "template syntax error"),
        (lambda p: p.pop("o"), "device discovery needs origin"),
        (lambda p: p["o"].pop("name"), "origin needs a name"),
        (lambda p: p["dev"].pop("ids"), "device needs at least one of identifiers or connections"),
        (lambda p: p.update(availability_mode="most"), "availability_mode must be one of"),
        (lambda p: p["availability"][1].pop("topic"), "availability[1] needs a topic"),
        (lambda p: p.update(availability_topic="x"), "must not be used together with availability_topic"),
        (lambda p: p["cmps"].update({"a b": {"p": "sensor", "unique_id": "u", "state_topic": "t"}}), "component id"),
        (lambda p: p["cmps"].update(x={"p": "sensor"}), "needs at least one option besides platform"),
        (lambda p: ("homeassistant/device/lvgate.gw/config",), "may only hold [a-zA-Z0-9_-]"),
        (lambda p: ("homeassistant/gadget/x/config",), "'gadget' is not a discovery component"),
    ],
)
def test_the_checker_catches_what_home_assistant_refuses(mutate: Any, expected: str) -> None:
    problems = _broken(mutate)
    assert any(expected in problem for problem in problems), problems


def test_the_checker_catches_wrong_binary_sensor_classes_and_enum_units() -> None:
    topic, payload = _device("access_controller", ["door_open"])
    payload["cmps"]["door_open"]["device_class"] = "temperature"
    assert check_discovery(topic, payload) == [
        "components.door_open: 'temperature' is not a binary_sensor device class"
    ]
    topic, payload = _device("switch", ["psu_status"])
    payload["cmps"]["psu_status"]["unit_of_measurement"] = "%"
    problems = check_discovery(topic, payload)
    assert any("options cannot be used with state_class or unit_of_measurement" in p for p in problems), problems

"""JSON Schemas of the MQTT contract: examples validate, wrong payloads are refused with their JSON path."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from lvgate.mqtt_schema import examples, payloads
from lvgate.mqtt_schema.catalog import COMMANDS
from lvgate.mqtt_schema.schemas import schemas
from lvgate.mqtt_schema.validate import schema_for_topic, validate_document, validate_message, validator
from lvgate.mqtt_schema.vocabulary import EntityKind, vocabulary
from lvgate.reading import Quality, Reading, Value

BASE = "lvgate"
TELEMETRY = "lvgate/gw-b1/ups-1/telemetry"


def _telemetry(**readings: dict[str, Any]) -> dict[str, Any]:
    """A UPS telemetry message written out by hand, with the given readings."""
    return {
        "schema_version": 1,
        "ts": "2026-03-01T08:15:00.250Z",
        "site": "Tower B",
        "room": "B1",
        "gateway": "gw-b1",
        "device": "ups-1",
        "device_class": "ups",
        "readings": readings,
    }


def _check(document: dict[str, Any], topic: str = TELEMETRY) -> list[str]:
    return validate_message(BASE, topic, json.dumps(document, ensure_ascii=False).encode())


def test_every_schema_is_a_valid_draft_2020_12_schema() -> None:
    for name, schema in schemas().items():
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name
        assert schema["properties"]["schema_version"] == {"const": 1, "description": "payload schema version, always 1"}


def test_every_schema_has_an_example_on_its_own_topic_and_it_validates() -> None:
    found = examples.examples()
    assert set(found) == set(schemas())
    for name, (topic, payload) in found.items():
        assert schema_for_topic(BASE, topic) == name
        assert validate_message(BASE, topic, payloads.dumps(payload)) == [], name
    assert validate_document("bridge_response_poll_now", examples.error_response()) == []


def test_hand_written_telemetry_validates() -> None:
    document = _telemetry(
        output_voltage={"v": 229.8, "q": "good", "u": "V"},
        ports_up={"v": 3, "q": "good"},
    )
    # ports_up belongs to the switch class, not to a UPS
    assert _check(document) == ["$.readings: unknown key(s) 'ports_up'"]
    del document["readings"]["ports_up"]
    document["readings"]["on_battery"] = {"v": True, "q": "good"}
    document["readings"]["power_mode"] = {"v": "on_battery", "q": "good"}
    document["readings"]["battery_temperature"] = {"v": None, "q": "bad", "ts": "2026-03-01T08:15:00.370Z"}
    assert _check(document) == []


@pytest.mark.parametrize(
    ("reading", "expected"),
    [
        ({"output_voltage": {"v": "229", "q": "good"}}, "$.readings.output_voltage.v: '229' is not of type"),
        ({"on_battery": {"v": 1.0, "q": "good"}}, "$.readings.on_battery.v: 1.0 is not of type 'boolean', 'null'"),
        ({"power_mode": {"v": "running", "q": "good"}}, "$.readings.power_mode.v: 'running' is not one of"),
        ({"load": {"v": 12.0, "q": "good", "u": "pct"}}, "$.readings.load.u: '%' was expected"),
        ({"load": {"v": 12.0, "q": "fine"}}, "$.readings.load.q: 'fine' is not one of"),
        ({"load": {"v": 12.0, "q": "bad"}}, "$.readings.load.v: 12.0 is not of type 'null'"),
        ({"load": {"v": None, "q": "good"}}, "$.readings.load.q: 'good' is not one of ['uncertain', 'bad']"),
        ({"load": {"v": 1.0, "q": "good", "x": 1}}, "$.readings.load: unknown key(s) 'x'"),
        ({"load": {"q": "good"}}, "$.readings.load: 'v' is a required property"),
        ({"on_battery": {"v": True, "q": "good", "u": "V"}}, "$.readings.on_battery: unknown key(s) 'u'"),
    ],
)
def test_wrong_readings_are_refused_naming_the_path(reading: dict[str, Any], expected: str) -> None:
    problems = _check(_telemetry(**reading))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


def test_instance_keys_take_the_type_and_unit_of_their_base_key() -> None:
    assert _check(_telemetry(**{"temperature.1010": {"v": 31.5, "q": "good", "u": "°C"}})) == []
    problems = _check(_telemetry(**{"temperature.1010": {"v": True, "q": "good"}}))
    assert problems and problems[0].startswith("$.readings['temperature.1010'].v: True is not of type")


@pytest.mark.parametrize(
    "ts",
    ["2026-03-01T08:15:00Z", "2026-03-01T08:15:00.250+00:00", "2026-03-01 08:15:00.250Z", "2026-13-01T08:15:00.250Z"],
)
def test_times_must_be_utc_iso_8601_with_milliseconds(ts: str) -> None:
    document = _telemetry(load={"v": 1.0, "q": "good"})
    document["ts"] = ts
    problems = _check(document)
    assert len(problems) == 1 and problems[0].startswith(f"$.ts: '{ts}' does not match"), problems


@given(st.integers(min_value=0, max_value=253_402_300_799_999))
def test_every_time_the_gateway_writes_matches_the_schema(ts_ms: int) -> None:
    document = payloads.availability(True, ts_ms)
    assert validate_document("availability", document) == []


def _value_for(kind: EntityKind) -> st.SearchStrategy[Any]:
    if kind.type == "float":
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if kind.type == "int":
        return st.integers(min_value=-(2**31), max_value=2**31)
    if kind.type == "bool":
        return st.booleans()
    return st.sampled_from(kind.states)


@st.composite
def _device_readings(draw: st.DrawFn) -> tuple[str, list[Reading]]:
    name = draw(st.sampled_from(sorted(vocabulary())))
    entities = vocabulary()[name].entities
    keys = draw(st.lists(st.sampled_from(sorted(entities)), min_size=1, max_size=6, unique=True))
    readings = []
    for key in keys:
        ts = draw(st.integers(min_value=1_600_000_000_000, max_value=1_900_000_000_000))
        if draw(st.booleans()):
            readings.append(Reading("dev-1", key, draw(_value_for(entities[key])), ts))
        else:
            readings.append(Reading("dev-1", key, None, ts, Quality.BAD))
    return name, readings


@settings(max_examples=200, deadline=None)
@given(_device_readings())
def test_whatever_the_builders_make_from_vocabulary_readings_validates(case: tuple[str, list[Reading]]) -> None:
    device_class, readings = case
    units = {r.key: vocabulary()[device_class].entities[r.key].unit for r in readings}
    telemetry = payloads.telemetry(
        site="s", room="r", gateway="gw", device="dev-1", device_class=device_class, readings=readings, units=units
    )
    assert validate_message(BASE, "lvgate/gw/dev-1/telemetry", payloads.dumps(telemetry)) == []
    latest = {r.key: (r.value, r.ts_ms, r.quality) for r in readings}
    state = payloads.state("dev-1", latest, device_class=device_class)
    assert validate_message(BASE, "lvgate/gw/dev-1/state", payloads.dumps(state)) == []


@st.composite
def _odd_readings(draw: st.DrawFn) -> list[Reading]:
    """Readings of any value type and quality, with repeated keys and instance keys."""
    keys = st.sampled_from(["load", "temperature", "temperature.1010", "ups_model", 'ключ "q"', "on_battery"])
    values = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=8),
    )
    ts = st.integers(min_value=1_600_000_000_000, max_value=1_600_000_003_000)
    qualities = st.sampled_from(list(Quality))
    return [
        Reading("dev-1", draw(keys), draw(values), draw(ts), draw(qualities))
        for _ in range(draw(st.integers(min_value=1, max_value=8)))
    ]


@settings(max_examples=300, deadline=None)
@given(_odd_readings(), st.booleans())
def test_device_encoder_writes_what_dumps_writes(readings: list[Reading], with_class: bool) -> None:
    """The gateway's per-device encoder against the plain builders and json.dumps."""
    units: dict[str, str | None] = {"load": "%", "temperature": "°C", "on_battery": None}
    head = {"site": "hq \u2013 B1", "room": 'room "1"', "gateway": "gw", "device": "dev-1", "device_class": "ups"}
    encoder = payloads.DeviceEncoder(units=units, **head)
    telemetry = payloads.telemetry(readings=readings, units=units, **head)
    assert encoder.telemetry(readings) == json.dumps(telemetry, ensure_ascii=False, separators=(",", ":")).encode()
    latest = {r.key: (r.value, r.ts_ms, r.quality) for r in readings}
    state = payloads.state("dev-1", latest, device_class="ups" if with_class else None)
    assert encoder.state(latest, with_class) == json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode()
    # Later values that telemetry did not carry (a deadband held them back), equal or not.
    changed: dict[str, tuple[Value, int, Quality]] = {
        k: (0 if isinstance(v, float) else 0.0, ts, q) for k, (v, ts, q) in latest.items()
    }
    state = payloads.state("dev-1", changed, device_class="ups" if with_class else None)
    assert encoder.state(changed, with_class) == json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode()


def test_device_encoder_refuses_what_json_refuses() -> None:
    encoder = payloads.DeviceEncoder(site="s", room="r", gateway="g", device="d", device_class="ups", units={})
    with pytest.raises(ValueError):
        encoder.telemetry([Reading("d", "load", math.inf, 1_600_000_000_000)])


def test_state_values_are_checked_per_device_class() -> None:
    state = {
        "schema_version": 1,
        "ts": "2026-03-01T08:15:00.250Z",
        "device": "ups-1",
        "device_class": "ups",
        "values": {"load": 40.0, "power_mode": "eco", "leak": True},
        "quality": {"load": "good"},
    }
    problems = _check(state, "lvgate/gw-b1/ups-1/state")
    assert problems == ["$.quality.load: 'good' is not one of ['uncertain', 'bad']", "$.values: unknown key(s) 'leak'"]


def test_events_must_use_the_event_words_of_their_class() -> None:
    topic, event = examples.examples()["events"]
    event["event"] = "door_forced"  # an access controller's word, not a UPS's
    problems = _check(event, topic)
    assert len(problems) == 1 and problems[0].startswith("$.event: 'door_forced' is not one of [")
    assert "'on_battery'" in problems[0] and problems[0].endswith("(event words of ups)")
    event["event"], event["severity"] = "on_battery", "fatal"
    assert _check(event, topic)[0].startswith("$.severity: 'fatal' is not one of")


def test_alarm_levels_and_states_are_the_contract_s() -> None:
    topic, alarms = examples.examples()["alarms"]
    alarms["alarms"][0]["level"] = "V"
    alarms["alarms"][0]["state"] = "open"
    del alarms["alarms"][0]["raised"]
    assert _check(alarms, topic) == [
        "$.alarms[0]: 'raised' is a required property",
        "$.alarms[0].level: 'V' is not one of ['I', 'II', 'III', 'IV'] (fault level of the maintenance contract)",
        "$.alarms[0].state: 'open' is not one of ['raised', 'acknowledged', 'cleared']",
    ]
    assert _check({"schema_version": 1, "ts": "2026-03-01T08:15:00.250Z", "device": "ups-1", "alarms": []}, topic) == []


def test_responses_carry_data_when_ok_and_an_error_otherwise() -> None:
    topic = "lvgate/gw-b1/bridge/response/list_devices"
    ok = {"schema_version": 1, "transaction": "t1", "status": "ok"}
    assert _check(ok, topic) == ["$: 'data' is a required property"]
    failed = {"schema_version": 1, "transaction": None, "status": "error"}
    assert _check(failed, topic) == ["$: 'error' is a required property"]
    request_topic = "lvgate/gw-b1/bridge/request/poll_now"
    assert _check({"transaction": "t2", "device": "ups-1"}, request_topic) == []
    assert _check({"device": "ups-1"}, request_topic) == ["$: 'transaction' is a required property"]


def test_topics_map_to_their_schemas() -> None:
    assert schema_for_topic(BASE, "lvgate/gw/bridge/state") == "bridge_state"
    assert schema_for_topic(BASE, "lvgate/gw/bridge/health") == "bridge_health"
    assert schema_for_topic(BASE, "lvgate/gw/dev/alarms") == "alarms"
    assert schema_for_topic(BASE, "lvgate/gw/dev/info") == "device_info"
    for command in COMMANDS:
        assert schema_for_topic(BASE, f"lvgate/gw/bridge/request/{command}") == f"bridge_request_{command}"
        assert schema_for_topic(BASE, f"lvgate/gw/bridge/response/{command}") == f"bridge_response_{command}"
    assert schema_for_topic("site/b/lvgate", "site/b/lvgate/gw/dev/telemetry") == "telemetry"
    for other in ("other/gw/dev/telemetry", "lvgate/gw/dev", "lvgate/gw/dev/telemetry/x", "lvgate/gw/bridge/foo"):
        assert schema_for_topic(BASE, other) is None


def test_messages_that_are_not_json_or_not_ours_are_reported() -> None:
    assert validate_message(BASE, "lvgate/gw/dev/state", b"\xff\xfe") == ["$: payload is not UTF-8 (byte 0)"]
    assert validate_message(BASE, "lvgate/gw/dev/state", b'{"a":') == [
        "$: payload is not JSON: Expecting value at line 1 column 6"
    ]
    assert validate_message(BASE, "lvgate/gw/dev/state", b"[]") == ["$: [] is not of type 'object'"]
    assert validate_message(BASE, "lvgate/gw/bridge/request/poll", b"{}") == [
        "topic 'lvgate/gw/bridge/request/poll': unknown command 'poll' (did you mean 'poll_now'?)"
    ]
    assert validate_message(BASE, "x/y", b"{}") == ["topic 'x/y' is not an lvgate topic under base 'lvgate'"]


def test_an_empty_payload_clears_a_retained_topic_but_is_no_message_elsewhere() -> None:
    assert validate_message(BASE, "lvgate/gw/dev/state", b"") == []
    assert validate_message(BASE, "lvgate/gw/bridge/info", b"") == []
    assert validate_message(BASE, "lvgate/gw/dev/telemetry", b"") == [
        "topic 'lvgate/gw/dev/telemetry': empty payload (telemetry is not retained)"
    ]


def test_payload_ids_must_match_the_topic() -> None:
    topic, telemetry = examples.examples()["telemetry"]
    assert _check(telemetry, topic.replace("gw-b1", "gw-b2")) == [
        "$.gateway: 'gw-b1' is not the topic's gateway 'gw-b2'"
    ]


def test_validators_are_built_once() -> None:
    assert validator("telemetry") is validator("telemetry")


def test_every_state_word_is_text() -> None:
    # YAML reads a bare off/on/yes/no as a boolean: such a state could never validate.
    for name, dc in vocabulary().items():
        for key, kind in dc.entities.items():
            assert all(isinstance(s, str) for s in kind.states), f"{name}.{key}: {kind.states}"
    assert _check(_telemetry(power_mode={"v": "off", "q": "good"})) == []

"""Line protocol escaping and the vocabulary's fixed field types."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lvgate.collector.line_protocol import encode_point, series_head
from lvgate.collector.points import PayloadError, Point, telemetry_points


def test_escaping_of_tags_measurement_and_strings() -> None:
    point = Point(
        "ups",
        {"room": "B1 机房, east=1", "device": "ups-1"},
        {"value_str": 'on "battery" \\ now'},
        1_700_000_000_123,
    )
    assert encode_point(point) == (
        'ups,device=ups-1,room=B1\\ 机房\\,\\ east\\=1 value_str="on \\"battery\\" \\\\ now" 1700000000123'
    )


def test_numbers_are_always_floats_and_bools_are_bools() -> None:
    assert encode_point(Point("m", {}, {"value": 1.0}, 5)) == "m value=1.0 5"
    assert encode_point(Point("m", {}, {"value_bool": False}, 5)) == "m value_bool=false 5"


def _message(value: object, key: str = "battery_charge", device_class: str = "ups") -> dict[str, object]:
    return {
        "schema_version": 1,
        "ts": "2026-12-03T10:00:00.000Z",
        "site": "hq",
        "room": "B1",
        "gateway": "gw",
        "device": "ups-1",
        "device_class": device_class,
        "readings": {key: {"v": value, "q": "good"}},
    }


def test_int_then_float_are_both_stored_as_float() -> None:
    first = telemetry_points(_message(1))[0]
    second = telemetry_points(_message(1.5))[0]
    assert first.fields == {"value": 1.0} and isinstance(first.fields["value"], float)
    assert second.fields == {"value": 1.5}
    assert encode_point(first).split(" ")[1] == "value=1.0"


def test_timestamp_and_tags_come_from_the_message() -> None:
    point = telemetry_points(_message(97.0))[0]
    assert point.ts_ms == 1_796_292_000_000  # 2026-12-03T10:00:00Z, worked out from the calendar
    assert point.tags == {
        "site": "hq",
        "room": "B1",
        "gateway": "gw",
        "device": "ups-1",
        "device_class": "ups",
        "entity": "battery_charge",
        "unit": "%",
    }


@pytest.mark.parametrize(
    ("value", "reason"),
    [("97", "expected a number"), (True, "expected a number")],
)
def test_wrong_types_are_rejected(value: object, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        telemetry_points(_message(value))


def test_unknown_entity_is_rejected() -> None:
    with pytest.raises(PayloadError, match="not in the vocabulary"):
        telemetry_points(_message(1.0, key="flux_capacitor"))


@given(st.sampled_from([math.nan, math.inf, -math.inf]))
def test_nan_and_infinity_never_become_fields(value: float) -> None:
    point = telemetry_points(_message(value))[0]
    assert point.fields == {"quality": "good"}
    assert "nan" not in encode_point(point).lower() and "inf" not in encode_point(point).lower()


def test_bad_quality_without_value_keeps_the_point_with_its_quality() -> None:
    message = _message(None)
    message["readings"] = {"battery_charge": {"v": None, "q": "bad"}}
    assert telemetry_points(message)[0].fields == {"quality": "bad"}


def test_per_sensor_keys_take_the_type_and_unit_of_their_base_key() -> None:
    message = _message(41.5, key="temperature.1010", device_class="switch")
    point = telemetry_points(message)[0]
    assert point.fields == {"value": 41.5}
    assert point.tags["entity"] == "temperature.1010" and point.tags["unit"] == "°C"


def test_series_head_sorts_tags_escapes_and_leaves_out_empty_ones() -> None:
    tags = {"site": "hq 1", "room": "", "device": "ups,1", "entity": "a=b"}
    assert series_head("ups x", tags) == "ups\\ x,device=ups\\,1,entity=a\\=b,site=hq\\ 1"


def test_a_telemetry_point_as_a_line() -> None:
    # Worked out by hand: tags sorted by key, '%' needs no escaping, 97 written as a float.
    point = telemetry_points(_message(97))[0]
    assert encode_point(point) == (
        "ups,device=ups-1,device_class=ups,entity=battery_charge,gateway=gw,room=B1,site=hq,unit=% "
        "value=97.0 1796292000000"
    )


def test_uncertain_quality_is_a_second_field() -> None:
    message = _message(12.25)
    message["readings"] = {"battery_charge": {"v": 12.25, "q": "uncertain"}}
    point = telemetry_points(message)[0]
    assert encode_point(point).endswith(' value=12.25,quality="uncertain" 1796292000000')


def test_points_of_one_series_share_the_head_and_equal_a_point_built_by_hand() -> None:
    first, second = telemetry_points(_message(1.5))[0], telemetry_points(_message(2.5))[0]
    assert first.head is not None and first.head is second.head
    by_hand = Point("ups", dict(first.tags), {"value": 1.5}, 1_796_292_000_000)
    assert first == by_hand and encode_point(by_hand) == encode_point(first)

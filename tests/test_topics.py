"""Topic segments built from ids cannot break the topic tree."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lvgate.mqtt_schema.payloads import iso_ms, parse_iso_ms
from lvgate.mqtt_schema.topics import Topics, parse_device_topic, sanitize_segment


def test_wildcards_separators_and_controls_are_replaced() -> None:
    assert sanitize_segment("ups/1 #2+x") == "ups_1 _2_x"
    assert sanitize_segment("a\x00b\x1fc\x7f") == "a_b_c_"
    assert sanitize_segment("机房-1") == "机房-1"
    assert sanitize_segment("$SYS") == "_$SYS"
    assert sanitize_segment("") == "_"


@given(st.text())
def test_sanitized_segment_is_always_one_safe_level(text: str) -> None:
    segment = sanitize_segment(text)
    assert segment
    assert not set(segment) & {"+", "#", "/", "\x00"}
    assert all(ord(c) >= 0x20 and ord(c) != 0x7F for c in segment)
    assert not segment.startswith("$")


def test_device_topics_round_trip() -> None:
    topics = Topics("lvgate", "gw-b1")
    topic = topics.device("ups-1", "telemetry")
    assert topic == "lvgate/gw-b1/ups-1/telemetry"
    assert parse_device_topic("lvgate", topic) == ("gw-b1", "ups-1", "telemetry")
    assert parse_device_topic("lvgate", topics.bridge("state")) is None


@given(st.integers(min_value=0, max_value=4_102_444_800_000))
def test_iso_time_round_trips_to_the_millisecond(ts_ms: int) -> None:
    text = iso_ms(ts_ms)
    assert text.endswith("Z") and len(text) == 24
    assert parse_iso_ms(text) == ts_ms

"""Each converter profile reads the example frames its documentation gives (from the shared fixture)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from lvgate.drivers.access.driver import AccessDriver
from lvgate.drivers.access.messages import CardMessage, FrameError, parse_frame
from lvgate.drivers.access.profile import available_profiles, load_profile
from lvgate.drivers.access.stream import AccessStream, StreamSettings
from lvgate.drivers.access.wiegand import formats_named
from tests.shared_fixtures import fixture_path

KEY = b"0123456789abcdef-test-key"


def converters() -> dict[str, dict[str, Any]]:
    with fixture_path("wiegand", "vectors.yaml").open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return {c["device"].split(" (")[0]: c for c in data["converters"]}


def stream(profile: str) -> AccessStream:
    settings = StreamSettings(formats=formats_named(["H10301", "H10306", "C1k35s", "H10304"]), hash_key=KEY)
    return AccessStream("door-1", load_profile(profile), settings)


def test_every_shipped_profile_loads() -> None:
    names = available_profiles()
    assert {"wie232a", "wg2rs232", "s4a_wiegand_ethernet", "seeed_rfid_uart", "lvgate_ascii"} <= set(names)
    for name in names:
        assert load_profile(name).profile == name


def test_wie232a_example_frame_decodes_to_the_example_card() -> None:
    example = converters()["Priority 1 Design WIE232-A"]["example_by_us"]
    wire = bytes.fromhex(example["serial_hex"].replace(" ", ""))
    out = stream("wie232a").feed(wire, 0)
    bits = example["wiegand_bits"]
    # FC and CN read straight off the documented Wiegand bits (H10301 layout).
    assert [(c.facility_code, c.card_number) for c in out.cards] == [(int(bits[1:9], 2), int(bits[9:25], 2))]


def test_s4a_example_frame_carries_the_example_value() -> None:
    example = converters()["S4A WIEGAND-Ethernet bidirectional converter"]["example_from_source"]
    wire = bytes.fromhex(example["serial_hex"].replace(" ", ""))
    value = int(example["wiegand_value_hex"], 16)
    out = stream("s4a_wiegand_ethernet").feed(wire, 0)
    assert [(c.facility_code, c.card_number) for c in out.cards] == [(value >> 16, value & 0xFFFF)]


def test_s4a_key_presses_before_a_card_are_counted_not_published() -> None:
    example = converters()["S4A WIEGAND-Ethernet bidirectional converter"]
    key = bytes.fromhex(example["example_4bit_key"]["serial_hex"])
    s = stream("s4a_wiegand_ethernet")
    out = s.feed(key + key + bytes.fromhex(example["example_from_source"]["serial_hex"].replace(" ", "")), 0)
    assert len(out.cards) == 1 and s.keys_ignored == 2
    assert all("3" not in str(e.data.get("keys", "")) for e in out.events)


def test_seeed_example_checksum_is_accepted_and_a_wrong_one_rejected() -> None:
    example = converters()["Seeed Studio 125 kHz RFID reader"]["example_from_source"]
    card = example["card_hex"]
    good = b"\x02" + f"{card}{example['checksum_hex']}".encode() + b"\x03"
    out = stream("seeed_rfid_uart").feed(good, 0)
    assert [(c.facility_code, c.card_number) for c in out.cards] == [(int(card[:2], 16), int(card[2:], 16))]
    bad_sum = (int(example["checksum_hex"], 16) ^ 0x01) & 0xFF
    s = stream("seeed_rfid_uart")
    assert s.feed(b"\x02" + f"{card}{bad_sum:02X}".encode() + b"\x03", 0).cards == []
    assert s.rejected == {"bad_checksum": 1}


def test_controller_messages_parse() -> None:
    profile = load_profile("lvgate_ascii")
    assert parse_frame(profile, b"DOOR:1").__class__.__name__ == "InputMessage"
    assert isinstance(parse_frame(profile, b"W:00101101000000001010001000"), CardMessage)
    with pytest.raises(FrameError) as caught:
        parse_frame(profile, b"DOOR:7")
    assert caught.value.reason == "unrecognised"


def test_clock_drift_is_read_from_the_controller_time() -> None:
    s = stream("lvgate_ascii")
    now = 1_800_000_000_000
    out = s.feed(b"TIME:2027-01-15T08:00:02Z\r\n", now)
    # 2027-01-15T08:00:00Z is 1_800_000_000 s after the epoch: the controller is 2 s ahead.
    assert [(r.key, r.value) for r in out.readings] == [("clock_drift", 2.0)]


def test_check_device_names_an_unknown_profile_and_format() -> None:
    driver = AccessDriver()
    config = driver.config_model.model_validate(
        {
            "id": "door-1",
            "driver": "access",
            "profile": "wie232",
            "port": "/dev/null",
            "card_hash_key": "x" * 16,
            "wiegand_formats": ["H10301", "H1030"],
        }
    )
    problems = dict(driver.check_device(config))
    assert "did you mean 'wie232a'" in problems["profile"]
    assert "unknown card format 'H1030'" in problems["wiegand_formats"]


def test_a_parity_error_is_a_card_read_event_with_its_reason_not_a_card() -> None:
    s = stream("lvgate_ascii")
    out = s.feed(b"W:10000000000000000000000001\r\nW:0111111111111111111111111\r\n", 0)
    assert out.cards == []
    assert [(e.kind, e.severity, e.data["result"], e.data["bits"]) for e in out.events] == [
        ("card_read", "warning", "parity_error", 26),
        ("card_read", "warning", "unknown_format", 25),
    ]
    assert "even parity bit 0" in out.events[0].data["reason"]


def test_reader_offline_after_the_heartbeat_stops_and_back_on_the_next_line() -> None:
    s = stream("lvgate_ascii")  # the profile expects a line at least every 5 s
    s.feed(b"HB\r\n", 1_000)
    assert s.tick(5_999).events == []
    out = s.tick(6_000)
    assert [e.kind for e in out.events] == ["reader_offline"]
    assert [(r.key, r.value) for r in out.readings] == [("reader_online", False)]
    back = s.feed(b"HB\r\n", 7_000)
    assert [e.kind for e in back.events] == ["reader_online"]
    assert [(r.key, r.value) for r in back.readings] == [("reader_online", True)]

"""Decoding of every type, order, scale, sentinel, string, bitfield and enum.

Expected values are worked out here with ``struct`` and an explicit table of where each
byte of a big-endian value lands on the wire, not with the codec's own helpers.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from lvgate.drivers.modbus.codec import compile_point, decode_point, decode_string, encode_number, encode_string
from lvgate.drivers.modbus.frames import (
    ExceptionReply,
    FrameError,
    check_rtu_reply,
    crc16,
    read_request,
    registers_of,
    rtu_frame,
    rtu_reply_length,
)
from lvgate.drivers.modbus.profile import Point
from lvgate.reading import Quality
from tests.shared_fixtures import fixture_path

# Where byte i of the big-endian value (A=0, B=1, ...) goes on the wire, per order and size.
WIRE = {
    2: {"ABCD": "AB", "CDAB": "AB", "BADC": "BA", "DCBA": "BA"},
    4: {"ABCD": "ABCD", "CDAB": "CDAB", "BADC": "BADC", "DCBA": "DCBA"},
    8: {"ABCD": "ABCDEFGH", "CDAB": "GHEFCDAB", "BADC": "BADCFEHG", "DCBA": "HGFEDCBA"},
}
FORMATS = {
    "int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I",
    "int64": ">q", "uint64": ">Q", "float32": ">f", "float64": ">d",
}  # fmt: skip
ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")


def wire_words(value: float, data_type: str, order: str) -> list[int]:
    big = struct.pack(FORMATS[data_type], value)
    wire = bytes(big["ABCDEFGH".index(letter)] for letter in WIRE[len(big)][order])
    return [wire[i] << 8 | wire[i + 1] for i in range(0, len(wire), 2)]


def exact(decoded: Sequence[tuple[str, object, Quality]]) -> list[tuple[str, str, Quality]]:
    """Decoded values with their type: 1 and 1.0, 0.0 and -0.0 publish differently."""
    return [(key, f"{type(value).__name__} {value!r}", quality) for key, value, quality in decoded]


def decode(point: Point, words: list[int], value_type: str = "float", order: str = "ABCD") -> tuple[object, Quality]:
    types = {point.key or "": value_type}
    reference = decode_point(point, words, order, types)
    # The poller's compiled decoder, reading the point from the middle of a longer reply.
    compiled = compile_point(point, order, types)([0xDEAD, *words, 0xBEEF], 1)
    assert exact(compiled) == exact(reference)
    (_, value, quality), *_ = reference
    return value, quality


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(
    ("data_type", "value"),
    [
        ("int16", -1234), ("uint16", 65000), ("int32", -123456789), ("uint32", 4000000000),
        ("int64", -(2**60) + 7), ("uint64", 2**63 + 11), ("float32", -12.5), ("float64", 6.02214076e23),
    ],
)  # fmt: skip
def test_every_type_in_every_order(data_type: str, value: float, order: str) -> None:
    point = Point(address=0, key="x", type=data_type, byte_order=order)
    got, quality = decode(point, wire_words(value, data_type, order), "int" if "int" in data_type else "float")
    assert quality is Quality.GOOD
    assert got == value


def test_known_words_by_hand() -> None:
    # 0x12345678 as CDAB is 0x5678 then 0x1234; -2 as int16 is 0xFFFE.
    assert decode(Point(address=0, key="x", type="uint32", byte_order="CDAB"), [0x5678, 0x1234], "int")[0] == 0x12345678
    assert decode(Point(address=0, key="x", type="int16", scale=0.1), [0xFFFE])[0] == -0.2
    # 1.0f is 0x3F800000; byte-swapped words read 0x803F 0x0000.
    assert decode(Point(address=0, key="x", type="float32", byte_order="BADC"), [0x803F, 0x0000])[0] == 1.0


def test_scale_offset_precision() -> None:
    assert decode(Point(address=0, key="x", type="uint16", scale=0.1), [2292])[0] == 229.2
    assert decode(Point(address=0, key="x", type="int16", scale=0.5, offset=-40), [100])[0] == 10.0
    assert decode(Point(address=0, key="x", type="uint16", scale=1 / 3, precision=2), [10])[0] == 3.33
    assert decode(Point(address=0, key="x", type="uint16", scale=100), [9])[0] == 900.0
    # binary fixed point (APC): 51200 / 2**9 = 100 %
    assert decode(Point(address=0, key="x", type="uint16", scale=2**-9), [51200])[0] == 100.0


def test_real_zero_is_zero_and_sentinels_are_no_value() -> None:
    point = Point(address=0, key="x", type="uint16", scale=0.1, invalid=(0xFFFF,))
    assert decode(point, [0]) == (0.0, Quality.GOOD)
    assert decode(point, [0xFFFF]) == (None, Quality.BAD)
    # 0x8000 / 0x7FFF in a signed register, written the way vendor sheets write them
    signed = Point(address=0, key="x", type="int16", scale=0.1, invalid=(0x8000, 0x7FFF))
    assert decode(signed, [0x8000]) == (None, Quality.BAD)
    assert decode(signed, [0x7FFF]) == (None, Quality.BAD)
    assert decode(signed, [0xFF9B]) == (-10.1, Quality.GOOD)
    assert decode(Point(address=0, key="x", type="uint32", invalid=(0xFFFFFFFF,)), [0xFFFF, 0xFFFF], "int") == (
        None,
        Quality.BAD,
    )


@pytest.mark.parametrize("order", ORDERS)
def test_nan_and_denormal_floats_are_implausible(order: str) -> None:
    point = Point(address=0, key="x", type="float32", byte_order=order)
    assert decode(point, wire_words(math.nan, "float32", order)) == (None, Quality.UNCERTAIN)
    assert decode(point, wire_words(math.inf, "float32", order)) == (None, Quality.UNCERTAIN)
    tiny = struct.unpack(">f", bytes([0, 0, 0, 1]))[0]  # the smallest denormal
    _, quality = decode(point, wire_words(tiny, "float32", order))
    assert quality is Quality.UNCERTAIN
    assert decode(point, wire_words(0.0, "float32", order)) == (0.0, Quality.GOOD)


def test_valid_range_flags_implausible_values() -> None:
    point = Point(address=0, key="x", type="int16", scale=0.1, valid_range=(-40, 125))
    assert decode(point, [3000]) == (300.0, Quality.UNCERTAIN)
    assert decode(point, [250]) == (25.0, Quality.GOOD)


def test_strings_plain_and_byte_swapped() -> None:
    text = "SN-1234"
    plain = [int.from_bytes(b, "big") for b in (b"SN", b"-1", b"23", b"4\x00")]
    swapped = [int.from_bytes(b, "little") for b in (b"SN", b"-1", b"23", b"4\x00")]
    assert decode_string(plain, "ABCD") == text
    assert decode_string(swapped, "BADC") == text
    point = Point(address=0, key="serial", type="string", length=4)
    assert decode(point, plain) == (text, Quality.GOOD)
    assert encode_string(text, 4, "BADC") == swapped


def test_bitfield_to_named_flags_and_single_bits() -> None:
    point = Point(address=0, type="uint16", flags={2: "self_test", 6: "battery_low", 15: "fault"})
    got = decode_point(point, [0b1000_0000_0100_0000], "ABCD", {})
    assert got == [
        ("self_test", False, Quality.GOOD),
        ("battery_low", True, Quality.GOOD),
        ("fault", True, Quality.GOOD),
    ]
    wide = Point(address=0, type="uint32", flags={0: "a", 17: "b"}, byte_order="CDAB")
    assert decode_point(wide, [0x0001, 0x0002], "ABCD", {}) == [("a", True, Quality.GOOD), ("b", True, Quality.GOOD)]
    assert decode(Point(address=0, key="low", type="uint16", bit=6), [0x0040], "bool") == (True, Quality.GOOD)


def test_enum_map_and_default() -> None:
    point = Point(address=0, key="mode", type="uint16", map={2: "online", 3: "on_battery"}, map_default="unknown")
    assert decode(point, [3], "enum") == ("on_battery", Quality.GOOD)
    assert decode(point, [9], "enum") == ("unknown", Quality.GOOD)
    strict = Point(address=0, key="mode", type="uint16", map={2: "online"})
    assert decode(strict, [9], "enum") == (None, Quality.UNCERTAIN)


def test_coils_and_discrete_inputs_are_bools() -> None:
    point = Point(key="leak", table="discrete", address=3, type="bool")
    assert decode(point, [1], "bool") == (True, Quality.GOOD)
    assert decode(point, [0], "bool") == (False, Quality.GOOD)


INT_RANGES = {
    "int16": (-(2**15), 2**15 - 1), "uint16": (0, 2**16 - 1), "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1), "int64": (-(2**63), 2**63 - 1), "uint64": (0, 2**64 - 1),
}  # fmt: skip


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[str, float]:
    data_type = draw(st.sampled_from([*INT_RANGES, "float32", "float64"]))
    if data_type in INT_RANGES:
        low, high = INT_RANGES[data_type]
        return data_type, draw(st.integers(low, high))
    if data_type == "float32":
        return data_type, draw(st.floats(width=32, allow_nan=False, allow_infinity=False, allow_subnormal=False))
    return data_type, draw(st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False))


@given(typed_values(), st.sampled_from(ORDERS))
def test_round_trip_every_type_and_order(typed: tuple[str, float], order: str) -> None:
    data_type, value = typed
    words = encode_number(value, data_type, order)
    assert words == wire_words(value, data_type, order)
    point = Point(address=0, key="x", type=data_type, byte_order=order)
    value_type = "int" if "int" in data_type else "float"
    got, quality = decode(point, words, value_type)
    assert quality is Quality.GOOD
    assert got == value


@st.composite
def any_points(draw: st.DrawFn) -> tuple[Point, str]:
    """A point with any combination of the options a profile may give, and its value type."""
    data_type = draw(st.sampled_from([*INT_RANGES, "float32", "float64"]))
    size = {"16": 1, "32": 2, "64": 4}[data_type[-2:]]
    options: dict[str, object] = {
        "address": 0,
        "type": data_type,
        "byte_order": draw(st.sampled_from([None, *ORDERS])),
        "scale": draw(st.sampled_from([1.0, 0.1, 0.01, 2**-9, 10.0, 1 / 3])),
        "offset": draw(st.sampled_from([0.0, -40.0, 0.5])),
        "precision": draw(st.sampled_from([None, 0, 2])),
    }
    if draw(st.booleans()):
        options["invalid"] = tuple(
            draw(st.lists(st.sampled_from([0, 1, 0x7FFF, 0x8000, 0xFFFF, 0xFFFFFFFF]), max_size=3))
        )
    if draw(st.booleans()):
        options["valid_range"] = (-40.0, 125.0)
    value_type = "float"
    if "int" in data_type:
        shape = draw(st.sampled_from(["number", "int", "bit", "map", "flags"]))
        if shape == "int":
            value_type = "int"
        elif shape == "bit":
            options["bit"], value_type = draw(st.integers(0, 16 * size - 1)), "bool"
        elif shape == "map":
            options["map"], value_type = {0: "online", 1: "on_battery", 3: "bypass"}, "enum"
            options["map_default"] = draw(st.sampled_from([None, "unknown"]))
        elif shape == "flags":
            options["flags"] = {b: f"flag_{b}" for b in draw(st.sets(st.integers(0, 16 * size - 1), min_size=1))}
    if "flags" not in options:
        options["key"] = "x"
    return Point.model_validate(options), value_type


@given(any_points(), st.sampled_from(ORDERS), st.data())
def test_compiled_decoder_agrees_with_decode_point(drawn: tuple[Point, str], order: str, data: st.DataObject) -> None:
    point, value_type = drawn
    words = data.draw(st.lists(st.integers(0, 0xFFFF), min_size=point.register_count, max_size=point.register_count))
    if data.draw(st.booleans()):  # often a sentinel, NaN or infinity: the words of an edge value
        words = [data.draw(st.sampled_from([0, 0x7FFF, 0x7F80, 0x7FC0, 0x8000, 0xFFFF])), *words[1:]]
    types = {"x": value_type}
    at = data.draw(st.integers(0, 3))
    padded = [0x1234] * at + words + [0x5678]
    assert exact(compile_point(point, order, types)(padded, at)) == exact(decode_point(point, words, order, types))


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=16), st.sampled_from(ORDERS))
def test_round_trip_strings(text: str, order: str) -> None:
    assert decode_string(encode_string(text, 8, order), order) == text


# --- frames ------------------------------------------------------------------------------------
def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def test_crc_of_the_specification_example() -> None:
    # Modbus over serial line, appendix: 02 07 -> CRC 0x1241, sent as 41 12
    assert rtu_frame(2, b"\x07")[-2:] == b"\x41\x12"
    assert crc16(b"\x02\x07") == 0x1241


def _fixture_frames() -> list[dict[str, object]]:
    loaded = yaml.safe_load(fixture_path("modbus", "frames.yaml").read_text(encoding="utf-8"))
    frames: list[dict[str, object]] = loaded["frames"]
    return frames


def _scaled_register(words: list[int], index: int, signed: bool) -> float:
    raw = words[index] - 0x10000 if signed and words[index] & 0x8000 else words[index]
    return round(raw * 0.1, 1)


# Which register of each recorded reply holds which value (read off the fixture by hand).
FRAME_LAYOUT = {
    "xy-md02-capture-1": {"temperature_degC": (0, True), "humidity_pct": (1, False)},
    "xy-md02-manual-temp": {"temperature_degC": (0, True)},
    "renke-rs-ws-manual": {"humidity_pct": (0, False), "temperature_degC": (1, True)},
    "huawei-02312pbl-manual-th": {"temperature_degC": (0, True), "humidity_pct": (1, False)},
}


def test_recorded_frames_decode_to_their_values() -> None:
    checked = 0
    for frame in _fixture_frames():
        if "response" not in frame:  # printed abbreviated in the guide: CRC not checkable
            continue
        request, response = _hex(str(frame["request"])), _hex(str(frame["response"]))
        unit, function, address, count = request[0], request[1], *struct.unpack(">HH", request[2:6])
        # the request we would build is byte for byte the recorded one
        table = {3: "holding", 4: "input"}[function]
        assert rtu_frame(unit, read_request(table, address, count)) == request
        assert rtu_reply_length(response) == len(response)
        words = registers_of(check_rtu_reply(response, unit, read_request(table, address, count)))
        decoded = frame["decoded"]
        assert isinstance(decoded, dict)
        for name, (index, signed) in FRAME_LAYOUT[str(frame["id"])].items():
            point = Point(address=0, key="v", type="int16" if signed else "uint16", scale=0.1)
            assert decode(point, [words[index]])[0] == decoded[name] == _scaled_register(words, index, signed)
        checked += 1
    assert checked == 4


def test_bad_frames_are_errors_not_values() -> None:
    request = read_request("holding", 0, 2)
    good = _hex("01 03 04 02 92 FF 9B 5A 3D")
    with pytest.raises(FrameError, match="crc"):
        check_rtu_reply(good[:-1] + b"\x00", 1, request)
    with pytest.raises(FrameError, match="mismatch"):
        check_rtu_reply(rtu_frame(2, good[1:-2]), 1, request)
    with pytest.raises(FrameError, match="mismatch"):  # asked 2 registers, got 1
        check_rtu_reply(rtu_frame(1, b"\x03\x02\x00\x05"), 1, request)
    with pytest.raises(FrameError, match="mismatch"):  # function 4 reply to a function 3 request
        check_rtu_reply(rtu_frame(1, b"\x04" + good[2:-2]), 1, request)
    with pytest.raises(ExceptionReply) as caught:
        check_rtu_reply(rtu_frame(1, b"\x83\x02"), 1, request)
    assert caught.value.code == 2
    with pytest.raises(FrameError, match="short"):
        check_rtu_reply(b"\x01\x03", 1, request)

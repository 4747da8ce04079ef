"""Turn register words into values and back. Pure functions, no I/O.

Byte and word order are named by where the bytes of a big-endian value ``A B C D`` land on
the wire: ``ABCD`` is the Modbus default (high word first, high byte first), ``CDAB`` swaps
the words, ``BADC`` swaps the bytes inside each word, ``DCBA`` does both. A 16-bit value only
feels the byte swap. Strings follow the same rule: ``ABCD`` puts the first character in the
high byte of each register, ``BADC`` in the low byte (the "byte-swapped" strings some
vendors use).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping, Sequence

from lvgate.drivers.modbus.profile import REGISTER_COUNT, Point
from lvgate.reading import Quality, Value

_STRUCT = {
    "int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I",
    "int64": ">q", "uint64": ">Q", "float32": ">f", "float64": ">d",
}  # fmt: skip
_UNSIGNED = {"int16": ">H", "int32": ">I", "int64": ">Q", "float32": ">I", "float64": ">Q"}
_SMALLEST_NORMAL = {"float32": 2.0**-126, "float64": 2.0**-1022}
ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")

Decoded = tuple[str, Value, Quality]


def _swap_bytes(raw: bytes) -> bytes:
    return b"".join(raw[i + 1 : i + 2] + raw[i : i + 1] for i in range(0, len(raw), 2))


def words_to_bytes(words: list[int], order: str) -> bytes:
    """Registers as they came off the wire -> the big-endian bytes of the value."""
    if order in ("CDAB", "DCBA"):
        words = list(reversed(words))
    raw = b"".join(w.to_bytes(2, "big") for w in words)
    return _swap_bytes(raw) if order in ("BADC", "DCBA") else raw


def bytes_to_words(raw: bytes, order: str) -> list[int]:
    """Inverse of :func:`words_to_bytes` (simulators and tests)."""
    if order in ("BADC", "DCBA"):
        raw = _swap_bytes(raw)
    words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    if order in ("CDAB", "DCBA"):
        words.reverse()
    return words


def raw_number(words: list[int], data_type: str, order: str) -> int | float:
    """The number the registers hold, before scaling."""
    value: int | float = struct.unpack(_STRUCT[data_type], words_to_bytes(words, order))[0]
    return value


def raw_pattern(words: list[int], data_type: str, order: str) -> int:
    """The registers as one unsigned integer (how vendors write sentinels: 0x8000, 0xFFFF)."""
    fmt = _UNSIGNED.get(data_type, _STRUCT[data_type])
    pattern: int = struct.unpack(fmt, words_to_bytes(words, order))[0]
    return pattern


def decode_string(words: list[int], order: str) -> str:
    """ASCII text, two characters per register; trailing NULs and spaces dropped."""
    swapped = order in ("BADC", "DCBA")
    raw = b"".join(w.to_bytes(2, "little" if swapped else "big") for w in words)
    return raw.split(b"\x00", 1)[0].decode("latin-1").rstrip(" ")


def encode_string(text: str, registers: int, order: str) -> list[int]:
    raw = text.encode("latin-1")[: 2 * registers].ljust(2 * registers, b"\x00")
    swapped = order in ("BADC", "DCBA")
    return [int.from_bytes(raw[i : i + 2], "little" if swapped else "big") for i in range(0, len(raw), 2)]


def encode_number(value: float, data_type: str, order: str) -> list[int]:
    """A raw number -> registers in the given order (simulators and tests)."""
    packed = struct.pack(_STRUCT[data_type], int(value) if data_type.startswith(("int", "uint")) else value)
    return bytes_to_words(packed, order)


def is_plausible_float(value: float, data_type: str) -> bool:
    """NaN, infinities and denormals are what a wrong word order or a dead sensor looks like."""
    return math.isfinite(value) and (value == 0 or abs(value) >= _SMALLEST_NORMAL[data_type])


def _scaled(point: Point, raw: int | float, value_type: str) -> Value:
    # Unscaled integers stay exact (a 64-bit counter does not fit a float's 53 bits).
    unscaled = isinstance(raw, int) and point.scale == 1 and point.offset == 0
    value = raw if unscaled else raw * point.scale + point.offset
    if value_type == "int":
        return value if isinstance(value, int) else round(value)
    if isinstance(raw, float):  # a float register keeps its own precision unless told otherwise
        return float(value if point.precision is None else round(value, point.precision))
    return float(round(value, point.decimals))


def decode_point(point: Point, words: list[int], order: str, value_types: Mapping[str, str]) -> list[Decoded]:
    """Registers (or a bit, as [0]/[1]) -> (key, published value, quality) for each entity.

    ``value_types`` gives the vocabulary type of each key (float, int, bool, enum), which fixes
    the Python type so a field is never an int one day and a float the next. A vendor
    "invalid" sentinel yields no value (quality bad), never a number.
    """
    order = point.byte_order or order
    if point.table in ("coil", "discrete") or point.type == "bool":
        raw: int | float = 1 if words[0] else 0
    elif point.type == "string":
        return [(point.key or "", decode_string(words, order), Quality.GOOD)]
    else:
        raw = raw_number(words, point.type, order)
        pattern = raw_pattern(words, point.type, order)
        if pattern in point.invalid or (isinstance(raw, int) and raw in point.invalid):
            return [(key, None, Quality.BAD) for key in point.keys]
    if point.flags:
        bits = int(raw)
        return [(key, bool((bits >> bit) & 1), Quality.GOOD) for bit, key in point.flags.items()]
    key = point.key or ""
    if isinstance(raw, float) and not is_plausible_float(raw, point.type):
        if not math.isfinite(raw):
            return [(key, None, Quality.UNCERTAIN)]
        return [(key, _scaled(point, raw, value_types[key]), Quality.UNCERTAIN)]
    if point.bit is not None:
        raw = (int(raw) >> point.bit) & 1
    if point.map is not None:
        if isinstance(raw, int) and raw in point.map:
            return [(key, point.map[raw], Quality.GOOD)]
        if point.map_default is not None:
            return [(key, point.map_default, Quality.GOOD)]
        return [(key, None, Quality.UNCERTAIN)]
    if value_types[key] == "bool":
        return [(key, bool(raw), Quality.GOOD)]
    value = _scaled(point, raw, value_types[key])
    if point.valid_range is not None and isinstance(value, int | float):
        low, high = point.valid_range
        if not low <= value <= high:
            return [(key, value, Quality.UNCERTAIN)]
    return [(key, value, Quality.GOOD)]


# --------------------------------------------------------------------------- compiled decoding
#
# What the poller runs for every point of every poll: the same decisions as decode_point,
# with everything that depends only on the profile (formats, word order, sets, decimals)
# worked out once. tests/test_modbus_codec.py checks it against decode_point on random
# points and words.

PointDecoder = Callable[[Sequence[int], int], list[Decoded]]
"""``decoder(words, at)``: the point whose first register is ``words[at]``."""

_FLOAT_FORMAT = {"float32": struct.Struct(">f"), "float64": struct.Struct(">d")}


def _swap16(word: int) -> int:
    return (word >> 8) | ((word & 0xFF) << 8)


def _pattern_reader(size: int, order: str) -> Callable[[Sequence[int], int], int]:
    """The registers as the unsigned big-endian integer :func:`raw_pattern` would give."""
    swap_bytes = order in ("BADC", "DCBA")
    reverse = size > 1 and order in ("CDAB", "DCBA")
    if size == 1:
        if swap_bytes:
            return lambda words, at: _swap16(words[at])
        return lambda words, at: words[at]
    if size == 2 and not swap_bytes:
        if reverse:
            return lambda words, at: words[at + 1] << 16 | words[at]
        return lambda words, at: words[at] << 16 | words[at + 1]
    shifts = tuple(16 * (size - 1 - i) for i in range(size))
    if reverse:
        shifts = shifts[::-1]

    def read(words: Sequence[int], at: int) -> int:
        pattern = 0
        for i, shift in enumerate(shifts):
            word = words[at + i]
            pattern |= (_swap16(word) if swap_bytes else word) << shift
        return pattern

    return read


def compile_point(point: Point, order: str, value_types: Mapping[str, str]) -> PointDecoder:
    """A decoder giving what ``decode_point(point, words[at:at + n], order, value_types)`` gives."""
    order = point.byte_order or order
    key = point.key or ""
    count = point.register_count
    value_type = value_types.get(key) if not point.flags else None
    if point.table in ("coil", "discrete") or point.type in ("bool", "string") or (not point.flags and not value_type):
        return lambda words, at: decode_point(point, list(words[at : at + count]), order, value_types)
    size = REGISTER_COUNT[point.type]
    pattern_of = _pattern_reader(size, order)
    float_format = _FLOAT_FORMAT.get(point.type)
    nbytes = 2 * size
    half = 1 << (16 * size - 1) if point.type.startswith("int") else None
    full = 1 << (16 * size)
    invalid = frozenset(point.invalid)
    bad = [(k, None, Quality.BAD) for k in point.keys]
    flags = tuple(point.flags.items()) if point.flags else None
    unity = point.scale == 1 and point.offset == 0
    scale, offset, precision, decimals = point.scale, point.offset, point.precision, point.decimals
    good = Quality.GOOD
    plain = not invalid and flags is None and point.bit is None and point.map is None and point.valid_range is None

    if plain and float_format is None and half is None and value_type == "int" and unity:
        # An unsigned integer published as it is: the pattern is the value.
        return lambda words, at: [(key, pattern_of(words, at), good)]
    if plain and float_format is None and value_type == "float" and unity:
        if half is None:
            return lambda words, at: [(key, float(pattern_of(words, at)), good)]

        def decode_signed(words: Sequence[int], at: int) -> list[Decoded]:
            raw = pattern_of(words, at)
            return [(key, float(raw - full if raw >= half else raw), good)]

        return decode_signed
    if plain and float_format is None and value_type == "float":

        def decode_scaled(words: Sequence[int], at: int) -> list[Decoded]:
            raw = pattern_of(words, at)
            if half is not None and raw >= half:
                raw -= full
            return [(key, float(round(raw * scale + offset, decimals)), good)]

        return decode_scaled

    def decode(words: Sequence[int], at: int) -> list[Decoded]:
        pattern = pattern_of(words, at)
        raw: int | float
        if float_format is not None:
            raw = float_format.unpack(pattern.to_bytes(nbytes, "big"))[0]
        elif half is not None and pattern >= half:
            raw = pattern - full
        else:
            raw = pattern
        if invalid and (pattern in invalid or (float_format is None and raw in invalid)):
            return list(bad)
        if flags is not None:
            bits = int(raw)
            return [(k, bool((bits >> bit) & 1), good) for bit, k in flags]
        return _finish(point, key, raw, value_type or "", unity, scale, offset, precision, decimals)

    return decode


def _finish(
    point: Point,
    key: str,
    raw: int | float,
    value_type: str,
    unity: bool,
    scale: float,
    offset: float,
    precision: int | None,
    decimals: int,
) -> list[Decoded]:
    """decode_point after the raw number: plausibility, bit, map, type, scale, range."""
    if isinstance(raw, float) and not is_plausible_float(raw, point.type):
        if not math.isfinite(raw):
            return [(key, None, Quality.UNCERTAIN)]
        return [(key, _scaled(point, raw, value_type), Quality.UNCERTAIN)]
    if point.bit is not None:
        raw = (int(raw) >> point.bit) & 1
    if point.map is not None:
        if isinstance(raw, int) and raw in point.map:
            return [(key, point.map[raw], Quality.GOOD)]
        if point.map_default is not None:
            return [(key, point.map_default, Quality.GOOD)]
        return [(key, None, Quality.UNCERTAIN)]
    if value_type == "bool":
        return [(key, bool(raw), Quality.GOOD)]
    value: Value
    if isinstance(raw, int) and unity:
        value = raw if value_type == "int" else float(round(raw, decimals))
    else:
        scaled = raw * scale + offset
        if value_type == "int":
            value = scaled if isinstance(scaled, int) else round(scaled)
        elif isinstance(raw, float):
            value = float(scaled if precision is None else round(scaled, precision))
        else:
            value = float(round(scaled, decimals))
    if point.valid_range is not None and isinstance(value, int | float):
        low, high = point.valid_range
        if not low <= value <= high:
            return [(key, value, Quality.UNCERTAIN)]
    return [(key, value, Quality.GOOD)]


def all_decodings(words: list[int]) -> list[tuple[str, str]]:
    """Every reading of the first registers of ``words`` side by side (for ``lvgate probe``)."""
    rows: list[tuple[str, str]] = []
    for data_type, size in (("uint16", 1), ("int16", 1), ("uint32", 2), ("int32", 2), ("float32", 2),
                            ("uint64", 4), ("int64", 4), ("float64", 4)):  # fmt: skip
        if len(words) < size:
            continue
        for order in ORDERS if size > 1 else ("ABCD", "BADC"):
            value = raw_number(words[:size], data_type, order)
            text = f"{value:.7g}" if isinstance(value, float) else str(value)
            rows.append((f"{data_type} {order}", text))
    rows.append(("string ABCD", repr(decode_string(words, "ABCD"))))
    rows.append(("string BADC", repr(decode_string(words, "BADC"))))
    return rows

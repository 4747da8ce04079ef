"""Turn register words into values and back. Pure functions, no I/O."""

from __future__ import annotations

import math
import struct

from lvgate.drivers.modbus.profile import Point
from lvgate.reading import Quality, Value

_STRUCT = {
    "int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I",
    "int64": ">q", "uint64": ">Q", "float32": ">f", "float64": ">d",
}  # fmt: skip


def words_to_bytes(words: list[int], order: str) -> bytes:
    """Registers as they came off the wire -> big-endian bytes of the value.

    ``ABCD`` is the Modbus default (high word first, high byte first); ``CDAB`` swaps words,
    ``BADC`` swaps the bytes inside each word, ``DCBA`` does both.
    """
    if order in ("CDAB", "DCBA"):
        words = list(reversed(words))
    raw = b"".join(w.to_bytes(2, "big") for w in words)
    if order in ("BADC", "DCBA"):
        raw = b"".join(raw[i + 1 : i + 2] + raw[i : i + 1] for i in range(0, len(raw), 2))
    return raw


def bytes_to_words(raw: bytes, order: str) -> list[int]:
    """Inverse of :func:`words_to_bytes` (used by the simulator and tests)."""
    if order in ("BADC", "DCBA"):
        raw = b"".join(raw[i + 1 : i + 2] + raw[i : i + 1] for i in range(0, len(raw), 2))
    words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    if order in ("CDAB", "DCBA"):
        words.reverse()
    return words


def raw_number(words: list[int], data_type: str, order: str) -> int | float:
    """The number the registers hold, before scaling."""
    return struct.unpack(_STRUCT[data_type], words_to_bytes(words, order))[0]  # type: ignore[no-any-return]


def decode_point(point: Point, words: list[int], order: str, value_type: str) -> tuple[Value, Quality]:
    """Registers (or a bit, as [0]/[1]) -> the published value and its quality.

    ``value_type`` is the vocabulary type of the entity (float, int, bool, enum), which fixes
    the Python type so a field is never an int one day and a float the next.
    """
    if point.table in ("coil", "discrete") or point.type == "bool":
        raw: int | float = 1 if words[0] else 0
    else:
        raw = raw_number(words, point.type, point.byte_order or order)
    if isinstance(raw, int) and raw in point.invalid:
        return None, Quality.BAD
    if isinstance(raw, float) and not math.isfinite(raw):
        return None, Quality.UNCERTAIN
    if point.bit is not None:
        raw = (int(raw) >> point.bit) & 1
    if point.map is not None:
        if isinstance(raw, int) and raw in point.map:
            return point.map[raw], Quality.GOOD
        if point.map_default is not None:
            return point.map_default, Quality.GOOD
        return None, Quality.UNCERTAIN
    if value_type == "bool":
        return bool(raw), Quality.GOOD
    value = raw * point.scale + point.offset
    if value_type == "int":
        return round(value), Quality.GOOD
    if isinstance(raw, float):  # a float register keeps its own precision unless told otherwise
        return float(value if point.precision is None else round(value, point.precision)), Quality.GOOD
    return float(round(value, point.decimals)), Quality.GOOD


def encode_number(value: float, data_type: str, order: str) -> list[int]:
    """A raw number -> registers in the given order (for simulators and tests)."""
    if data_type.startswith(("int", "uint")):
        value = int(value)
    return bytes_to_words(struct.pack(_STRUCT[data_type], value), order)

"""Modbus frames: build requests, check and cut replies. Pure functions, no I/O.

A PDU is ``function code + data``. On a serial line (RTU) it travels as
``unit + PDU + CRC-16 (low byte first)``; over TCP behind a 7-byte MBAP header
``transaction id, protocol 0, length, unit``. Every check a reply must pass before its
words are believed lives here, so the transports only move bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

READ_FUNCTION = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}
MEI_FUNCTION = 0x2B
MEI_DEVICE_ID = 0x0E

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}


class FrameError(Exception):
    """A reply that cannot be believed: bad CRC, short, wrong unit or function, garbage."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason  # crc | short | mismatch | garbage
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class ExceptionReply(Exception):
    """The device answered with a Modbus exception (function | 0x80)."""

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')})")


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS (polynomial 0xA001 reflected, initial 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def rtu_frame(unit: int, pdu: bytes) -> bytes:
    body = bytes([unit]) + pdu
    return body + crc16(body).to_bytes(2, "little")


def mbap_frame(transaction: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu


def read_request(table: str, address: int, count: int) -> bytes:
    return struct.pack(">BHH", READ_FUNCTION[table], address, count)


def device_id_request(read_code: int = 1, object_id: int = 0) -> bytes:
    """Function 43/14: read device identification (1 = basic, 2 = regular, 3 = extended)."""
    return bytes([MEI_FUNCTION, MEI_DEVICE_ID, read_code, object_id])


def _pdu_length(pdu: bytes) -> int | None:
    """Length of the reply PDU at the start of ``pdu``, or None while too few bytes are in."""
    if not pdu:
        return None
    function = pdu[0]
    if function & 0x80:
        return 2
    if function in (1, 2, 3, 4):
        return None if len(pdu) < 2 else 2 + pdu[1]
    if function in (5, 6, 15, 16):
        return 5
    if function == MEI_FUNCTION:
        if len(pdu) < 7:
            return None
        at, objects = 7, pdu[6]
        for _ in range(objects):
            if len(pdu) < at + 2:
                return None
            at += 2 + pdu[at + 1]
        return at
    raise FrameError("garbage", f"function code {function} is not one lvgate asked for")


def rtu_reply_length(buffer: bytes) -> int | None:
    """Total length of the RTU reply at the start of ``buffer`` (None: need more bytes)."""
    if len(buffer) < 2:
        return None
    length = _pdu_length(buffer[1:])
    return None if length is None else 1 + length + 2


def check_rtu_reply(frame: bytes, unit: int, request_pdu: bytes) -> bytes:
    """The PDU of a complete RTU reply, after checking CRC, unit and function."""
    if len(frame) < 5:
        raise FrameError("short", f"{len(frame)} bytes")
    if crc16(frame[:-2]) != int.from_bytes(frame[-2:], "little"):
        raise FrameError("crc", f"CRC mismatch in {frame.hex(' ')}")
    if frame[0] != unit:
        raise FrameError("mismatch", f"reply from unit {frame[0]}, asked unit {unit}")
    return check_reply_pdu(frame[1:-2], request_pdu)


def check_reply_pdu(pdu: bytes, request_pdu: bytes) -> bytes:
    """Raise on an exception reply or a reply that does not answer ``request_pdu``."""
    function = request_pdu[0]
    if pdu[0] == function | 0x80:
        raise ExceptionReply(pdu[1] if len(pdu) > 1 else -1)
    if pdu[0] != function:
        raise FrameError("mismatch", f"reply has function {pdu[0]}, asked {function}")
    if function in (1, 2, 3, 4):
        count = struct.unpack(">H", request_pdu[3:5])[0]
        expected = 2 * count if function in (3, 4) else (count + 7) // 8
        if pdu[1] != expected or len(pdu) != 2 + expected:
            raise FrameError("mismatch", f"reply carries {pdu[1]} bytes, {expected} expected")
    return pdu


_MBAP = struct.Struct(">HHHB")


def mbap_fields(buffer: bytes | bytearray) -> tuple[int, int, int]:
    """(transaction, length, unit) of the MBAP header at the start of ``buffer`` (7 bytes or
    more), refused when protocol or length cannot be Modbus."""
    transaction, protocol, length, unit = _MBAP.unpack_from(buffer)
    if protocol != 0 or not 2 <= length <= 254:
        raise FrameError("garbage", f"MBAP header {bytes(buffer[:7]).hex(' ')} is not Modbus")
    return transaction, length, unit


def registers_of(pdu: bytes) -> list[int]:
    """Words of a function 3/4 reply."""
    size = pdu[1]
    if size % 2 == 0 and len(pdu) >= 2 + size:
        return list(_words_format(size // 2).unpack_from(pdu, 2))
    return [int.from_bytes(pdu[2 + i : 4 + i], "big") for i in range(0, size, 2)]


_WORDS: dict[int, struct.Struct] = {}


def _words_format(count: int) -> struct.Struct:
    known = _WORDS.get(count)
    if known is None:
        known = _WORDS[count] = struct.Struct(f">{count}H")
    return known


def bits_of(pdu: bytes, count: int) -> list[int]:
    """Bits of a function 1/2 reply, least significant bit of the first byte first."""
    return [(pdu[2 + i // 8] >> (i % 8)) & 1 for i in range(count)]


@dataclass(frozen=True, slots=True)
class DeviceIdPage:
    objects: dict[int, bytes]
    more_follows: bool
    next_object: int


def parse_device_id(pdu: bytes) -> DeviceIdPage:
    """Objects of one function 43/14 reply."""
    if len(pdu) < 7 or pdu[1] != MEI_DEVICE_ID:
        raise FrameError("garbage", f"not a device identification reply: {pdu.hex(' ')}")
    objects: dict[int, bytes] = {}
    at = 7
    for _ in range(pdu[6]):
        object_id, size = pdu[at], pdu[at + 1]
        objects[object_id] = pdu[at + 2 : at + 2 + size]
        at += 2 + size
    return DeviceIdPage(objects, pdu[4] == 0xFF, pdu[5])


# Standard object ids of function 43/14 and the asset-list field each fills.
DEVICE_ID_FIELDS = {
    0: "manufacturer",
    1: "model",  # ProductCode
    2: "firmware",  # MajorMinorRevision
    3: "vendor_url",
    4: "product_name",
    5: "model_name",
    6: "application",
}

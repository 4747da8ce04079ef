"""Turn one frame into one message as its profile describes it, and back (for the simulator)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce
from typing import Any

from lvgate.drivers.access.profile import AccessProfile, MessageSpec
from lvgate.drivers.access.wiegand import (
    RAW,
    Card,
    CardRejected,
    WiegandFormat,
    all_formats,
    decode,
    format_for_data_bits,
)


@dataclass(frozen=True, slots=True)
class CardMessage:
    """Card data as sent: a whole frame (``bits``) or parity-stripped data (``value``)."""

    bits: str | None = None
    value: int | None = None
    data_bits: int | None = None
    format: str | None = None
    keys: int = 0  # key presses sent before the card (S4A); counted, never published


@dataclass(frozen=True, slots=True)
class InputMessage:
    entity: str
    value: bool


@dataclass(frozen=True, slots=True)
class SimpleMessage:
    kind: str  # grant | heartbeat | keypad


@dataclass(frozen=True, slots=True)
class ClockMessage:
    device_ms: int


Message = CardMessage | InputMessage | SimpleMessage | ClockMessage


class FrameError(Exception):
    """A frame that is well delimited but says nothing this profile knows."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


def xor8(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def _checked_text(profile: AccessProfile, frame: bytes) -> str:
    text = frame.decode("latin-1")
    if profile.checksum is None:
        return text
    digits = profile.checksum.digits
    body, sent = text[:-digits], text[-digits:]
    try:
        payload = bytes.fromhex(body)
        expected = int(sent, 16)
    except ValueError as exc:
        raise FrameError("bad_checksum", "frame is not hex text with a checksum") from exc
    if xor8(payload) != expected:
        raise FrameError("bad_checksum", f"checksum {sent} does not match the data ({xor8(payload):02X})")
    return body


def _parse_time(text: str) -> int:
    if text.isdigit():
        return int(text) * 1000
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return round(parsed.timestamp() * 1000)


def parse_frame(profile: AccessProfile, frame: bytes) -> Message:
    """The message in ``frame``. Raises FrameError naming why it is not one."""
    text = _checked_text(profile, frame)
    for spec in profile.messages:
        match = spec.pattern.fullmatch(text)
        if match is None:
            continue
        groups = match.groupdict()
        if spec.kind == "card":
            return _card(spec, groups["value"], len(groups.get("keys") or ""))
        if spec.kind == "input":
            assert spec.entity is not None and spec.states is not None
            state = groups["state"]
            if state not in spec.states:
                raise FrameError("unknown_state", f"{spec.entity} state {state!r} is not one of {sorted(spec.states)}")
            return InputMessage(spec.entity, spec.states[state])
        if spec.kind == "clock":
            try:
                return ClockMessage(_parse_time(groups["time"]))
            except ValueError as exc:
                raise FrameError("bad_time", f"cannot read the controller's time {groups['time']!r}") from exc
        return SimpleMessage(spec.kind)
    raise FrameError("unrecognised", f"{len(frame)} bytes match no message of profile '{profile.profile}'")


def _card(spec: MessageSpec, value: str, keys: int) -> CardMessage:
    if spec.value == "bits":
        return CardMessage(bits=value, format=spec.format, keys=keys)
    number = int(value, 16 if spec.value == "hex" else 10)
    data_bits = spec.data_bits or (len(value) * 4 if spec.value == "hex" else None)
    if spec.carries == "frame":
        fmt = all_formats()[spec.format] if spec.format else None
        width = fmt.bits if fmt else data_bits
        if width is None or number >= 1 << width:
            raise FrameError("unrecognised", "card value wider than its format")
        return CardMessage(bits=format(number, f"0{width}b"), format=spec.format, keys=keys)
    return CardMessage(value=number, data_bits=data_bits, format=spec.format, keys=keys)


def resolve_card(
    message: CardMessage, formats: Sequence[WiegandFormat], *, allow_raw: bool, card_format: str | None = None
) -> Card:
    """The card a message carries, decoded with the device's formats. Raises CardRejected."""
    forced = message.format or card_format
    candidates = [all_formats()[forced]] if forced else list(formats)
    if message.bits is not None:
        return decode(message.bits, candidates, allow_raw=allow_raw)
    assert message.value is not None
    fmt = candidates[0] if forced else format_for_data_bits(message.data_bits or 0, candidates)
    if fmt is None:
        if allow_raw and message.data_bits:
            return Card(RAW, message.data_bits, message.value)
        raise CardRejected(
            "unknown_format", f"{message.data_bits} data bits: no configured format", message.data_bits or 0
        )
    try:
        frame = fmt.from_data_bits(message.value)
    except ValueError as exc:
        raise CardRejected("unknown_format", str(exc), message.data_bits or 0) from exc
    return decode(frame, [fmt])


# --- the other way: what the simulator sends -----------------------------------------------------
def spec_for(profile: AccessProfile, kind: str, entity: str | None = None) -> MessageSpec | None:
    return next(
        (
            s
            for s in profile.messages
            if s.kind == kind and s.send is not None and (entity is None or s.entity == entity)
        ),
        None,
    )


def wrap(profile: AccessProfile, text: str) -> bytes:
    """A frame as it goes on the wire: checksum, start and end markers added."""
    if profile.checksum is not None:
        text += f"{xor8(bytes.fromhex(text)):02X}"
    framing = profile.framing
    return (framing.start + text + framing.end).encode("latin-1")


def render(spec: MessageSpec, **values: Any) -> str:
    assert spec.send is not None
    return spec.send.format(**values)


def card_text(profile: AccessProfile, fmt: WiegandFormat, fields: dict[str, int]) -> str:
    """The text of a card frame carrying ``fields`` in ``fmt``, as this profile's converter sends it."""
    spec = spec_for(profile, "card")
    if spec is None:
        raise ValueError(f"profile '{profile.profile}' cannot send cards")
    bits = fmt.encode(fields)
    value = fmt.data_value(bits) if spec.carries == "data_bits" else int(bits, 2)
    return render(spec, value=value, bits=bits, count=len(bits))

"""From bytes off the wire to readings and events, for one access device. No I/O, clock passed in.

Frames are cut by the profile's framing, read by its messages, cards decoded with the
device's Wiegand formats and published as a keyed hash; door inputs feed the door logic.
Anything that is not a valid frame is counted (``frames_rejected``) and logged with its
reason, never with its bytes above debug level: they may hold a card number.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from lvgate.drivers.access.door import DoorEvent, DoorLogic, ReaderWatch
from lvgate.drivers.access.framing import Rejected, Splitter
from lvgate.drivers.access.messages import (
    CardMessage,
    ClockMessage,
    FrameError,
    InputMessage,
    SimpleMessage,
    parse_frame,
    resolve_card,
)
from lvgate.drivers.access.privacy import card_hash
from lvgate.drivers.access.profile import AccessProfile
from lvgate.drivers.access.wiegand import Card, CardRejected, WiegandFormat
from lvgate.drivers.base import DeviceEvent
from lvgate.reading import Reading

log = logging.getLogger(__name__)


@dataclass
class Output:
    readings: list[Reading] = field(default_factory=list)
    events: list[DeviceEvent] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)  # for the probe and tests; never published as is

    def extend(self, other: Output) -> None:
        self.readings += other.readings
        self.events += other.events
        self.cards += other.cards


@dataclass(frozen=True)
class StreamSettings:
    formats: Sequence[WiegandFormat]
    hash_key: bytes
    allow_raw: bool = False
    card_format: str | None = None
    clear_cards: bool = False
    grant_window_s: float = 10.0
    held_after_s: float = 30.0
    heartbeat_timeout_s: float | None = None


class AccessStream:
    def __init__(self, device: str, profile: AccessProfile, settings: StreamSettings) -> None:
        self.device = device
        self.profile = profile
        self.settings = settings
        framing = profile.framing
        self.splitter = Splitter(
            end=framing.end.encode("latin-1"),
            start=framing.start.encode("latin-1"),
            skip=framing.skip.encode("latin-1"),
            max_length=framing.max_length,
            timeout_ms=round(framing.timeout * 1000),
        )
        self.rejected: Counter[str] = Counter()
        self.door = DoorLogic(round(settings.grant_window_s * 1000), round(settings.held_after_s * 1000))
        timeout = settings.heartbeat_timeout_s or profile.heartbeat_timeout
        self.reader = ReaderWatch(round(timeout * 1000) if timeout else None)
        self.keys_ignored = 0

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def feed(self, data: bytes, now_ms: int) -> Output:
        out = Output()
        for item in self.splitter.feed(data, now_ms):
            if isinstance(item, Rejected):
                self._reject(out, item.reason, item.detail, item.data, now_ms)
            else:
                out.extend(self.frame(item, now_ms))
        return out

    def tick(self, now_ms: int) -> Output:
        out = Output()
        for item in self.splitter.expire(now_ms):
            assert isinstance(item, Rejected)
            self._reject(out, item.reason, item.detail, item.data, now_ms)
        self._events(out, self.door.tick(now_ms), now_ms)
        reader_events = self.reader.tick(now_ms)
        if reader_events:
            out.readings.append(Reading(self.device, "reader_online", False, now_ms))
        self._events(out, reader_events, now_ms)
        return out

    def _events(self, out: Output, events: list[DoorEvent], now_ms: int) -> None:
        out.events += [DeviceEvent(self.device, e.kind, now_ms, e.severity, e.data) for e in events]

    def _reject(self, out: Output, reason: str, detail: str, data: bytes, now_ms: int) -> None:
        self.rejected[reason] += 1
        log.warning("device '%s': frame rejected: %s: %s (%d bytes)", self.device, reason, detail, len(data))
        log.debug("device '%s': rejected bytes %r", self.device, data)
        out.readings.append(Reading(self.device, "frames_rejected", self.rejected_total, now_ms))

    def frame(self, frame: bytes, now_ms: int) -> Output:
        """What one complete frame (markers removed) says."""
        out = Output()
        self._frame(out, frame, now_ms)
        return out

    def _frame(self, out: Output, frame: bytes, now_ms: int) -> None:
        back = self.reader.heard(now_ms)
        if back:
            out.readings.append(Reading(self.device, "reader_online", True, now_ms))
            self._events(out, back, now_ms)
        try:
            message = parse_frame(self.profile, frame)
        except FrameError as exc:
            self._reject(out, exc.reason, exc.detail, frame, now_ms)
            return
        if isinstance(message, CardMessage):
            self._card(out, message, now_ms)
        elif isinstance(message, InputMessage):
            out.readings.append(Reading(self.device, message.entity, message.value, now_ms))
            self._events(out, self.door.on_input(message.entity, message.value, now_ms), now_ms)
        elif isinstance(message, ClockMessage):
            drift = round((message.device_ms - now_ms) / 1000, 3)
            out.readings.append(Reading(self.device, "clock_drift", drift, now_ms))
        elif isinstance(message, SimpleMessage) and message.kind == "grant":
            self.door.authorise(now_ms)
            self._events(out, [DoorEvent("access_granted")], now_ms)
        elif isinstance(message, SimpleMessage) and message.kind == "keypad":
            self.keys_ignored += 1

    def _card(self, out: Output, message: CardMessage, now_ms: int) -> None:
        settings = self.settings
        self.keys_ignored += message.keys
        try:
            card = resolve_card(
                message, settings.formats, allow_raw=settings.allow_raw, card_format=settings.card_format
            )
        except CardRejected as exc:
            log.warning("device '%s': card read rejected: %s: %s", self.device, exc.result, exc.reason)
            data = {"result": exc.result, "reason": exc.reason, "bits": exc.bit_count}
            out.events.append(DeviceEvent(self.device, "card_read", now_ms, "warning", data))
            return
        digest = card_hash(settings.hash_key, card)
        body: dict[str, object] = {"result": "valid", "format": card.format, "bits": card.bit_count}
        if card.facility_code is not None:
            body["facility_code"] = card.facility_code
        body["card_hash"] = digest
        if settings.clear_cards:
            body["card_number"] = card.card_number
        log.info(
            "device '%s': card read, format %s, facility %s, hash %s",
            self.device,
            card.format,
            card.facility_code,
            digest[:12],
        )
        log.debug("device '%s': card number %d", self.device, card.card_number)
        out.cards.append(card)
        out.events.append(DeviceEvent(self.device, "card_read", now_ms, "info", body))
        out.readings.append(Reading(self.device, "last_card_read", now_ms / 1000, now_ms))

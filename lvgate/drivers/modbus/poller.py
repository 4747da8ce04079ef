"""Poll one Modbus unit: run the request plan, decode, learn holes, back off when dead."""

from __future__ import annotations

import logging
import time
from typing import Any

from lvgate.drivers.base import DeviceConfig, DeviceError, DevicePoller
from lvgate.drivers.modbus.codec import PointDecoder, compile_point, decode_string
from lvgate.drivers.modbus.frames import (
    DEVICE_ID_FIELDS,
    ExceptionReply,
    FrameError,
    bits_of,
    device_id_request,
    parse_device_id,
    read_request,
    registers_of,
)
from lvgate.drivers.modbus.planner import Learned, ReadBlock, plan_reads, split_block
from lvgate.drivers.modbus.profile import ModbusProfile
from lvgate.drivers.modbus.transport import Bus, LinkError
from lvgate.mqtt_schema.vocabulary import entity_kind
from lvgate.reading import Quality, Reading, now_ms

log = logging.getLogger(__name__)


async def read_block(bus: Bus, unit: int, block: ReadBlock, request: bytes | None = None) -> list[int]:
    """Words (or bits as 0/1) of one planned request (``request``: its PDU, when built already)."""
    pdu = await bus.request(unit, request or read_request(block.table, block.start, block.count))
    if block.table in ("coil", "discrete"):
        return bits_of(pdu, block.count)
    return registers_of(pdu)


class Backoff:
    """After ``after`` failures in a row, wait interval*2^k (capped) before asking again,
    so a dead unit stops taking bus time from the live ones."""

    def __init__(self, interval: float, after: int, cap: float) -> None:
        self.interval, self.after, self.cap = interval, after, cap
        self.failures = 0
        self.next_try = 0.0
        self.reason = ""
        self.detail = ""

    def due(self) -> bool:
        return time.monotonic() >= self.next_try

    def failed(self, reason: str, detail: str) -> None:
        self.failures += 1
        self.reason, self.detail = reason, detail
        if self.failures >= self.after:
            exponent = min(self.failures - self.after + 1, 16)
            self.next_try = time.monotonic() + min(self.interval * 2**exponent, self.cap)

    def succeeded(self) -> None:
        self.failures = 0
        self.next_try = 0.0


class ModbusPoller(DevicePoller):
    def __init__(
        self,
        config: DeviceConfig,
        bus: Bus,
        profile: ModbusProfile,
        *,
        unit: int,
        max_gap: int,
        byte_order: str,
        backoff_after: int = 3,
        backoff_max: float = 300.0,
    ) -> None:
        super().__init__(config)
        self.bus = bus
        self.profile = profile
        self.unit = unit
        self.max_gap = max_gap
        self.byte_order = byte_order
        self.located = [(p, profile.wire_address(p)) for p in profile.points]
        self.learned = Learned()
        self.value_types = {k: entity_kind(profile.device_class, k).type for p in profile.points for k in p.keys}
        # Worked out once per point and per planned request, not at every poll.
        self._decoders: dict[int, PointDecoder] = {}
        self._compiled: dict[int, tuple[ReadBlock, bytes, list[tuple[PointDecoder, int]]]] = {}
        self.blocks = plan_reads(self.located, max_gap)
        self.backoff = Backoff(config.poll_interval, backoff_after, backoff_max)

    async def poll(self) -> list[Reading]:
        device = self.config.id
        if not self.backoff.due():
            wait = self.backoff.next_try - time.monotonic()
            raise DeviceError(device, self.backoff.reason, f"{self.backoff.detail} (next try in {wait:.0f} s)")
        readings: list[Reading] = []
        learned_before = (len(self.learned.holes), len(self.learned.lonely))
        failed_blocks = 0
        try:
            for block in self.blocks:
                if not await self._read_into(block, readings):
                    failed_blocks += 1
        except TimeoutError as exc:
            self._failed("timeout", f"unit {self.unit} on {self.bus.name} did not answer ({exc})")
        except LinkError as exc:  # the port, not the unit: the bus retries opening it on its own schedule
            raise DeviceError(device, "link_down", str(exc)) from exc
        except FrameError as exc:
            self._failed("bad_frame", f"unit {self.unit} on {self.bus.name}: {exc}")
        if (len(self.learned.holes), len(self.learned.lonely)) != learned_before:
            self.blocks = plan_reads(self.located, self.max_gap, self.learned)
            self._compiled.clear()
            log.info("device '%s': learned plan of %d requests", device, len(self.blocks))
        if self.blocks and failed_blocks == len(self.blocks):
            self._failed("exception", f"unit {self.unit} refused every read")
        self.backoff.succeeded()
        return readings

    def _failed(self, reason: str, detail: str) -> None:
        self.backoff.failed(reason, detail)
        raise DeviceError(self.config.id, reason, detail)

    async def _read_into(self, block: ReadBlock, readings: list[Reading]) -> bool:
        """Read one block, appending its readings; on exception 2 split it and learn."""
        request, decoders = self._compile(block)
        try:
            words = await read_block(self.bus, self.unit, block, request)
        except ExceptionReply as exc:
            halves = split_block(block) if exc.code == 2 else None
            if halves is None:
                if exc.code == 2:
                    self.learned.lonely.add((block.table, block.start))
                log.warning(
                    "device '%s': %s reading %s %d+%d", self.config.id, exc, block.table, block.start, block.count
                )
                ts = now_ms()
                readings.extend(
                    Reading(self.config.id, key, None, ts, Quality.BAD) for p, _ in block.points for key in p.keys
                )
                return False
            left, right = halves
            ok_left = await self._read_into(left, readings)
            ok_right = await self._read_into(right, readings)
            if ok_left and ok_right:  # both halves read: the refused address lies between them
                self.learned.holes.update((block.table, a) for a in range(left.end, right.start))
            return ok_left or ok_right
        except FrameError as exc:
            if exc.reason == "mismatch":  # a reply to someone else: the unit is alive
                log.warning("device '%s': %s", self.config.id, exc)
                ts = now_ms()
                readings.extend(
                    Reading(self.config.id, key, None, ts, Quality.BAD) for p, _ in block.points for key in p.keys
                )
                return False
            raise
        ts = now_ms()
        device = self.config.id
        for decoder, offset in decoders:
            for key, value, quality in decoder(words, offset):
                readings.append(Reading(device, key, value, ts, quality))
        return True

    def _compile(self, block: ReadBlock) -> tuple[bytes, list[tuple[PointDecoder, int]]]:
        """The request PDU of ``block`` and a decoder per point with its offset in the reply."""
        known = self._compiled.get(id(block))
        if known is not None and known[0] is block:
            return known[1], known[2]
        decoders = []
        for point, address in block.points:
            decoder = self._decoders.get(id(point))
            if decoder is None:
                decoder = self._decoders[id(point)] = compile_point(point, self.byte_order, self.value_types)
            decoders.append((decoder, address - block.start))
        request = read_request(block.table, block.start, block.count)
        if any(block is planned for planned in self.blocks):  # halves of a refused read are not kept
            self._compiled[id(block)] = (block, request, decoders)
        return request, decoders

    async def identity(self) -> dict[str, Any] | None:
        """Function 43/14 when the device has it, then the profile's identity registers."""
        found: dict[str, Any] = {"manufacturer": self.profile.manufacturer, "model": self.profile.model}
        if self.profile.device_id:
            found.update(await self._device_id())
        for point in self.profile.identity:
            try:
                words = await read_block(
                    self.bus,
                    self.unit,
                    ReadBlock(point.table, self.profile.wire_address(point), point.register_count, ()),
                )
            except (ExceptionReply, FrameError, TimeoutError, LinkError) as exc:
                log.info("device '%s': identity field %s unreadable: %s", self.config.id, point.key, exc)
                continue
            if point.type == "string":
                text = decode_string(words, point.byte_order or self.byte_order)
                if text:
                    found[point.key or ""] = text
        return found

    async def _device_id(self) -> dict[str, str]:
        objects: dict[int, bytes] = {}
        next_object = 0
        for _ in range(8):  # a well-behaved device needs one or two pages
            try:
                pdu = await self.bus.request(self.unit, device_id_request(1, next_object), retries=0)
            except (ExceptionReply, FrameError, TimeoutError, LinkError) as exc:
                log.info("device '%s': no device identification (43/14): %s", self.config.id, exc)
                break
            page = parse_device_id(pdu)
            objects.update(page.objects)
            if not page.more_follows:
                break
            next_object = page.next_object
        return {
            DEVICE_ID_FIELDS.get(oid, f"object_{oid}"): raw.decode("latin-1").strip("\x00 ")
            for oid, raw in objects.items()
            if raw.strip(b"\x00 ")
        }

    def describe_plan(self) -> list[str]:
        return describe_blocks(self.blocks, self.profile)


def describe_blocks(blocks: list[ReadBlock], profile: ModbusProfile) -> list[str]:
    lines = []
    for block in blocks:
        names = ", ".join(f"{'/'.join(p.keys)}@{a}" for p, a in block.points)
        function = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}[block.table]
        lines.append(f"fc {function} {block.table} {block.start}..{block.end - 1} ({block.count}): {names}")
    return lines

"""One batch of queued messages -> storage points + the shared database (devices, events, dead letters, alarms).

Everything written to the database here is an idempotent upsert keyed by what the message
says (device, entity, time, digest), so handling a batch again after a crash, or a QoS 1
redelivery reaching the other collector, changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from lvgate.collector.alarms import engine
from lvgate.collector.alarms.book import (
    AlarmBook,
    AvailabilityInput,
    DeviceContext,
    DeviceKey,
    EventInput,
    Input,
    ValueInput,
)
from lvgate.collector.central import CentralDb
from lvgate.collector.points import PayloadError, Point, telemetry_points
from lvgate.collector.validate import Message, check_message, prepare
from lvgate.diskqueue import QueuedMessage
from lvgate.mqtt_schema.payloads import parse_iso_ms

log = logging.getLogger(__name__)
EXCERPT_BYTES = 4096


@dataclass
class BatchResult:
    points: list[Point] = field(default_factory=list)
    rejected: int = 0
    events_new: int = 0
    alarm_devices: set[DeviceKey] = field(default_factory=set)
    devices: dict[DeviceKey, tuple[DeviceContext, int]] = field(default_factory=dict)
    # (gateway, device, entity) -> (ts_ms, value, quality, unit); the value is JSON-encoded at flush,
    # once per entity and batch rather than once per point.
    latest: dict[tuple[str, str, str], tuple[int, Any, str, str | None]] = field(default_factory=dict)


def dead_letter(central: CentralDb, topic: str, payload: bytes, reason: str, now_ms: int, collector: str) -> None:
    digest = hashlib.sha256(topic.encode() + b"\0" + payload).hexdigest()
    central.db.execute(
        "INSERT INTO dead_letters(digest, received_ms, topic, reason, size, excerpt, collector) "
        "VALUES (?,?,?,?,?,?,?) ON CONFLICT(digest) DO NOTHING",
        (digest, now_ms, topic, reason[:2000], len(payload), payload[:EXCERPT_BYTES], collector),
    )


def _json(value: Any) -> str:
    """json.dumps(value), with the common reading values written without the encoder."""
    if type(value) is float and math.isfinite(value):
        return repr(value)  # what json.dumps writes for a finite float
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return json.dumps(value)


class Ingest:
    def __init__(
        self,
        central: CentralDb,
        book: AlarmBook | None,
        *,
        base: str,
        collector_id: str,
        validation: Literal["schema", "basic"],
        max_bytes: int,
    ) -> None:
        self.central = central
        self.book = book
        self.base = base
        self.collector_id = collector_id
        self.validation: Literal["schema", "basic"] = validation
        self.max_bytes = max_bytes
        self._watched_by_class: dict[str, frozenset[str]] = {}
        if validation == "schema":
            prepare()

    def _watched(self, device_class: str) -> frozenset[str]:
        """Entities of a device class that some value rule (threshold, state, rate) looks at."""
        watched = self._watched_by_class.get(device_class)
        if watched is None:
            rules = self.book.rules.rules if self.book is not None else []
            watched = frozenset(
                entity
                for rule in rules
                if engine.input_kind(rule) == "value"
                and rule.device_class in (None, device_class)
                and isinstance(entity := getattr(rule, "entity", None), str)
            )
            self._watched_by_class[device_class] = watched
        return watched

    def handle(self, batch: list[QueuedMessage], now_ms: int) -> BatchResult:
        result = BatchResult()
        inputs: list[Input] = []
        with self.central.transaction() as db:
            for queued in batch:
                try:
                    message = check_message(
                        self.base, queued.topic, queued.payload, mode=self.validation, max_bytes=self.max_bytes
                    )
                    if message is None:
                        continue
                    points = telemetry_points(message.body) if message.leaf == "telemetry" else []
                    self._record(db, message, points, inputs, result)
                except (PayloadError, ValueError, KeyError, TypeError) as exc:
                    result.rejected += 1
                    log.error("dead letter: %s: %s", queued.topic, exc)
                    dead_letter(self.central, queued.topic, queued.payload, str(exc), now_ms, self.collector_id)
                    continue
                result.points.extend(points)
            self._flush_latest(db, result)
            if self.book is not None and inputs:
                result.alarm_devices = self.book.apply(inputs)
        return result

    @staticmethod
    def _flush_latest(db: Any, result: BatchResult) -> None:
        """One upsert per device and per entity for the whole batch (not one per point)."""
        db.executemany(
            "INSERT INTO devices(gateway, device, site, room, device_class, last_seen_ms) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT(gateway, device) DO UPDATE SET site = excluded.site, room = excluded.room, "
            "device_class = excluded.device_class, last_seen_ms = max(coalesce(last_seen_ms, 0), excluded.last_seen_ms)",
            [(g, d, c.site, c.room, c.device_class, ts) for (g, d), (c, ts) in result.devices.items()],
        )
        db.executemany(
            "INSERT INTO latest(gateway, device, entity, ts_ms, value, quality, unit) VALUES (?,?,?,?,?,?,?) "
            "ON CONFLICT(gateway, device, entity) DO UPDATE SET ts_ms = excluded.ts_ms, value = excluded.value, "
            "quality = excluded.quality, unit = excluded.unit WHERE excluded.ts_ms > latest.ts_ms",
            [(*key, ts, _json(value), quality, unit) for key, (ts, value, quality, unit) in result.latest.items()],
        )

    def _record(self, db: Any, message: Message, points: list[Point], inputs: list[Input], result: BatchResult) -> None:
        body, gateway = message.body, message.gateway
        if message.leaf == "telemetry":
            device = body["device"]
            device_class = body["device_class"]
            ctx = DeviceContext(gateway, device, device_class, body["site"], body["room"])
            last = max((p.ts_ms for p in points), default=parse_iso_ms(body["ts"]))
            seen = result.devices.get((gateway, device))
            if seen is None or seen[1] < last:
                result.devices[(gateway, device)] = (ctx, last)
            latest = result.latest
            watched = self._watched(device_class)
            for point in points:
                tags = point.tags
                entity = tags["entity"]
                fields = point.fields
                value = point.value
                key = (gateway, device, entity)
                known = latest.get(key)
                ts = point.ts_ms
                if known is None or known[0] < ts:
                    latest[key] = (ts, value, str(fields.get("quality", "good")), tags.get("unit"))
                # Readings no value rule looks at need no alarm input (the book would skip them).
                if entity in watched and value is not None and "quality" not in fields:
                    inputs.append(ValueInput(ctx, entity, value, ts))
        elif message.leaf == "availability":
            assert message.device is not None
            online = body["state"] == "online"
            ts = parse_iso_ms(body["ts"])
            db.execute(
                "INSERT INTO devices(gateway, device, online, availability_reason, availability_ms) VALUES (?,?,?,?,?) "
                "ON CONFLICT(gateway, device) DO UPDATE SET online = excluded.online, "
                "availability_reason = excluded.availability_reason, availability_ms = excluded.availability_ms "
                "WHERE coalesce(devices.availability_ms, -1) < excluded.availability_ms",
                (gateway, message.device, int(online), body.get("reason"), ts),
            )
            inputs.append(AvailabilityInput(DeviceContext(gateway, message.device), online, body.get("reason"), ts))
        elif message.leaf == "events":
            ts = parse_iso_ms(body["ts"])
            data = json.dumps(body.get("data", {}), sort_keys=True, ensure_ascii=False)
            digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]
            cursor = db.execute(
                "INSERT INTO events(gateway, device, ts_ms, event, digest, site, room, device_class, severity, data) "
                "VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (gateway, body["device"], ts, body["event"], digest, body.get("site"), body.get("room"),
                 body.get("device_class"), body.get("severity"), data),
            )  # fmt: skip
            if cursor.rowcount:  # a redelivered event is not news
                result.events_new += 1
                ctx = DeviceContext(
                    gateway, body["device"], body.get("device_class"), body.get("site"), body.get("room")
                )
                inputs.append(EventInput(ctx, body["event"], ts))
        elif message.leaf == "info":
            assert message.device is not None
            db.execute(
                "INSERT INTO devices(gateway, device, name, device_class, info) VALUES (?,?,?,?,?) "
                "ON CONFLICT(gateway, device) DO UPDATE SET name = excluded.name, "
                "device_class = coalesce(excluded.device_class, devices.device_class), info = excluded.info",
                (gateway, message.device, body.get("name"), body.get("device_class"), json.dumps(body)),
            )
        elif message.leaf == "bridge_info":
            db.execute(
                "INSERT INTO gateways(gateway, site, room, info) VALUES (?,?,?,?) ON CONFLICT(gateway) DO UPDATE "
                "SET site = excluded.site, room = excluded.room, info = excluded.info",
                (gateway, body["site"], body["room"], json.dumps(body)),
            )
            for entry in body["devices"]:
                if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                    db.execute(
                        "INSERT INTO devices(gateway, device, site, room, device_class, name) VALUES (?,?,?,?,?,?) "
                        "ON CONFLICT(gateway, device) DO UPDATE SET site = excluded.site, room = excluded.room, "
                        "device_class = coalesce(excluded.device_class, devices.device_class), "
                        "name = coalesce(excluded.name, devices.name)",
                        (
                            gateway,
                            entry["id"],
                            body["site"],
                            body["room"],
                            entry.get("device_class"),
                            entry.get("name"),
                        ),
                    )
        elif message.leaf == "bridge_state":
            db.execute(
                "INSERT INTO gateways(gateway, state) VALUES (?,?) ON CONFLICT(gateway) DO UPDATE SET state = excluded.state",
                (gateway, body["state"]),
            )

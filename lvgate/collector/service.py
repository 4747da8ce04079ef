"""The collector process: MQTT in, a durable inbox, the shared database and storage out.

Every message is written to the on-disk inbox before the broker gets its PUBACK (manual
acknowledgement), so a crash between receiving and storing loses nothing. A drain task takes
the inbox in batches: one database transaction per batch (devices, events, dead letters,
alarm decisions), then the points to storage, retried with back-off while storage is away;
only then are the messages removed from the inbox.

Scale-out: collectors that name the same ``mqtt.shared_group`` split telemetry and events
through an MQTT 5 shared subscription (each message reaches one of them). Retained topics
(availability, info, bridge state) are subscribed by every collector, because brokers do not
send retained messages to shared subscriptions; handling them twice is harmless (upserts
ordered by time). The alarm book lives in the database file the collectors share, or, across
hosts, in one ``role: book`` collector that receives every message; see
``lvgate/collector/README.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from lvgate.collector.alarms.book import AlarmBook, DeviceKey
from lvgate.collector.alarms.rules import RuleFile, load_rules
from lvgate.collector.central import CentralDb
from lvgate.collector.config import CollectorConfig
from lvgate.collector.influx import InfluxWriter
from lvgate.collector.ingest import Ingest, dead_letter
from lvgate.collector.points import Point
from lvgate.collector.publish import alarms_payload
from lvgate.collector.storage import SqliteHistory, Storage, StorageUnavailable
from lvgate.diskqueue import DiskQueue, Priority
from lvgate.gateway.config import link_settings
from lvgate.mqtt_link import MqttLink
from lvgate.mqtt_schema.payloads import dumps, iso_ms

log = logging.getLogger(__name__)

OTHER_BOOK_LOG_INTERVAL_MS = 600_000  # a second book is logged again after this long


@dataclass
class CollectorStats:
    received: int = 0
    stored_points: int = 0
    rejected: int = 0
    dropped_points: int = 0
    write_failures: int = 0
    batches: int = 0


def open_storage(config: CollectorConfig, on_rejected: Any = None) -> Storage:
    storage = config.settings.storage
    if storage.influxdb is not None:
        influx = storage.influxdb
        return InfluxWriter(
            influx.url,
            api=influx.api,
            database=influx.database,
            retention_policy=influx.retention_policy,
            username=influx.username,
            password=influx.password.get_secret_value() if influx.password else None,
            org=influx.org,
            bucket=influx.bucket,
            token=influx.token.get_secret_value() if influx.token else None,
            on_rejected=on_rejected,
            history_query=influx.history_query,
            max_lines=config.settings.batch_size,
        )
    sqlite = storage.sqlite.path if storage.sqlite else config.settings.state_dir / "history.sqlite"
    return SqliteHistory(config.resolve(sqlite))


def quiet_gc() -> None:
    """Fewer and cheaper runs of the cyclic garbage collector, for a collector process.

    Ingest makes about ten short-lived objects per reading (dicts, tuples, points), none in a
    cycle; at Python's default threshold (700) the collector ran every few dozen readings and,
    every tenth time, walked everything the process holds (its modules, schemas, the web API).
    Objects alive after start-up are frozen out of those walks, and the thresholds raised.
    Memory freed by reference counting is unaffected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Collector:
    def __init__(self, config: CollectorConfig, storage: Storage | None = None) -> None:
        self.config = config
        settings = config.settings
        self.base = settings.mqtt.base_topic
        self.central = CentralDb(config.database)
        self.storage = storage or open_storage(config, on_rejected=self._point_rejected)
        self.inbox = DiskQueue(config.resolve(settings.state_dir) / f"{settings.collector_id}.inbox.sqlite")
        self.stats = CollectorStats()
        self.started_ms = now_ms()
        rules = (
            load_rules([config.resolve(p) for p in settings.alarms.rules]) if settings.runs_alarm_book else RuleFile()
        )
        self.book = AlarmBook(self.central, rules)
        # Inspection records, fault records, assets and monthly reports over the same database.
        from lvgate.collector.maintenance.service import Maintenance

        self.maintenance = Maintenance.for_collector(self)
        self.ingest = Ingest(
            self.central,
            self.book if settings.runs_alarm_book else None,
            base=self.base,
            collector_id=settings.collector_id,
            validation=settings.validation,
            max_bytes=settings.max_payload_bytes,
        )
        mqtt_cfg = settings.mqtt
        self.link = MqttLink(
            link_settings(
                mqtt_cfg,
                client_id=f"lvgate-{settings.collector_id}",
                resolve=config.resolve,
                # A persistent session: the broker keeps QoS 1 messages while we restart.
                clean_start=False,
                session_expiry_s=3600,
            ),
            on_connected=self._on_connected,
            on_message=self._on_message,
        )
        self.link.client.manual_ack_set(True)
        self._pending: list[tuple[str, bytes, Priority]] = []
        self._pending_acks: list[tuple[int, int]] = []
        self._flush_scheduled = False
        self._wake = asyncio.Event()
        self._closing = False
        self._taken = 0  # messages handled and handed to storage, not yet removed from the inbox
        self.changes = asyncio.Condition()  # notified after each batch / alarm change (live page)
        self.change_serial = 0
        self.api_port: int | None = None
        self.other_books: dict[str, int] = {}  # collector_id -> when last seen publishing alarm lists

    # --- MQTT in -------------------------------------------------------------------------------
    def subscriptions(self) -> list[str]:
        group = self.config.settings.mqtt.shared_group
        shared = [f"{self.base}/+/+/telemetry", f"{self.base}/+/+/events"]
        # Retained topics: every collector (brokers send no retained messages to shared subscriptions).
        everyone = [f"{self.base}/+/+/availability", f"{self.base}/+/+/info", f"{self.base}/+/bridge/state"]
        if self.config.settings.role == "book":
            everyone.append(f"{self.base}/+/+/alarms")  # to notice a second book (see _on_alarms)
        return [f"$share/{group}/{t}" if group else t for t in shared] + everyone

    async def _on_connected(self) -> None:
        self.link.subscribe(self.subscriptions())
        log.info("collector subscribed to %s", ", ".join(self.subscriptions()))

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith("/alarms"):
            self._on_alarms(message)
            return
        self.stats.received += 1
        priority = Priority.HISTORY if message.topic.endswith("/telemetry") else Priority.EVENT
        self._pending.append((message.topic, bytes(message.payload), priority))
        self._pending_acks.append((message.mid, message.qos))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_inbox)

    def _flush_inbox(self) -> None:
        self._flush_scheduled = False
        items, acks = self._pending, self._pending_acks
        self._pending, self._pending_acks = [], []
        if items:
            self.inbox.put_many(items)
        for mid, qos in acks:  # only now, with the messages on disk, may the broker forget them
            if qos > 0:
                self.link.client.ack(mid, qos)
        self._wake.set()

    def _on_alarms(self, message: mqtt.MQTTMessage) -> None:
        """A ``role: book`` collector watches who else publishes alarm lists.

        Across hosts exactly one collector may keep the alarm book: two would each raise, clear
        and renumber every alarm, with acknowledgements split between them. A list published
        live (not a retained copy from before we subscribed) by another collector_id means a
        second book is running now; it is logged and shown in the health figures."""
        if message.qos > 0:
            self.link.client.ack(message.mid, message.qos)
        if message.retain:  # a list kept by the broker, perhaps from a book that ran before this one
            return
        try:
            publisher = json.loads(message.payload).get("collector")
        except (ValueError, AttributeError):
            log.warning("ignored an alarm list that is not a JSON object on %s", message.topic)
            return
        own = self.config.settings.collector_id
        if not isinstance(publisher, str) or publisher == own:
            return
        seen = now_ms()
        last = self.other_books.get(publisher)
        self.other_books[publisher] = seen
        if last is None or seen - last > OTHER_BOOK_LOG_INTERVAL_MS:
            log.error(
                "collector '%s' publishes alarm lists too (%s), but this collector, '%s', keeps the alarm "
                "book: two books raise and clear every alarm twice, each with its own acknowledgements. "
                "Keep exactly one 'role: book' collector (lvgate/collector/README.md, 'Several collectors').",
                publisher, message.topic, own,
            )  # fmt: skip

    # --- storage out -------------------------------------------------------------------------------
    def _point_rejected(self, line: str, reason: str) -> None:
        """Storage refused one point for good (e.g. a field type conflict): kept as a dead letter."""
        self.stats.dropped_points += 1
        log.error("storage refused a point: %s: %s", reason, line[:300])
        with self.central.transaction():
            dead_letter(self.central, "storage:" + self.storage.name, line.encode(), reason, now_ms(),
                        self.config.settings.collector_id)  # fmt: skip

    async def _next_batch(self, after_id: int, taken: int) -> list[Any]:
        """Up to a batch of messages after ``after_id`` (``taken`` messages before it are still
        being stored): waits (at most flush_interval) for a batch to fill."""
        settings = self.config.settings
        limit = max(1, settings.batch_size // 10)
        while True:
            # Count and look at the oldest only: reading every payload on each wake-up while a
            # batch fills cost a tenth of the collector's time.
            if self._closing or len(self.inbox) - taken >= limit:
                return self.inbox.peek(limit, after_id)
            head = self.inbox.peek(1, after_id)
            age_s = (now_ms() - head[0].created_ms) / 1000 if head else 0.0
            if head and age_s >= settings.flush_interval:
                return self.inbox.peek(limit, after_id)
            self._wake.clear()
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(settings.flush_interval - age_s if head else settings.flush_interval):
                    await self._wake.wait()

    async def _drain_forever(self) -> None:
        """Handle batch after batch; a second task stores them, in order.

        While storage takes one batch (InfluxDB parses it on the other core), the next one is
        validated and recorded: the two work at the same time instead of taking turns. At most
        one batch waits for storage, so when storage is away the messages wait in the inbox.
        """
        handed: asyncio.Queue[tuple[list[int], list[Point]] | None] = asyncio.Queue(maxsize=1)
        writer = asyncio.create_task(self._store_forever(handed), name="store")
        after_id = 0
        try:
            while True:
                batch = await self._next_batch(after_id, self._taken)
                if not batch:
                    if self._closing:
                        break
                    continue
                result = self.ingest.handle(batch, now_ms())
                self.stats.rejected += result.rejected
                self.stats.batches += 1
                after_id = batch[-1].id
                self._taken += len(batch)
                await self._publish_alarms(result.alarm_devices)
                # A 'book' collector leaves history to the 'history' ones.
                points = result.points if self.config.settings.writes_history else []
                await handed.put(([m.id for m in batch], points))
            await handed.put(None)
            await writer
        finally:
            writer.cancel()

    async def _store_forever(self, handed: asyncio.Queue[tuple[list[int], list[Point]] | None]) -> None:
        while (item := await handed.get()) is not None:
            ids, points = item
            if points:
                await self._store(points)
            self.inbox.remove(ids)  # only now: stored, the messages may go
            self._taken -= len(ids)
            self.stats.stored_points += len(points)
            await self._changed()

    async def _store(self, points: list[Point]) -> None:
        """Write until storage takes it; the messages stay in the inbox meanwhile. (Storage cuts
        the points into writes of ``batch_size``.)"""
        backoff = 0.2
        while True:
            try:
                await self.storage.write(points)
                return
            except StorageUnavailable as exc:
                self.stats.write_failures += 1
                if self.stats.write_failures % 10 == 1:
                    log.warning("storage unavailable, %d messages wait in the inbox: %s", len(self.inbox), exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    # --- alarms out ----------------------------------------------------------------------------------
    async def _publish_alarms(self, devices: set[DeviceKey]) -> None:
        for gateway, device in sorted(devices):
            rows = self.book.active_for_device(gateway, device)
            body = alarms_payload(device, rows, now_ms(), self.config.settings.collector_id)
            if self.link.connected.is_set():
                self.link.publish(f"{self.base}/{gateway}/{device}/alarms", dumps(body), retain=True)
        if devices:
            await self._changed()

    async def alarms_changed(self, device: DeviceKey) -> None:
        """After an action from the API (acknowledge, close, ...)."""
        await self._publish_alarms({device})

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.settings.alarms.tick_s)
            with self.central.transaction():
                changed = self.book.tick(now_ms())
            await self._publish_alarms(changed)

    async def _changed(self) -> None:
        async with self.changes:
            self.change_serial += 1
            self.changes.notify_all()

    def health(self) -> dict[str, Any]:
        return {
            "collector_id": self.config.settings.collector_id,
            "role": self.config.settings.role,
            "uptime_s": round((now_ms() - self.started_ms) / 1000, 1),
            "mqtt_connected": self.link.connected.is_set(),
            "storage": self.storage.name,
            "inbox_depth": len(self.inbox),
            "inbox_dropped": self.inbox.dropped(),
            "received": self.stats.received,
            "stored_points": self.stats.stored_points,
            "rejected": self.stats.rejected,
            "dropped_points": self.stats.dropped_points,
            "write_failures": self.stats.write_failures,
            # Other collectors seen publishing alarm lists live (a 'book' watches): id -> last seen.
            "other_alarm_books": {c: iso_ms(ms) for c, ms in sorted(self.other_books.items())},
        }

    # --- lifecycle -----------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        settings = self.config.settings
        log.info(
            "collector '%s' (role %s) starting: broker %s:%s, storage %s, database %s",
            settings.collector_id, settings.role, settings.mqtt.host, settings.mqtt.port, self.storage.name,
            self.config.database,
        )  # fmt: skip
        self.link.start()
        tasks = [asyncio.create_task(self._drain_forever(), name="drain")]
        if settings.runs_alarm_book:
            tasks.append(asyncio.create_task(self._tick_forever(), name="alarm-tick"))
            from lvgate.collector.maintenance.clock import SystemClock
            from lvgate.collector.maintenance.scheduler import run_schedule

            reports = self.config.resolve(settings.state_dir) / "reports"
            schedule = run_schedule(self.maintenance, SystemClock(), out_dir=reports)
            tasks.append(asyncio.create_task(schedule, name="maintenance"))
        api = None
        if settings.api.enabled:
            from lvgate.collector.api.server import ApiServer

            api = ApiServer(self)
            await api.start()
            self.api_port = api.port
        try:
            await stop.wait()
        finally:
            if api is not None:
                await api.stop()
            self._flush_inbox()
            await self.link.stop()
            # Let the writer store what already arrived (bounded: storage may be away; the
            # inbox keeps the rest for the next start).
            self._closing = True
            self._wake.set()
            drain = tasks[0]
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    await asyncio.shield(drain)
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.storage.close()
            self.inbox.close()
            self.central.close()
            log.info(
                "collector stopped: %d messages received, %d points stored, %d rejected",
                self.stats.received, self.stats.stored_points, self.stats.rejected,
            )  # fmt: skip

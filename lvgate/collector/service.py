"""The collector process: MQTT in, a durable inbox, storage out.

Every telemetry message is written to the on-disk inbox before the broker gets its PUBACK
(manual acknowledgement), so a crash between receiving and storing loses nothing; a writer
drains the inbox to storage in batches and deletes only what storage accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from lvgate.collector.config import CollectorConfig
from lvgate.collector.influx import InfluxWriter
from lvgate.collector.points import PayloadError, Point, telemetry_points
from lvgate.collector.storage import SqliteHistory, Storage, StorageUnavailable
from lvgate.diskqueue import DiskQueue, Priority
from lvgate.mqtt_link import LinkSettings, MqttLink

log = logging.getLogger(__name__)
MAX_PAYLOAD_BYTES = 1_000_000


@dataclass
class CollectorStats:
    received: int = 0
    stored_points: int = 0
    rejected: int = 0
    write_failures: int = 0


def open_storage(config: CollectorConfig) -> Storage:
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
        )
    sqlite = storage.sqlite.path if storage.sqlite else config.settings.state_dir / "history.sqlite"
    return SqliteHistory(config.resolve(sqlite))


class Collector:
    def __init__(self, config: CollectorConfig, storage: Storage | None = None) -> None:
        self.config = config
        settings = config.settings
        self.base = settings.mqtt.base_topic
        self.storage = storage or open_storage(config)
        self.inbox = DiskQueue(config.resolve(settings.state_dir) / f"{settings.collector_id}.inbox.sqlite")
        self.stats = CollectorStats()
        mqtt_cfg = settings.mqtt
        self.link = MqttLink(
            LinkSettings(
                host=mqtt_cfg.host,
                port=mqtt_cfg.port,
                client_id=mqtt_cfg.client_id or f"lvgate-{settings.collector_id}",
                keepalive=mqtt_cfg.keepalive,
                protocol=mqtt_cfg.protocol,
                username=mqtt_cfg.username,
                password=mqtt_cfg.password.get_secret_value() if mqtt_cfg.password else None,
                # A persistent session: the broker keeps QoS 1 messages while we restart.
                clean_start=False,
                session_expiry_s=3600,
            ),
            on_connected=self._on_connected,
            on_message=self._on_message,
        )
        self.link.client.manual_ack_set(True)
        self._pending: list[tuple[str, bytes, Priority]] = []
        self._pending_mids: list[int] = []
        self._flush_scheduled = False
        self._wake = asyncio.Event()
        self._closing = False

    def subscriptions(self) -> list[str]:
        topic = f"{self.base}/+/+/telemetry"
        group = self.config.settings.mqtt.shared_group
        return [f"$share/{group}/{topic}" if group else topic]

    async def _on_connected(self) -> None:
        self.link.subscribe(self.subscriptions())
        log.info("collector subscribed to %s", ", ".join(self.subscriptions()))

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
        self.stats.received += 1
        self._pending.append((message.topic, bytes(message.payload), Priority.HISTORY))
        self._pending_mids.append(message.mid)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_inbox)

    def _flush_inbox(self) -> None:
        self._flush_scheduled = False
        items, mids = self._pending, self._pending_mids
        self._pending, self._pending_mids = [], []
        if items:
            self.inbox.put_many(items)
        for mid in mids:  # only now, with the messages on disk, may the broker forget them
            self.link.client.ack(mid, 1)
        self._wake.set()

    def _points_of(self, topic: str, payload: bytes) -> list[Point]:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise PayloadError(f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD_BYTES} byte limit")
        try:
            message = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PayloadError(f"not JSON: {exc}") from None
        if not isinstance(message, dict):
            raise PayloadError("not a JSON object")
        return telemetry_points(message)

    async def _drain_forever(self) -> None:
        settings = self.config.settings
        backoff = 0.5
        while True:
            batch = self.inbox.peek(max(1, settings.batch_size // 10))
            if not batch:
                if self._closing:
                    return
                self._wake.clear()
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(settings.flush_interval):
                        await self._wake.wait()
                continue
            points: list[Point] = []
            for message in batch:
                try:
                    points.extend(self._points_of(message.topic, message.payload))
                except PayloadError as exc:
                    self.stats.rejected += 1
                    log.error("rejected message on %s: %s", message.topic, exc)
            try:
                await self.storage.write(points)
            except StorageUnavailable as exc:
                self.stats.write_failures += 1
                log.warning("storage unavailable, %d messages wait in the inbox: %s", len(self.inbox), exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 0.5
            self.inbox.remove(m.id for m in batch)
            self.stats.stored_points += len(points)

    async def run(self, stop: asyncio.Event) -> None:
        log.info(
            "collector '%s' starting: broker %s:%s, storage %s",
            self.config.settings.collector_id,
            self.config.settings.mqtt.host,
            self.config.settings.mqtt.port,
            self.storage.name,
        )
        self.link.start()
        drain = asyncio.create_task(self._drain_forever(), name="drain")
        try:
            await stop.wait()
        finally:
            self._flush_inbox()
            await self.link.stop()
            # Let the writer store what already arrived (bounded: storage may be away; the
            # inbox keeps the rest for the next start).
            self._closing = True
            self._wake.set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    await asyncio.shield(drain)
            drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drain
            await self.storage.close()
            self.inbox.close()
            log.info(
                "collector stopped: %d messages received, %d points stored, %d rejected",
                self.stats.received,
                self.stats.stored_points,
                self.stats.rejected,
            )

"""The edge gateway: one polling task per device, publishing through a durable outbox."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from lvgate import __version__
from lvgate.diskqueue import DiskQueue, Priority
from lvgate.drivers.base import DeviceConfig, DeviceError, DeviceEvent, DevicePoller, DriverSession
from lvgate.gateway.commands import Commands
from lvgate.gateway.config import GatewayConfig, link_settings
from lvgate.gateway.outbox import Outbox
from lvgate.gateway.policy import PublishFilter
from lvgate.mqtt_link import MqttLink
from lvgate.mqtt_schema import discovery, payloads
from lvgate.mqtt_schema.topics import SCHEMA_VERSION, Topics
from lvgate.mqtt_schema.vocabulary import entity_kind
from lvgate.reading import Quality, Reading, Value, now_ms

log = logging.getLogger(__name__)


@dataclass
class DeviceStats:
    polls: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_duration_ms: float = 0.0
    online: bool | None = None
    reason: str | None = None


@dataclass
class DeviceRuntime:
    config: DeviceConfig
    device_class: str
    units: dict[str, str | None]
    poller: DevicePoller
    encoder: payloads.DeviceEncoder
    stats: DeviceStats = field(default_factory=DeviceStats)
    latest: dict[str, tuple[Value, int, Quality]] = field(default_factory=dict)
    identity: dict[str, Any] | None = None
    identity_asked: bool = False
    filter: PublishFilter = field(init=False)
    telemetry_topic: str = ""
    state_topic: str = ""

    def __post_init__(self) -> None:
        self.filter = PublishFilter(self.config.publish)


def quiet_gc() -> None:
    """Fewer and cheaper runs of the cyclic garbage collector while the gateway runs.

    Every poll makes a few dozen short-lived objects per device (readings, tuples, strings),
    none in a cycle, so at Python's default threshold (700) the collector ran many times a
    second and, every tenth time, walked everything start-up built (config, profiles, drivers,
    vocabulary). Those objects are frozen out of the walks and the thresholds raised; memory
    freed by reference counting is unaffected. (The collector process does the same.)
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


class _Sink:
    """What a push-driven device reports goes through the same paths as polled readings."""

    def __init__(self, gateway: Gateway, runtime: DeviceRuntime) -> None:
        self.gateway = gateway
        self.runtime = runtime

    def readings(self, readings: list[Reading]) -> None:
        if readings:
            self.gateway._publish_readings(self.runtime, readings)

    def event(self, event: DeviceEvent) -> None:
        self.gateway.publish_event(self.runtime, event)

    def availability(self, online: bool, reason: str | None = None) -> None:
        self.gateway.set_availability(self.runtime, online, reason)


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        settings = config.settings
        self.topics = Topics(settings.mqtt.base_topic, settings.gateway_id)
        self.started_ms = now_ms()
        self.queue = DiskQueue(
            config.state_dir / f"{settings.gateway_id}.outbox.sqlite",
            max_messages=settings.queue.max_messages,
            max_age_s=settings.queue.max_age,
        )
        offline = payloads.dumps({"schema_version": SCHEMA_VERSION, "state": "offline"})
        self.link = MqttLink(
            link_settings(settings.mqtt, client_id=f"lvgate-{settings.gateway_id}", resolve=config.resolve),
            will=(self.topics.bridge("state"), offline),
            on_connected=self._on_connected,
            on_message=self._on_message,
            on_ack=self._on_ack,
        )
        self.outbox = Outbox(self.queue, self.link)
        self._background: set[asyncio.Task[None]] = set()
        self.sessions: dict[str, DriverSession] = {}
        self.devices: dict[str, DeviceRuntime] = {}
        self._device_tasks: list[asyncio.Task[None]] = []
        self._build_devices(config)
        self.commands = Commands(self)

    def _build_devices(self, config: GatewayConfig) -> None:
        for device in config.devices:
            if not device.enabled:
                continue
            driver = config.driver_of(device)
            if driver.name not in self.sessions:
                self.sessions[driver.name] = driver.open_session()
            device_class = driver.device_class(device)
            units = {e.key: entity_kind(device_class, e.key).unit for e in driver.entities(device)}
            poller = self.sessions[driver.name].poller(device)
            settings = config.settings
            encoder = payloads.DeviceEncoder(
                site=settings.site,
                room=settings.room,
                gateway=settings.gateway_id,
                device=device.id,
                device_class=device_class,
                units=units,
            )
            runtime = DeviceRuntime(device, device_class, units, poller, encoder)
            runtime.telemetry_topic = self.topics.device(device.id, "telemetry")
            runtime.state_topic = self.topics.device(device.id, "state")
            self.devices[device.id] = runtime

    def _start_devices(self) -> None:
        for device_id, runtime in self.devices.items():
            if runtime.poller.polled:
                self._device_tasks.append(asyncio.create_task(self._poll_forever(runtime), name=f"poll:{device_id}"))
            self._device_tasks.append(asyncio.create_task(self._listen(runtime), name=f"listen:{device_id}"))

    async def _stop_devices(self) -> None:
        tasks, self._device_tasks = self._device_tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for runtime in self.devices.values():
            await runtime.poller.close()
        for session in self.sessions.values():
            await session.close()
        self.sessions.clear()

    async def reload(self, new_config: GatewayConfig) -> dict[str, list[str]]:
        """Swap in a new config's devices without dropping the MQTT session or the queue."""
        old = {d.id: d for d in self.config.devices if d.enabled}
        new = {d.id: d for d in new_config.devices if d.enabled}
        summary = {
            "added": sorted(new.keys() - old.keys()),
            "removed": sorted(old.keys() - new.keys()),
            "changed": sorted(k for k in new.keys() & old.keys() if new[k] != old[k]),
        }
        restart_needed = [
            name
            for name in ("site", "room", "gateway_id", "mqtt", "state_dir")
            if getattr(new_config.settings, name) != getattr(self.config.settings, name)
        ]
        await self._stop_devices()
        kept = {k: v for k, v in self.devices.items() if k in new and k not in summary["changed"]}
        self.devices = {}
        self.config = new_config
        self._build_devices(new_config)
        for device_id, runtime in kept.items():  # keep what a running device already knows
            self.devices[device_id].latest = runtime.latest
            self.devices[device_id].stats = runtime.stats
            self.devices[device_id].identity = runtime.identity
        self._start_devices()
        if self.link.connected.is_set():
            self.link.publish(self.topics.bridge("info"), payloads.dumps(self.info()), retain=True)
            self._publish_discovery()
            self._forget_removed_devices()
        if restart_needed:
            summary["restart_needed"] = restart_needed
        log.info("config reloaded: %s", summary)
        return summary

    def _clear_device_topics(self, device_id: str) -> None:
        """A removed device leaves no retained state behind."""
        if not self.link.connected.is_set():
            return
        for leaf in ("state", "availability", "info", "alarms"):
            self.link.publish(self.topics.device(device_id, leaf), b"", retain=True)

    # --- MQTT side ----------------------------------------------------------------------------
    def _on_ack(self, mid: int) -> None:
        self.outbox.on_ack(mid)

    async def _on_connected(self) -> None:
        """After every (re)connect: bridge state, info, each device's availability and state."""
        self.link.publish(self.topics.bridge("state"), payloads.dumps(self._bridge_state()), retain=True)
        self.link.publish(self.topics.bridge("info"), payloads.dumps(self.info()), retain=True)
        self._announce()
        subscriptions = [self.topics.bridge("request/+")]
        if self.config.settings.homeassistant.enabled:
            subscriptions.append(self._ha_status_topic)
        self.link.subscribe(subscriptions)
        self.outbox.on_reconnect()

    @property
    def _ha_status_topic(self) -> str:
        return f"{self.config.settings.homeassistant.prefix}/status"

    def _announce(self) -> None:
        """Discovery, availability, state and identity of every device (after a reconnect, or
        when Home Assistant comes back and has forgotten them)."""
        self._publish_discovery()
        self._forget_removed_devices()
        for runtime in self.devices.values():
            self._publish_availability(runtime)
            self._publish_state(runtime)
            if runtime.identity is not None:
                self._publish_info(runtime)

    def _publish_discovery(self, only: DeviceRuntime | None = None) -> None:
        ha = self.config.settings.homeassistant
        if not ha.enabled or not self.link.connected.is_set():
            return
        settings = self.config.settings
        common = {"gateway_id": settings.gateway_id, "base_topic": settings.mqtt.base_topic, "prefix": ha.prefix}
        configs = []
        if only is None:
            configs.append(discovery.gateway_config(room=settings.room, **common))
        for runtime in self.devices.values() if only is None else [only]:
            configs.append(
                discovery.device_config(
                    device_id=runtime.config.id,
                    display_name=runtime.config.display_name,
                    device_class=runtime.device_class,
                    entity_keys=sorted(runtime.units),
                    identity=runtime.identity,
                    **common,
                )
            )
        for topic, body in configs:
            self.link.publish(topic, payloads.dumps(body), retain=True)

    def _forget_removed_devices(self) -> None:
        """Clear what devices announced by an earlier run (or config) left retained on the broker."""
        if not self.link.connected.is_set():
            return
        ha = self.config.settings.homeassistant
        record = self.config.state_dir / "announced.json"
        try:
            before = set(json.loads(record.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            before = set()
        for device_id in sorted(before - self.devices.keys()):
            log.info("device '%s' is no longer configured: clearing its retained topics", device_id)
            if ha.enabled:
                topic, empty = discovery.clear_device(self.config.settings.gateway_id, device_id, prefix=ha.prefix)
                self.link.publish(topic, empty, retain=True)
            self._clear_device_topics(device_id)
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(sorted(self.devices)), encoding="utf-8")

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
        if message.topic == self._ha_status_topic:
            if bytes(message.payload).strip() == b"online":
                log.info("Home Assistant is online: announcing discovery again")
                self._announce()
            return
        prefix = self.topics.bridge("request/")
        if message.topic.startswith(prefix):
            command = message.topic[len(prefix) :]
            task = asyncio.create_task(self._answer(command, bytes(message.payload)), name=f"request:{command}")
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _answer(self, command: str, payload: bytes) -> None:
        response = await self.commands.handle(command, payload)
        self.link.publish(self.topics.bridge(f"response/{command}"), payloads.dumps(response))

    def _bridge_state(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "state": "online"}

    def info(self) -> dict[str, Any]:
        settings = self.config.settings
        return {
            "schema_version": SCHEMA_VERSION,
            "version": __version__,
            "gateway": settings.gateway_id,
            "site": settings.site,
            "room": settings.room,
            "config_digest": self.config.digest,
            "started": payloads.iso_ms(self.started_ms),
            "devices": [
                {
                    "id": r.config.id,
                    "name": r.config.display_name,
                    "driver": r.config.driver,
                    "profile": r.config.profile,
                    "device_class": r.device_class,
                }
                for r in self.devices.values()
            ],
        }

    def health(self) -> dict[str, Any]:
        with open(f"/proc/{os.getpid()}/statm") as statm:
            rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        return {
            "schema_version": SCHEMA_VERSION,
            "ts": payloads.iso_ms(now_ms()),
            "uptime_s": round((now_ms() - self.started_ms) / 1000, 1),
            "rss_bytes": rss,
            "queue_depth": self.outbox.depth,
            "queue_dropped": self.queue.dropped(),
            "devices": {
                device_id: {
                    "polls": r.stats.polls,
                    "failures": r.stats.failures,
                    "success_rate": round(1 - r.stats.failures / r.stats.polls, 4) if r.stats.polls else None,
                    "last_poll_ms": round(r.stats.last_duration_ms, 1),
                    "online": r.stats.online,
                }
                for device_id, r in self.devices.items()
            },
        }

    def _publish_availability(self, runtime: DeviceRuntime) -> None:
        if runtime.stats.online is None or not self.link.connected.is_set():
            return
        body = payloads.availability(runtime.stats.online, now_ms(), runtime.stats.reason)
        self.link.publish(self.topics.device(runtime.config.id, "availability"), payloads.dumps(body), retain=True)

    def _publish_state(self, runtime: DeviceRuntime) -> None:
        if not runtime.latest or not self.link.connected.is_set():
            return
        # QoS 0: a snapshot the next poll replaces, re-sent after every reconnect anyway; the
        # measurements themselves travel on telemetry with QoS 1 through the disk queue.
        self.link.publish(runtime.state_topic, runtime.encoder.state(runtime.latest), qos=0, retain=True)

    # --- polling -------------------------------------------------------------------------------
    async def _poll_forever(self, runtime: DeviceRuntime) -> None:
        interval = runtime.config.poll_interval
        next_due = time.monotonic()
        while True:
            await self.poll_once(runtime)
            next_due += interval
            delay = next_due - time.monotonic()
            if delay < 0:  # a slow poll: skip the missed slots instead of bursting
                next_due = time.monotonic() + interval
                delay = interval
            await asyncio.sleep(delay)

    async def poll_once(self, runtime: DeviceRuntime) -> list[Reading]:
        stats = runtime.stats
        started = time.perf_counter()
        stats.polls += 1
        try:
            readings = await runtime.poller.poll()
        except DeviceError as exc:
            stats.failures += 1
            stats.consecutive_failures += 1
            stats.last_duration_ms = (time.perf_counter() - started) * 1000
            if stats.online is not False:
                log.warning("device '%s' unavailable: %s: %s", exc.device, exc.reason, exc.detail)
            self.set_availability(runtime, False, exc.reason)
            return []
        except Exception:
            stats.failures += 1
            log.exception("device '%s': poll failed unexpectedly", runtime.config.id)
            return []
        stats.last_duration_ms = (time.perf_counter() - started) * 1000
        stats.consecutive_failures = 0
        self.set_availability(runtime, True)
        if readings:
            self._publish_readings(runtime, readings)
        return readings

    def set_availability(self, runtime: DeviceRuntime, online: bool, reason: str | None = None) -> None:
        stats = runtime.stats
        if stats.online is online and stats.reason == reason:
            return
        if online:
            log.info("device '%s' online", runtime.config.id)
        was_known = stats.online is not None
        went = stats.online is not online
        stats.online, stats.reason = online, reason
        self._publish_availability(runtime)
        if went and (was_known or not online):
            # An event too, so that an outage seen while the broker is away is not lost.
            kind = "device_online" if online else "device_offline"
            data = {"reason": reason} if reason else {}
            self.publish_event(
                runtime, DeviceEvent(runtime.config.id, kind, now_ms(), "info" if online else "warning", data)
            )
        if online and not runtime.identity_asked:
            runtime.identity_asked = True
            task = asyncio.create_task(self._fetch_identity(runtime), name=f"identity:{runtime.config.id}")
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _fetch_identity(self, runtime: DeviceRuntime) -> None:
        try:
            runtime.identity = await runtime.poller.identity()
        except Exception as exc:  # identity is a nice-to-have: never let it stop polling
            log.warning("device '%s': cannot read identity: %s", runtime.config.id, exc)
            return
        self._publish_info(runtime)
        if runtime.identity:
            self._publish_discovery(only=runtime)

    def _publish_info(self, runtime: DeviceRuntime) -> None:
        if not self.link.connected.is_set():
            return
        body = {
            "schema_version": SCHEMA_VERSION,
            "device": runtime.config.id,
            "name": runtime.config.display_name,
            "device_class": runtime.device_class,
            "driver": runtime.config.driver,
            "profile": runtime.config.profile,
            "identity": runtime.identity or {},
        }
        self.link.publish(self.topics.device(runtime.config.id, "info"), payloads.dumps(body), retain=True)

    def publish_event(self, runtime: DeviceRuntime, event: DeviceEvent) -> None:
        settings = self.config.settings
        body = {
            "schema_version": SCHEMA_VERSION,
            "ts": payloads.iso_ms(event.ts_ms),
            "site": settings.site,
            "room": settings.room,
            "gateway": settings.gateway_id,
            "device": runtime.config.id,
            "device_class": runtime.device_class,
            "event": event.kind,
            "severity": event.severity,
            "data": event.data,
        }
        self.outbox.put(self.topics.device(runtime.config.id, "events"), payloads.dumps(body), Priority.EVENT)

    def _publish_readings(self, runtime: DeviceRuntime, readings: list[Reading]) -> None:
        latest = runtime.latest
        for reading in readings:
            latest[reading.key] = (reading.value, reading.ts_ms, reading.quality)
        readings = runtime.filter.select(readings)
        if not readings:
            return
        self.outbox.put(runtime.telemetry_topic, runtime.encoder.telemetry(readings))
        self._publish_state(runtime)

    async def _listen(self, runtime: DeviceRuntime) -> None:
        try:
            await runtime.poller.listen(_Sink(self, runtime))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("device '%s': listener stopped", runtime.config.id)

    async def _health_forever(self, every_s: float = 30.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            if self.link.connected.is_set():
                self.link.publish(self.topics.bridge("health"), payloads.dumps(self.health()))

    # --- lifecycle -----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        log.info(
            "gateway '%s' starting: %d devices, broker %s:%s",
            self.config.settings.gateway_id,
            len(self.devices),
            self.config.settings.mqtt.host,
            self.config.settings.mqtt.port,
        )
        quiet_gc()
        self.link.start()
        tasks = [
            asyncio.create_task(self.outbox.run(), name="outbox"),
            asyncio.create_task(self._health_forever(), name="health"),
        ]
        self._start_devices()
        try:
            await stop.wait()
        finally:
            await self._stop_devices()
            for task in list(self._background):
                task.cancel()
            # Hand the broker what is still queued, briefly; the rest stays on disk for next time.
            await self.outbox.drain(timeout=3.0)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            offline = payloads.dumps({"schema_version": SCHEMA_VERSION, "state": "offline"})
            await self.link.stop(final=(self.topics.bridge("state"), offline))
            self.outbox.close()
            self.queue.close()
            log.info("gateway '%s' stopped", self.config.settings.gateway_id)

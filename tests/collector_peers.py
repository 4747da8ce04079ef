"""Helpers for the collector tests: VictoriaMetrics (a real /api/v2/write server), an in-process
collector with its config, and an MQTT publisher that waits for the broker's acknowledgements."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from lvgate.collector.config import load_collector_config
from lvgate.collector.service import Collector
from tests.services import LOOPBACK, _Service, free_port, wait_for_async


class VictoriaMetrics(_Service):
    """Debian's victoria-metrics on a free loopback port, data in `workdir`."""

    name = "victoria-metrics"
    program = "victoria-metrics"
    package = "victoria-metrics"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.http_port = free_port()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    def ports(self) -> list[int]:
        return [self.http_port]

    def _write_config(self) -> None:
        return

    def _argv(self, program: str) -> list[str]:
        return [program, f"-httpListenAddr={LOOPBACK}:{self.http_port}", f"-storageDataPath={self.workdir / 'vm'}",
                "-retentionPeriod=100y", "-search.disableCache", "-loggerLevel=ERROR"]  # fmt: skip

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def _pick_new_ports(self) -> None:
        self.http_port = free_port()

    def flush(self) -> None:
        httpx.get(f"{self.url}/internal/force_flush", timeout=10.0)

    def export(self, match: str) -> list[dict[str, Any]]:
        """Every stored series matching ``match`` (one JSON object per line of /api/v1/export)."""
        self.flush()
        response = httpx.post(f"{self.url}/api/v1/export", data={"match[]": match, "start": "0"}, timeout=10.0)
        response.raise_for_status()
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def write_collector_config(path: Path, broker_port: int, *, extra: str = "", collector_id: str = "c1") -> Path:
    path.write_text(
        f"collector_id: {collector_id}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker_port}, shared_group: lvgate}}\n"
        f"state_dir: state-{collector_id}\n"
        f"{extra}",
        encoding="utf-8",
    )
    return path


@contextlib.asynccontextmanager
async def running_collector(config_path: Path) -> AsyncIterator[Collector]:
    """A collector in this event loop, subscribed, stopped (and drained) on exit."""
    collector = Collector(load_collector_config(config_path))
    stop = asyncio.Event()
    task = asyncio.create_task(collector.run(stop))
    try:
        await wait_for_async(lambda: collector.link.connected.is_set(), timeout=10, what="collector connected")
        await asyncio.sleep(0.3)  # the SUBSCRIBE is sent right after CONNACK
        yield collector
    finally:
        stop.set()
        await task


class Publisher:
    """A plain MQTT 5 client; ``publish`` returns once the broker acknowledged (QoS 1)."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-pub-{port}",
                                  protocol=mqtt.MQTTv5)  # fmt: skip
        self.client.connect(LOOPBACK, port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)

    async def send(self, messages: list[tuple[str, bytes]], *, retain: bool = False) -> None:
        """Publish all, then wait (off the event loop) until the broker acknowledged each."""
        infos = [self.client.publish(topic, payload, qos=1, retain=retain) for topic, payload in messages]

        def wait_all() -> None:
            for info in infos:
                info.wait_for_publish(30)

        await asyncio.to_thread(wait_all)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def telemetry(device: str, device_class: str, ts_iso: str, readings: dict[str, Any], *, gateway: str = "gw-1",
              site: str = "HQ", room: str = "B1") -> bytes:  # fmt: skip
    return json.dumps(
        {"schema_version": 1, "ts": ts_iso, "site": site, "room": room, "gateway": gateway, "device": device,
         "device_class": device_class, "readings": {k: {"v": v, "q": "good"} for k, v in readings.items()}},
        ensure_ascii=False,
    ).encode()  # fmt: skip


def iso(ts_ms: int) -> str:
    from lvgate.mqtt_schema.payloads import iso_ms

    return iso_ms(ts_ms)

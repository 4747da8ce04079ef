"""End to end: `lvgate simulate access` -> socat pty -> gateway runtime -> Mosquitto.

Card reads and door changes arrive as events; a door held open raises door_held, one opened
without a grant raises door_forced; no clear card number reaches MQTT or the info-level logs.
(The 200 ms target is measured by bench/access_latency.py, not asserted here.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from lvgate.gateway.config import load_gateway_config
from lvgate.gateway.runtime import Gateway
from tests.serial_peers import PtyPair
from tests.services import MosquittoBroker, MqttProbe, ProcessGuard, lvgate_executable, wait_for_async

KEY = "e2e-site-key-5f1c9a0b7d"
CARD = 51234  # a number that stands out in any text
FC = 77


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[PtyPair]:
    pair = PtyPair(tmp_path / "pty").start()
    try:
        yield pair
    finally:
        pair.stop()


def gateway_config(directory: Path, broker: MosquittoBroker, port: Path, extra: str = "") -> Path:
    path = directory / "gateway.yaml"
    path.write_text(
        f"""site: s1
room: r1
gateway_id: gw
mqtt: {{host: 127.0.0.1, port: {broker.port}, keepalive: 5}}
state_dir: gw-state
devices:
  - id: door-1
    driver: access
    profile: lvgate_ascii
    port: {port}
    card_hash_key: ${{LVGATE_TEST_CARD_KEY}}
    door_held_after: 0.5
    grant_window: 5
    heartbeat_timeout: 600  # reader_offline is tested on its own; keep it out of this sequence
{extra}""",
        encoding="utf-8",
    )
    return path


@contextlib.asynccontextmanager
async def running(gateway: Gateway) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(gateway.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def simulate(guard: ProcessGuard, port: Path, steps: str) -> None:
    proc = guard.start(
        [lvgate_executable(), "simulate", "access", "--port", port, "--profile", "lvgate_ascii", "--steps", steps],
        name="simulate",
    )
    await wait_for_async(lambda: proc.returncode is not None, 30, what="simulator to finish")
    assert proc.returncode == 0, proc.output()


def events(probe: MqttProbe) -> list[dict[str, Any]]:
    """The access driver's events (the runtime's own device_online/device_offline left out)."""
    found = [json.loads(m.payload) for m in probe.received("lvgate/gw/door-1/events")]
    return [e for e in found if not e["event"].startswith("device_")]


def kinds(probe: MqttProbe) -> list[str]:
    return [e["event"] for e in events(probe)]


def values(node: Any) -> Iterator[Any]:
    """Every key and scalar in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from values(value)
    elif isinstance(node, list):
        for value in node:
            yield from values(value)
    else:
        yield node


async def run_scenario(
    tmp_path: Path, broker: MosquittoBroker, pty: PtyPair, guard: ProcessGuard, extra: str = ""
) -> MqttProbe:
    gateway = Gateway(load_gateway_config(gateway_config(tmp_path, broker, pty.gateway, extra)))
    probe = MqttProbe(broker.port).connect()
    probe.subscribe("lvgate/gw/#")
    async with running(gateway):
        await wait_for_async(
            lambda: any(b'"online"' in m.payload for m in probe.received("lvgate/gw/door-1/availability")),
            20,
            what="door-1 online",
        )
        # The controller reports its state, then a granted passage: card, grant, open, close.
        await simulate(
            guard,
            pty.device,
            f"door closed; lock on; heartbeat; card H10301 {FC} {CARD}; grant; door open; door closed",
        )
        await wait_for_async(lambda: "door_closed" in kinds(probe), 10, what="door_closed event")
        assert kinds(probe) == ["card_read", "access_granted", "door_opened", "door_closed"]
        # Opened without a grant, then left open past door_held_after (0.5 s).
        await simulate(guard, pty.device, "door open; sleep 1.0; door closed")
        await wait_for_async(lambda: kinds(probe).count("door_closed") == 2, 10, what="second door_closed")
        await wait_for_async(lambda: probe.received("lvgate/gw/door-1/state"), 10, what="state")
    probe.close()
    return probe


async def test_card_and_door_events_reach_mqtt_without_clear_card_numbers(
    tmp_path: Path,
    mqtt_broker: MosquittoBroker,
    pty: PtyPair,
    process_guard: ProcessGuard,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LVGATE_TEST_CARD_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    probe = await run_scenario(tmp_path, mqtt_broker, pty, process_guard)

    assert kinds(probe)[4:] == ["door_opened", "door_forced", "door_held", "door_closed"]
    forced = events(probe)[5]
    assert forced["severity"] == "critical" and forced["device_class"] == "access_controller"
    held = events(probe)[6]
    assert held["data"]["open_s"] >= 0.5 and held["severity"] == "warning"

    card = events(probe)[0]["data"]
    expected_hash = hmac.new(KEY.encode(), f"H10301:{FC}:{CARD}".encode(), hashlib.sha256).hexdigest()
    assert card == {"result": "valid", "format": "H10301", "bits": 26, "facility_code": FC, "card_hash": expected_hash}

    # Nothing published carries the card number or the key, in any field.
    for message in probe.received("lvgate/#"):
        found = list(values(json.loads(message.payload)))
        assert CARD not in found and str(CARD) not in found and "card_number" not in found, message.topic
        assert KEY not in message.payload.decode()
    # Logs: the number may appear at debug level only; the key never.
    for record in caplog.records:
        text = record.getMessage()
        assert KEY not in text
        if record.levelno >= logging.INFO:
            assert str(CARD) not in text, text
    assert any(str(CARD) in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)

    state = json.loads(probe.received("lvgate/gw/door-1/state")[-1].payload)["values"]
    assert state["door_open"] is False


async def test_clear_card_numbers_only_when_the_device_allows_it(
    tmp_path: Path,
    mqtt_broker: MosquittoBroker,
    pty: PtyPair,
    process_guard: ProcessGuard,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LVGATE_TEST_CARD_KEY", KEY)
    probe = await run_scenario(tmp_path, mqtt_broker, pty, process_guard, "    publish_card_numbers: true\n")
    assert events(probe)[0]["data"]["card_number"] == CARD


async def test_pty_gone_and_back_resumes_without_restart_and_reports_the_gap(
    tmp_path: Path,
    mqtt_broker: MosquittoBroker,
    pty: PtyPair,
    process_guard: ProcessGuard,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LVGATE_TEST_CARD_KEY", KEY)
    extra = "    reopen_max_delay: 0.5\n"
    gateway = Gateway(load_gateway_config(gateway_config(tmp_path, mqtt_broker, pty.gateway, extra)))
    probe = MqttProbe(mqtt_broker.port).connect()
    probe.subscribe("lvgate/gw/#")

    def availability() -> list[str]:
        return [json.loads(m.payload)["state"] for m in probe.received("lvgate/gw/door-1/availability")]

    async with running(gateway):
        await wait_for_async(lambda: availability()[-1:] == ["online"], 20, what="door-1 online")
        await simulate(process_guard, pty.device, f"card H10301 {FC} {CARD}")
        await wait_for_async(lambda: "card_read" in kinds(probe), 10, what="first card")
        await asyncio.to_thread(pty.unplug)
        await wait_for_async(lambda: availability()[-1:] == ["offline"], 10, what="door-1 offline")
        await asyncio.sleep(0.3)
        await asyncio.to_thread(pty.replug)
        await wait_for_async(lambda: "link_restored" in kinds(probe), 10, what="link_restored")
        await simulate(process_guard, pty.device, f"card H10301 {FC} {CARD + 1}")
        await wait_for_async(lambda: kinds(probe).count("card_read") == 2, 10, what="card after the gap")
    probe.close()
    assert availability()[-3:] == ["online", "offline", "online"]
    offline = json.loads(probe.received("lvgate/gw/door-1/availability")[-2].payload)
    assert offline["reason"] == "port_lost"
    assert kinds(probe) == ["card_read", "link_lost", "link_restored", "card_read"]
    restored = events(probe)[2]["data"]
    assert restored["offline_s"] >= 0.3

"""Debounce end to end: the real gateway runtime, a real Mosquitto, a TCP server that goes away and comes back."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path

from lvgate.gateway.config import load_gateway_config
from lvgate.gateway.runtime import Gateway
from tests.reachability_servers import LOOPBACK
from tests.services import MosquittoBroker, MqttProbe, free_port, wait_for_async

DOWN_AFTER = 3
INTERVAL = 0.2


def _config(tmp_path: Path, broker_port: int, target_port: int) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"""
site: test
room: lab
gateway_id: gw-reach
mqtt: {{host: {LOOPBACK}, port: {broker_port}}}
state_dir: state
devices:
  - id: nvr-1
    driver: reachability
    host: {LOOPBACK}
    poll_interval: {INTERVAL}
    timeout: 0.5
    down_after: {DOWN_AFTER}
    checks:
      - {{kind: tcp, port: {target_port}}}
""",
        encoding="utf-8",
    )
    return path


async def _serve(port: int) -> asyncio.Server:
    return await asyncio.start_server(lambda r, w: w.close(), LOOPBACK, port)


def _events(probe: MqttProbe) -> list[dict[str, object]]:
    return [json.loads(m.payload) for m in probe.received("lvgate/gw-reach/nvr-1/events")]


async def test_server_stopped_and_started_gives_one_down_and_one_up(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    port = free_port()
    server = await _serve(port)
    gateway = Gateway(load_gateway_config(_config(tmp_path, mqtt_broker.port, port)))
    stop = asyncio.Event()
    with MqttProbe(mqtt_broker.port) as probe:
        probe.subscribe("lvgate/#")
        running = asyncio.create_task(gateway.run(stop))
        stats = gateway.devices["nvr-1"].stats

        def polls_after(count: int) -> Callable[[], bool]:
            target = stats.polls + count
            return lambda: stats.polls >= target

        try:
            # Up and answering: the state shows it, and there is no event.
            await wait_for_async(lambda: probe.received("lvgate/gw-reach/nvr-1/state"), 15, what="device state")
            await wait_for_async(polls_after(3), 15, what="three polls")
            assert _events(probe) == []

            server.close()
            await server.wait_closed()
            stopped_at = stats.polls
            await wait_for_async(lambda: len(_events(probe)) >= 1, 15, what="the down event")
            assert stats.polls - stopped_at >= DOWN_AFTER  # not before DOWN_AFTER failed polls
            await wait_for_async(polls_after(3), 15, what="three more polls while down")

            server = await _serve(port)
            await wait_for_async(lambda: len(_events(probe)) >= 2, 15, what="the up event")
            await wait_for_async(polls_after(3), 15, what="three polls after up")
        finally:
            stop.set()
            await asyncio.wait_for(running, 15)
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()
        events = _events(probe)
    assert [e["event"] for e in events] == ["down", "up"]
    down, up = events
    assert down["device"] == "nvr-1" and down["device_class"] == "host" and down["severity"] == "critical"
    assert down["data"] == {
        "host": LOOPBACK,
        "failed_polls": DOWN_AFTER,
        "failed": {f"tcp:{port}": "refused"},
    }
    assert up["severity"] == "info"
    state = json.loads(probe.received("lvgate/gw-reach/nvr-1/state")[-1].payload)
    assert state["values"]["reachable"] is True

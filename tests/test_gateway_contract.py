"""Everything the gateway publishes follows the contract; Home Assistant discovery lifecycle."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.contract import contract_problems
from tests.gateway_harness import CountingSensor, gateway_yaml, load_gateway, running
from tests.services import MosquittoBroker, MqttProbe, free_port, wait_for_async


async def test_every_message_validates_and_discovery_follows_the_devices(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    sensor = CountingSensor(free_port())
    await sensor.start()
    text = gateway_yaml(mqtt_broker.port, sensor.port, interval=0.2, name="Sensor / 机房 #1")
    second = text[text.index("  - id: sensor-1") :].replace("sensor-1", "sensor-2").replace("unit: 1", "unit: 9")
    gateway = load_gateway(tmp_path, text + second)
    with MqttProbe(mqtt_broker.port) as probe:
        probe.subscribe("#")
        async with running(gateway):
            await wait_for_async(lambda: len(sensor.served) >= 5, timeout=15, what="polls")
            # sensor-2 (unit 9) never answers: it goes offline with a reason
            await wait_for_async(
                lambda: gateway.devices["sensor-2"].stats.online is False, timeout=15, what="sensor-2 offline"
            )
            discovery_topics = {m.topic for m in probe.received("homeassistant/#")}
            announced = len(probe.received("homeassistant/#"))
            probe.publish("homeassistant/status", b"online")
            await wait_for_async(
                lambda: len(probe.received("homeassistant/#")) >= 2 * announced, timeout=10, what="re-announce"
            )
            # reload without sensor-2: its discovery config is cleared
            (tmp_path / "gateway.yaml").write_text(text, encoding="utf-8")
            probe.publish("lvgate/gw/bridge/request/reload_config", b'{"transaction": "r"}')
            await asyncio.to_thread(probe.wait_for_message, "lvgate/gw/bridge/response/reload_config", 10)
            await asyncio.sleep(0.5)
        await sensor.stop()
    messages = probe.received("#")
    assert contract_problems(messages) == []
    device_configs = sorted(t for t in discovery_topics if t.startswith("homeassistant/device/"))
    assert len(device_configs) == 3, device_configs  # the gateway and two devices
    cleared = [m for m in messages if m.topic.startswith("homeassistant/device/") and m.payload == b""]
    assert len(cleared) == 1 and "sensor_2" in cleared[0].topic.replace("-", "_")
    sensor_config = next(
        json.loads(m.payload)
        for m in messages
        if m.topic.startswith("homeassistant/device/") and b"sensor-1" in m.payload
    )
    assert sensor_config["dev"]["name"] == "Sensor / 机房 #1"
    leaves = {m.topic.split("/", 3)[-1] for m in messages if m.topic.startswith("lvgate/gw/sensor-1/")}
    assert {"telemetry", "state", "availability"} <= leaves
    offline = [json.loads(m.payload) for m in messages if m.topic == "lvgate/gw/sensor-2/availability" and m.payload]
    assert offline and offline[-1]["state"] == "offline" and offline[-1]["reason"]

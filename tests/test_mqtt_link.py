"""The MQTT link on the event loop, against a real Mosquitto: reads served from one recv()."""

from __future__ import annotations

import asyncio
import time

import paho.mqtt.client as mqtt

from lvgate.mqtt_link import LinkSettings, MqttLink
from tests.services import MosquittoBroker, MqttProbe, wait_for_async

COUNT = 3000  # ~40 bytes each: far more packets than one event-loop turn takes (500)


async def test_a_burst_waiting_in_the_socket_arrives_whole_and_in_order(mqtt_broker: MosquittoBroker) -> None:
    received: list[int] = []

    def on_message(message: mqtt.MQTTMessage) -> None:
        received.append(int(message.payload))

    async def on_connected() -> None:
        link.subscribe(["burst/#"], qos=0)

    link = MqttLink(LinkSettings("127.0.0.1", mqtt_broker.port, "t-burst"), on_connected=on_connected,
                    on_message=on_message)  # fmt: skip
    link.start()
    try:
        await wait_for_async(lambda: link.connected.is_set(), timeout=10, what="link connected")
        await asyncio.sleep(0.3)  # SUBSCRIBE acknowledged
        with MqttProbe(mqtt_broker.port).connect() as publisher:
            for i in range(COUNT):
                publisher.client.publish(f"burst/{i % 7}", str(i).encode(), qos=0)
            # Keep the event loop busy while the broker delivers: the whole burst piles up in the
            # socket, and the link's first recv() takes most of it at once.
            time.sleep(1.0)
            await wait_for_async(lambda: len(received) >= COUNT, timeout=20, what=f"{COUNT} messages")
    finally:
        await link.stop()
    assert received == list(range(COUNT))

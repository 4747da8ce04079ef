"""Check captured MQTT traffic against the contract (JSON Schemas and HA discovery rules)."""

from __future__ import annotations

import json

from lvgate.mqtt_schema.catalog import BRIDGE_LEAVES, DEVICE_LEAVES, RESPONSE, TopicSpec
from lvgate.mqtt_schema.validate import validate_message
from tests.ha_discovery_rules import check_discovery
from tests.services import ReceivedMessage


def contract_problems(messages: list[ReceivedMessage]) -> list[str]:
    problems: list[str] = []
    for message in messages:
        if message.topic == "homeassistant/status" or "/bridge/request/" in message.topic:
            continue  # what Home Assistant and the test said, not the gateway
        if message.topic.startswith("homeassistant/"):
            if message.payload:
                problems += [
                    f"{message.topic}: {p}" for p in check_discovery(message.topic, json.loads(message.payload))
                ]
        else:
            problems += [f"{message.topic}: {p}" for p in validate_message("lvgate", message.topic, message.payload)]
            spec = _spec(message.topic)
            # Probes subscribe with QoS 1; a clear (empty retained payload) always goes with QoS 1.
            if spec is not None and message.payload and message.qos != min(spec.qos, 1):
                problems.append(f"{message.topic}: arrived with QoS {message.qos}, the contract says {spec.qos}")
    return problems


def _spec(topic: str) -> TopicSpec | None:
    """The catalog's entry for a topic under the base 'lvgate' (gateway/device/leaf or gateway/bridge/...)."""
    parts = topic.split("/")
    if len(parts) == 4 and parts[2] == "bridge":
        return BRIDGE_LEAVES.get(parts[3])
    if len(parts) == 5 and parts[2:4] == ["bridge", "response"]:
        return RESPONSE
    if len(parts) == 4:
        return DEVICE_LEAVES.get(parts[3])
    return None

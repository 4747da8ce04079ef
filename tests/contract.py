"""Check captured MQTT traffic against the contract (JSON Schemas and HA discovery rules)."""

from __future__ import annotations

import json

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
    return problems

"""The topic table as data: every topic the gateway uses, its retain flag, QoS and payload schema.

``topics.py`` builds topic strings; this table says what travels on each one, and it is what
:func:`lvgate.mqtt_schema.validate.schema_for_topic` and the generated ``docs/mqtt.md`` read.
"""

from __future__ import annotations

from dataclasses import dataclass

# Commands a client may send on ``bridge/request/<command>``; answered on ``bridge/response/<command>``.
COMMANDS: dict[str, str] = {
    "poll_now": "poll one device (`device`) or every polled device at once, now",
    "reload_config": "re-read the config file; devices are restarted only if the config changed",
    "get_config": "the running config, secrets redacted",
    "list_devices": "every configured device with its class, driver, profile and availability",
}


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One row of the topic table. ``pattern`` is relative to ``{base}/{gateway}``."""

    pattern: str
    schema: str
    retained: bool
    qos: int
    publisher: str
    summary: str


DEVICE_LEAVES: dict[str, TopicSpec] = {
    spec.pattern.removeprefix("{device}/"): spec
    for spec in (
        TopicSpec(
            "{device}/telemetry",
            "telemetry",
            False,
            1,
            "gateway",
            "Every measurement, stamped with the time it was measured; replayed in order after an outage.",
        ),
        TopicSpec(
            "{device}/state", "state", True, 0, "gateway", "Latest value of every entity of the device (retained)."
        ),
        TopicSpec(
            "{device}/availability",
            "availability",
            True,
            1,
            "gateway",
            "Whether the gateway can read the device, with the reason when it cannot.",
        ),
        TopicSpec(
            "{device}/events",
            "events",
            False,
            1,
            "gateway",
            "Things that happened at the device (card read, door forced, trap); never retained.",
        ),
        TopicSpec(
            "{device}/alarms",
            "alarms",
            True,
            1,
            "collector",
            "The device's active alarms (retained list; an empty list when none is active).",
        ),
        TopicSpec(
            "{device}/info",
            "device_info",
            True,
            1,
            "gateway",
            "Identity and inventory of the device (manufacturer, model, serial, firmware).",
        ),
    )
}

BRIDGE_LEAVES: dict[str, TopicSpec] = {
    spec.pattern.removeprefix("bridge/"): spec
    for spec in (
        TopicSpec(
            "bridge/state",
            "bridge_state",
            True,
            1,
            "gateway",
            "Gateway online/offline; `offline` is the connection's last will.",
        ),
        TopicSpec(
            "bridge/info",
            "bridge_info",
            True,
            1,
            "gateway",
            "Gateway version, config digest and the devices it runs.",
        ),
        TopicSpec(
            "bridge/health",
            "bridge_health",
            False,
            1,
            "gateway",
            "Uptime, memory, queue depth and drops, per-device poll statistics; sent periodically.",
        ),
    )
}

REQUEST = TopicSpec(
    "bridge/request/{command}",
    "bridge_request_{command}",
    False,
    1,
    "client",
    "A command to the gateway, with a `transaction` id chosen by the caller.",
)
RESPONSE = TopicSpec(
    "bridge/response/{command}",
    "bridge_response_{command}",
    False,
    1,
    "gateway",
    "The answer to a command, carrying the caller's `transaction` id.",
)


def all_topics() -> list[TopicSpec]:
    """The whole table, in the order the documentation shows it."""
    return [*BRIDGE_LEAVES.values(), REQUEST, RESPONSE, *DEVICE_LEAVES.values()]

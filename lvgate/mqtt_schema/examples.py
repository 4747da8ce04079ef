"""One example payload per schema, for the documentation (a test checks each one validates).

Measurement payloads are built with the same builders the gateway uses (``payloads.py``), so
the examples show what is really published.
"""

from __future__ import annotations

from typing import Any

from lvgate.mqtt_schema import payloads
from lvgate.mqtt_schema.catalog import COMMANDS
from lvgate.mqtt_schema.topics import SCHEMA_VERSION
from lvgate.reading import Quality, Reading

BASE = "lvgate"
GATEWAY = "gw-b1"
DEVICE = "ups-1"
SITE = "Tower B"
ROOM = "B1 equipment room"
# 2026-03-01T08:15:00.250Z
T0 = 1_772_352_900_250


def _ts(offset_ms: int = 0) -> str:
    return payloads.iso_ms(T0 + offset_ms)


def _readings() -> list[Reading]:
    return [
        Reading(DEVICE, "output_voltage", 229.8, T0),
        Reading(DEVICE, "load", 37.5, T0),
        Reading(DEVICE, "battery_charge", 100.0, T0),
        Reading(DEVICE, "battery_runtime", 2460.0, T0),
        Reading(DEVICE, "on_battery", False, T0),
        Reading(DEVICE, "power_mode", "online", T0),
        Reading(DEVICE, "battery_temperature", None, T0 + 120, Quality.BAD),
    ]


_UNITS = {
    "output_voltage": "V",
    "load": "%",
    "battery_charge": "%",
    "battery_runtime": "s",
    "battery_temperature": "°C",
}


def telemetry() -> dict[str, Any]:
    return payloads.telemetry(
        site=SITE,
        room=ROOM,
        gateway=GATEWAY,
        device=DEVICE,
        device_class="ups",
        readings=_readings(),
        units=dict(_UNITS),
    )


def state() -> dict[str, Any]:
    latest = {r.key: (r.value, r.ts_ms, r.quality) for r in _readings()}
    return payloads.state(DEVICE, latest, device_class="ups")


def device_info() -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "device": DEVICE,
        "name": "UPS 1 / 机房B1 #1",
        "device_class": "ups",
        "driver": "modbus",
        "profile": "huawei_ups2000",
        "identity": {"manufacturer": "Huawei", "model": "UPS2000-G-3KRTS", "serial": "2102311QNT10K3000123"},
    }


def examples() -> dict[str, tuple[str, dict[str, Any]]]:
    """Schema name -> (example topic, example payload)."""
    root = f"{BASE}/{GATEWAY}"
    dev = f"{root}/{DEVICE}"
    device_entry = {
        "id": DEVICE,
        "name": "UPS 1 / 机房B1 #1",
        "driver": "modbus",
        "profile": "huawei_ups2000",
        "device_class": "ups",
    }
    found: dict[str, tuple[str, dict[str, Any]]] = {
        "bridge_state": (f"{root}/bridge/state", {"schema_version": SCHEMA_VERSION, "state": "online"}),
        "bridge_info": (
            f"{root}/bridge/info",
            {
                "schema_version": SCHEMA_VERSION,
                "version": "0.1.0",
                "gateway": GATEWAY,
                "site": SITE,
                "room": ROOM,
                "config_digest": "sha256:5f1c0e9a",
                "started": _ts(-3_600_000),
                "devices": [device_entry],
            },
        ),
        "bridge_health": (
            f"{root}/bridge/health",
            {
                "schema_version": SCHEMA_VERSION,
                "ts": _ts(),
                "uptime_s": 3600.0,
                "rss_bytes": 41_943_040,
                "queue_depth": 0,
                "queue_dropped": {"dropped_history": 0},
                "devices": {
                    DEVICE: {"polls": 360, "failures": 2, "success_rate": 0.9944, "last_poll_ms": 41.7, "online": True}
                },
            },
        ),
        "telemetry": (f"{dev}/telemetry", telemetry()),
        "state": (f"{dev}/state", state()),
        "availability": (f"{dev}/availability", payloads.availability(False, T0, "timeout")),
        "events": (
            f"{dev}/events",
            {
                "schema_version": SCHEMA_VERSION,
                "ts": _ts(),
                "site": SITE,
                "room": ROOM,
                "gateway": GATEWAY,
                "device": DEVICE,
                "device_class": "ups",
                "event": "on_battery",
                "severity": "warning",
                "data": {"input_voltage": 0.0},
            },
        ),
        "alarms": (
            f"{dev}/alarms",
            {
                "schema_version": SCHEMA_VERSION,
                "ts": _ts(),
                "device": DEVICE,
                "alarms": [
                    {
                        "id": "a-20260301-0007",
                        "rule": "ups_on_battery",
                        "level": "II",
                        "state": "raised",
                        "raised": _ts(-60_000),
                        "message": "UPS 1 is running on battery",
                        "entity": "on_battery",
                        "value": True,
                    }
                ],
            },
        ),
        "device_info": (f"{dev}/info", device_info()),
    }
    for command in COMMANDS:
        request: dict[str, Any] = {"transaction": "c0ffee-1"}
        if command == "poll_now":
            request["device"] = DEVICE
        found[f"bridge_request_{command}"] = (f"{root}/bridge/request/{command}", request)
        found[f"bridge_response_{command}"] = (
            f"{root}/bridge/response/{command}",
            {"schema_version": SCHEMA_VERSION, "transaction": "c0ffee-1", "status": "ok", "data": _data(command)},
        )
    return found


def _data(command: str) -> dict[str, Any]:
    if command == "poll_now":
        return {"devices": {DEVICE: {"readings": 17, "online": True}}}
    if command == "reload_config":
        return {"config_digest": "5f1c0e9a2b7d4c31", "added": ["env-2"], "removed": [], "changed": [DEVICE]}
    if command == "get_config":
        return {
            "config_digest": "5f1c0e9a2b7d4c31",
            "file": "/etc/lvgate/room.yaml",
            "config": {"site": SITE, "room": ROOM, "gateway_id": GATEWAY, "mqtt": {"password": "***"}},
        }
    entry = {"id": DEVICE, "name": "UPS 1", "driver": "modbus", "profile": "huawei_ups2000", "device_class": "ups"}
    return {"devices": [{**entry, "online": True, "reason": None, "entities": ["battery_charge", "load"]}]}


def error_response() -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "transaction": "c0ffee-2",
        "status": "error",
        "error": "unknown device 'ups-9' (did you mean 'ups-1'?)",
    }

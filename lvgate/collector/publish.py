"""The retained ``{base}/{gateway}/{device}/alarms`` payload (schema ``alarms`` of mqtt_schema)."""

from __future__ import annotations

from typing import Any

from lvgate.collector.alarms.book import alarm_state
from lvgate.mqtt_schema.payloads import iso_ms
from lvgate.mqtt_schema.topics import SCHEMA_VERSION


def alarm_entry(row: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": row["id"],
        "rule": row["rule"],
        "level": row["level"],
        "state": alarm_state(row),
        "raised": iso_ms(row["raised_ms"]),
        "message": row["message"],
    }
    if row["entity"]:
        entry["entity"] = row["entity"]
    if isinstance(row["value"], str | int | float | bool):
        entry["value"] = row["value"]
    if row["acknowledged_ms"] is not None:
        entry["acknowledged"] = iso_ms(row["acknowledged_ms"])
    if row["cleared_ms"] is not None:
        entry["cleared"] = iso_ms(row["cleared_ms"])
    return entry


def alarms_payload(device: str, rows: list[dict[str, Any]], now_ms: int, collector_id: str) -> dict[str, Any]:
    """Every alarm of the device that is not closed; an empty list when there is none.

    ``collector`` names the publisher, so that a ``role: book`` collector can tell when a
    second alarm book is running (see ``Collector._on_alarms``)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "ts": iso_ms(now_ms),
        "device": device,
        "collector": collector_id,
        "alarms": [alarm_entry(r) for r in rows if r["closed_ms"] is None],
    }

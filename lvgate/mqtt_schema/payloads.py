"""Build the JSON payloads the gateway publishes.

Times are ISO 8601 in UTC with millisecond precision and a ``Z`` suffix (``ts``): readable in
any MQTT tool, sortable as text, parsed by every language. Each reading may carry its own
``ts`` when it was measured at another moment than the message's.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from lvgate.mqtt_schema.topics import SCHEMA_VERSION
from lvgate.reading import Quality, Reading, Value

_second_prefix: tuple[int, str] = (-1, "")


def iso_ms(ts_ms: int) -> str:
    """Epoch milliseconds -> ``2026-12-03T16:15:26.123Z``.

    On the hot path of every message: the date and time of day are formatted once per second.
    """
    global _second_prefix
    seconds, millis = divmod(ts_ms, 1000)
    if _second_prefix[0] != seconds:
        t = time.gmtime(seconds)
        _second_prefix = (
            seconds,
            f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}",
        )
    return f"{_second_prefix[1]}.{millis:03d}Z"


def parse_iso_ms(text: str) -> int:
    """Inverse of :func:`iso_ms` (accepts any ISO 8601 time with an offset)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"time without offset: {text!r}")
    return round(parsed.timestamp() * 1000)


def dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def reading_entry(reading: Reading, unit: str | None, message_ts_ms: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"v": reading.value, "q": reading.quality.value}
    if unit:
        entry["u"] = unit
    if reading.ts_ms != message_ts_ms:
        entry["ts"] = iso_ms(reading.ts_ms)
    return entry


def telemetry(
    *,
    site: str,
    room: str,
    gateway: str,
    device: str,
    device_class: str,
    readings: list[Reading],
    units: dict[str, str | None],
) -> dict[str, Any]:
    ts = min(r.ts_ms for r in readings)
    return {
        "schema_version": SCHEMA_VERSION,
        "ts": iso_ms(ts),
        "site": site,
        "room": room,
        "gateway": gateway,
        "device": device,
        "device_class": device_class,
        # an instance key (temperature.1010) has the unit of its base key
        "readings": {
            r.key: reading_entry(r, units.get(r.key, units.get(r.key.partition(".")[0])), ts) for r in readings
        },
    }


def state(
    device: str, values: dict[str, tuple[Value, int, Quality]], device_class: str | None = None
) -> dict[str, Any]:
    """``device_class``, when given, lets a consumer check the keys against the vocabulary."""
    latest = max((ts for _, ts, _ in values.values()), default=0)
    payload: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "ts": iso_ms(latest),
        "device": device,
        "values": {key: value for key, (value, _, _) in values.items()},
        "quality": {key: q.value for key, (_, _, q) in values.items() if q is not Quality.GOOD},
    }
    if device_class is not None:
        payload["device_class"] = device_class
    return payload


def availability(online: bool, ts_ms: int, reason: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "state": "online" if online else "offline",
        "ts": iso_ms(ts_ms),
    }
    if reason:
        payload["reason"] = reason
    return payload

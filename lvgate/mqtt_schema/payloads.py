"""Build the JSON payloads the gateway publishes.

Times are ISO 8601 in UTC with millisecond precision and a ``Z`` suffix (``ts``): readable in
any MQTT tool, sortable as text, parsed by every language. Each reading may carry its own
``ts`` when it was measured at another moment than the message's.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from datetime import datetime
from json.encoder import encode_basestring
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


# --------------------------------------------------------------------------- per-device encoders
#
# Telemetry and state are the gateway's hot path: one of each per device per poll. A device's
# encoder writes the same bytes as ``dumps(telemetry(...))`` and ``dumps(state(...))`` (a
# differential test in tests/test_mqtt_schema.py holds it to that), with what never changes
# for the device (site, names, each key's quoted name and unit) encoded once.


def value_json(value: Value) -> str:
    """One value as :func:`dumps` writes it (json's own rules: subclasses as their base)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
        return float.__repr__(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if value is None:
        return "null"
    if isinstance(value, str):
        text: str = encode_basestring(value)
        return text
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class DeviceEncoder:
    """Telemetry and state payloads of one device, as bytes."""

    def __init__(
        self, *, site: str, room: str, gateway: str, device: str, device_class: str, units: Mapping[str, str | None]
    ) -> None:
        self.units = dict(units)
        head = {"site": site, "room": room, "gateway": gateway, "device": device, "device_class": device_class}
        # {"schema_version":1,"ts":"<ts>","site":...,"device_class":...,"readings":{...}}
        self._telemetry_open = f'{{"schema_version":{SCHEMA_VERSION},"ts":"'
        self._telemetry_middle = '",' + dumps(head).decode()[1:-1] + ',"readings":{'
        self._state_open = f'{{"schema_version":{SCHEMA_VERSION},"ts":"'
        self._state_middle = '","device":' + encode_basestring(device) + ',"values":{'
        self._state_class = ',"device_class":' + encode_basestring(device_class)
        self._entry_parts: dict[tuple[str, Quality], tuple[str, str]] = {}
        self._quoted: dict[str, str] = {}
        # key -> (value, '"key":<value>'): what telemetry just encoded, for the state that follows.
        self._memo: dict[str, tuple[Value, str]] = {}

    def _parts(self, key: str, quality: Quality) -> tuple[str, str]:
        """What goes before and after the value of ``key`` in a telemetry entry."""
        parts = self._entry_parts.get((key, quality))
        if parts is None:
            unit = self.units.get(key, self.units.get(key.partition(".")[0]))
            after = f',"q":{encode_basestring(quality.value)}' + (f',"u":{encode_basestring(unit)}' if unit else "")
            parts = self._entry_parts[(key, quality)] = (encode_basestring(key) + ':{"v":', after)
        return parts

    def _key(self, key: str) -> str:
        quoted = self._quoted.get(key)
        if quoted is None:
            quoted = self._quoted[key] = encode_basestring(key)
        return quoted

    def telemetry(self, readings: list[Reading]) -> bytes:
        """``dumps(telemetry(...))`` of this device."""
        ts = min(r.ts_ms for r in readings)
        entries: dict[str, str] = {}  # a key read twice keeps its first place and its last value, as in a dict
        parts = self._parts
        memo = self._memo
        key = self._key
        for reading in readings:
            value = reading.value
            encoded = value_json(value)
            memo[reading.key] = (value, f"{key(reading.key)}:{encoded}")
            before, after = parts(reading.key, reading.quality)
            if reading.ts_ms == ts:
                entries[reading.key] = f"{before}{encoded}{after}}}"
            else:
                entries[reading.key] = f'{before}{encoded}{after},"ts":"{iso_ms(reading.ts_ms)}"}}'
        return (f"{self._telemetry_open}{iso_ms(ts)}{self._telemetry_middle}{','.join(entries.values())}}}}}").encode()

    def state(self, values: Mapping[str, tuple[Value, int, Quality]], device_class: bool = True) -> bytes:
        """``dumps(state(device, values, device_class))`` of this device (its class left out if not)."""
        latest = max((ts for _, ts, _ in values.values()), default=0)
        key = self._key
        good = Quality.GOOD
        memo = self._memo
        shown_parts = []
        for k, (value, _, _) in values.items():
            known = memo.get(k)
            # The very object telemetry encoded: its text is known (``is``, so 1 never passes for 1.0).
            shown_parts.append(known[1] if known is not None and known[0] is value else f"{key(k)}:{value_json(value)}")
        shown = ",".join(shown_parts)
        doubtful = ",".join(f'{key(k)}:"{q.value}"' for k, (_, _, q) in values.items() if q is not good)
        tail = self._state_class if device_class else ""
        return (
            f'{self._state_open}{iso_ms(latest)}{self._state_middle}{shown}}},"quality":{{{doubtful}}}{tail}}}'.encode()
        )

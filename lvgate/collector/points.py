"""Telemetry messages -> storage points, with field types fixed by the vocabulary."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lvgate.mqtt_schema.payloads import parse_iso_ms
from lvgate.mqtt_schema.vocabulary import EntityKind, entity_kind, vocabulary

FieldValue = float | bool | str
_NUMBER = (int, float)  # a tuple: ``int | float`` would build a union object on every call


@dataclass(frozen=True, slots=True)
class Point:
    """One stored sample. ``measurement`` is the device class; one entity per point."""

    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    ts_ms: int

    @property
    def value(self) -> FieldValue | None:
        for name in ("value", "value_bool", "value_str"):
            if name in self.fields:
                return self.fields[name]
        return None


_KINDS: dict[tuple[str, str], EntityKind] = {}


def _kind(device_class: str, key: str) -> EntityKind:
    """entity_kind, remembered per (class, key): the same keys arrive in every message."""
    kind = _KINDS.get((device_class, key))
    if kind is None:
        kind = entity_kind(device_class, key)  # KeyError for a key outside the vocabulary
        if len(_KINDS) < 100_000:
            _KINDS[(device_class, key)] = kind
    return kind


class PayloadError(ValueError):
    """A message that cannot be turned into points; the text says why."""


def _field_for(value_type: str, value: Any) -> tuple[str, FieldValue] | None:
    """The field name and the value as the vocabulary types it. None for 'no value'."""
    if value is None:
        return None
    if value_type in ("float", "int"):
        if isinstance(value, bool) or not isinstance(value, _NUMBER):
            raise PayloadError(f"expected a number, got {value!r}")
        number = float(value)
        if not math.isfinite(number):
            return None  # InfluxDB cannot store NaN or infinities
        return "value", number
    if value_type == "bool":
        if not isinstance(value, bool):
            raise PayloadError(f"expected true/false, got {value!r}")
        return "value_bool", value
    if not isinstance(value, str):
        raise PayloadError(f"expected a state word, got {value!r}")
    return "value_str", value


def telemetry_points(message: dict[str, Any]) -> list[Point]:
    """Points of one telemetry payload (already schema-checked for shape)."""
    try:
        device_class = message["device_class"]
        base_ts = parse_iso_ms(message["ts"])
        base_tags = {
            "site": str(message["site"]),
            "room": str(message["room"]),
            "gateway": str(message["gateway"]),
            "device": str(message["device"]),
            "device_class": str(device_class),
        }
        readings = message["readings"]
    except (KeyError, TypeError, ValueError) as exc:
        raise PayloadError(f"telemetry without {exc}") from exc
    known = vocabulary().get(device_class)
    if known is None:
        raise PayloadError(f"unknown device class '{device_class}'")
    points: list[Point] = []
    for key, entry in readings.items():
        try:
            kind = _kind(device_class, key)  # per-sensor keys like psu_status.7402 included
        except KeyError:
            raise PayloadError(f"entity '{key}' is not in the vocabulary of '{device_class}'") from None
        try:
            field = _field_for(kind.type, entry.get("v"))
        except PayloadError as exc:
            raise PayloadError(f"entity '{key}': {exc}") from None
        fields: dict[str, FieldValue] = {}
        if field is not None:
            fields[field[0]] = field[1]
        quality = entry.get("q", "good")
        if quality != "good" or field is None:
            fields["quality"] = str(quality)
        tags = {**base_tags, "entity": key}
        if kind.unit:
            tags["unit"] = kind.unit
        ts = parse_iso_ms(entry["ts"]) if "ts" in entry else base_ts
        points.append(Point(device_class, tags, fields, ts))
    return points

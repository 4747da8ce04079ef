"""Telemetry messages -> storage points, with field types fixed by the vocabulary."""

from __future__ import annotations

import math
from typing import Any

from lvgate.collector.line_protocol import series_head
from lvgate.mqtt_schema.payloads import parse_iso_ms
from lvgate.mqtt_schema.vocabulary import EntityKind, entity_kind, vocabulary

FieldValue = float | bool | str
_NUMBER = (int, float)  # a tuple: ``int | float`` would build a union object on every call
_VALUE_FIELDS = ("value", "value_bool", "value_str")


class Point:
    """One stored sample. ``measurement`` is the device class; one entity per point.

    ``head`` is the line protocol series key (measurement and escaped tags) when the maker
    already knows it (``telemetry_points`` does, once per series), else None. A plain class
    with slots: a batch makes one per reading, and a frozen dataclass costs five times more.
    Points of one series may share their ``tags`` dict: treat it as read-only.
    """

    __slots__ = ("fields", "head", "measurement", "tags", "ts_ms")

    def __init__(
        self, measurement: str, tags: dict[str, str], fields: dict[str, FieldValue], ts_ms: int, head: str | None = None
    ) -> None:
        self.measurement = measurement
        self.tags = tags
        self.fields = fields
        self.ts_ms = ts_ms
        self.head = head

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Point):
            return NotImplemented
        return (self.measurement, self.tags, self.fields, self.ts_ms) == (
            other.measurement,
            other.tags,
            other.fields,
            other.ts_ms,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable dicts inside: not hashable

    def __repr__(self) -> str:
        return f"Point({self.measurement!r}, {self.tags!r}, {self.fields!r}, {self.ts_ms!r})"

    @property
    def value(self) -> FieldValue | None:
        fields = self.fields
        for name in _VALUE_FIELDS:
            if name in fields:
                return fields[name]
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


# What repeats for every sample of one series, worked out once: (kind, tags, line protocol head),
# by device (class, site, room, gateway, device), then by entity key.
_Series = tuple[EntityKind, dict[str, str], str]
_SERIES: dict[tuple[str, str, str, str, str], dict[str, _Series]] = {}
_SERIES_MAX = 100_000  # entries over all devices
_series_count = 0
_isfinite = math.isfinite


def _new_series(device: tuple[str, str, str, str, str], known: dict[str, _Series], key: str) -> _Series:
    global _series_count
    device_class, site, room, gateway, name = device
    try:
        kind = _kind(device_class, key)  # per-sensor keys like psu_status.7402 included
    except KeyError:
        raise PayloadError(f"entity '{key}' is not in the vocabulary of '{device_class}'") from None
    tags = {"site": site, "room": room, "gateway": gateway, "device": name, "device_class": device_class, "entity": key}
    if kind.unit:
        tags["unit"] = kind.unit
    series = (kind, tags, series_head(device_class, tags))
    if _series_count >= _SERIES_MAX:
        _SERIES.clear()
        _series_count = 0
        _SERIES[device] = known = {}
    known[key] = series
    _series_count += 1
    return series


def telemetry_points(message: dict[str, Any]) -> list[Point]:
    """Points of one telemetry payload (already schema-checked for shape)."""
    try:
        device_class = message["device_class"]
        base_ts = parse_iso_ms(message["ts"])
        site, room = str(message["site"]), str(message["room"])
        gateway, device = str(message["gateway"]), str(message["device"])
        readings = message["readings"]
    except (KeyError, TypeError, ValueError) as exc:
        raise PayloadError(f"telemetry without {exc}") from exc
    if vocabulary().get(device_class) is None:
        raise PayloadError(f"unknown device class '{device_class}'")
    ident = (device_class, site, room, gateway, device)
    known = _SERIES.get(ident)
    if known is None:
        known = _SERIES[ident] = {}
    points: list[Point] = []
    append = points.append
    for key, entry in readings.items():
        kind, tags, head = known.get(key) or _new_series(ident, known, key)
        value = entry.get("v")
        quality = entry.get("q", "good")
        fields: dict[str, FieldValue]
        if type(value) is float and kind.type == "float" and _isfinite(value):
            # The common case, decided without the general conversion below.
            fields = {"value": value} if quality == "good" else {"value": value, "quality": str(quality)}
        else:
            try:
                field = _field_for(kind.type, value)
            except PayloadError as exc:
                raise PayloadError(f"entity '{key}': {exc}") from None
            fields = {}
            if field is not None:
                fields[field[0]] = field[1]
            if quality != "good" or field is None:
                fields["quality"] = str(quality)
        ts = parse_iso_ms(entry["ts"]) if "ts" in entry else base_ts
        append(Point(device_class, tags, fields, ts, head))
    return points

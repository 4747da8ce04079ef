"""InfluxDB line protocol, escaped as the specification says."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # points.py uses series_head: no import cycle at run time
    from lvgate.collector.points import FieldValue, Point

_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n"})
_TAG = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n"})


def _field_value(value: FieldValue) -> str:
    if type(value) is float:
        return repr(value)  # always has a '.' or an exponent: never read back as an integer
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):  # a float subclass
        return repr(float(value))
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def series_head(measurement: str, tags: dict[str, str]) -> str:
    """The series key: the escaped measurement, then the non-empty tags sorted by key."""
    head = measurement.translate(_MEASUREMENT)
    for key in sorted(tags):
        value = tags[key]
        if value != "":
            head += f",{key.translate(_TAG)}={value.translate(_TAG)}"
    return head


# The series key repeats for every sample of an entity: escaped once (points from
# telemetry_points carry theirs already).
_HEADS: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
_HEADS_MAX = 50_000
# Field keys are few (value, value_bool, value_str, quality): escaped once.
_FIELD_KEYS: dict[str, str] = {}


def _field_key(key: str) -> str:
    escaped = _FIELD_KEYS.get(key)
    if escaped is None:
        escaped = key.translate(_TAG)
        if len(_FIELD_KEYS) < 1000:
            _FIELD_KEYS[key] = escaped
    return escaped


def encode_point(point: Point) -> str:
    """One point as a line (timestamp in milliseconds)."""
    head = point.head
    if head is None:
        series = (point.measurement, tuple(point.tags.items()))
        head = _HEADS.get(series)
        if head is None:
            if len(_HEADS) >= _HEADS_MAX:
                _HEADS.clear()
            head = _HEADS[series] = series_head(point.measurement, point.tags)
    fields = point.fields
    if len(fields) == 1 and "value" in fields:
        value = fields["value"]
        if type(value) is float:
            return f"{head} value={value!r} {point.ts_ms}"
    text = ",".join([f"{_field_key(k)}={_field_value(v)}" for k, v in fields.items()])
    return f"{head} {text} {point.ts_ms}"


def encode_batch(points: list[Point]) -> bytes:
    return "\n".join([encode_point(p) for p in points if p.fields]).encode("utf-8")

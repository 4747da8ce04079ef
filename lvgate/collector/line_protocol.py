"""InfluxDB line protocol, escaped as the specification says."""

from __future__ import annotations

from lvgate.collector.points import FieldValue, Point

_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n"})
_TAG = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n"})


def _field_value(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # always has a '.' or an exponent: never read back as an integer
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _head(measurement: str, tags: dict[str, str]) -> str:
    head = measurement.translate(_MEASUREMENT)
    for key in sorted(tags):
        value = tags[key]
        if value != "":
            head += f",{key.translate(_TAG)}={value.translate(_TAG)}"
    return head


# The series key (measurement + escaped tags) repeats for every sample of an entity: escaped once.
_HEADS: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
_HEADS_MAX = 50_000


def encode_point(point: Point) -> str:
    """One point as a line (timestamp in milliseconds)."""
    series = (point.measurement, tuple(point.tags.items()))
    head = _HEADS.get(series)
    if head is None:
        if len(_HEADS) >= _HEADS_MAX:
            _HEADS.clear()
        head = _HEADS[series] = _head(point.measurement, point.tags)
    fields = ",".join(f"{k.translate(_TAG)}={_field_value(v)}" for k, v in point.fields.items())
    return f"{head} {fields} {point.ts_ms}"


def encode_batch(points: list[Point]) -> bytes:
    return "\n".join(encode_point(p) for p in points if p.fields).encode("utf-8")

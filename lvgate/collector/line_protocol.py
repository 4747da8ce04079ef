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


def encode_point(point: Point) -> str:
    """One point as a line (timestamp in milliseconds)."""
    head = point.measurement.translate(_MEASUREMENT)
    for key in sorted(point.tags):
        value = point.tags[key]
        if value != "":
            head += f",{key.translate(_TAG)}={value.translate(_TAG)}"
    fields = ",".join(f"{k.translate(_TAG)}={_field_value(v)}" for k, v in point.fields.items())
    return f"{head} {fields} {point.ts_ms}"


def encode_batch(points: list[Point]) -> bytes:
    return "\n".join(encode_point(p) for p in points if p.fields).encode("utf-8")

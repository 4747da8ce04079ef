"""Raw SNMP values to vocabulary values: scale, vendor states, sentinels, plausibility."""

from __future__ import annotations

from lvgate.drivers.snmp.profile import StateMap
from lvgate.drivers.snmp.values import SnmpValue
from lvgate.mqtt_schema.vocabulary import EntityKind
from lvgate.reading import Quality, Value

# Beyond these a temperature is a broken sensor or a placeholder (Cisco's -866597556 for an
# absent optic): published, but marked uncertain.
_PLAUSIBLE = {"°C": (-80.0, 250.0)}


def _state_of(raw: SnmpValue, states: StateMap) -> str | bool | None:
    number = raw.as_number()
    if number is not None and number in states:
        return states[number]
    text = raw.as_text()
    return states.get(text)


def sensor_factor(scale_code: int | None, precision: int | None) -> float:
    """ENTITY-SENSOR-MIB: entSensorScale (units = 9, milli = 8, kilo = 10 ...) and precision."""
    factor = 1.0
    if scale_code is not None and 1 <= scale_code <= 17:
        factor *= 10.0 ** (3 * (scale_code - 9))
    if precision is not None and -8 <= precision <= 9:
        factor /= 10.0**precision
    return factor


def decode(
    raw: SnmpValue,
    kind: EntityKind,
    *,
    scale: float = 1.0,
    states: StateMap | None = None,
    invalid: list[int] | None = None,
    factor: float = 1.0,
    fahrenheit: bool = False,
) -> tuple[Value, Quality]:
    """One value of one entity. Errors never become values: a missing or unreadable value is
    (None, BAD)."""
    if raw.missing or raw.value is None:
        return None, Quality.BAD
    number = raw.as_number()
    if invalid and number is not None and number in invalid:
        return None, Quality.BAD
    if states is not None:
        state = _state_of(raw, states)
        if state is None:
            # a value the vendor map does not know: say so rather than guess
            return ("unknown", Quality.UNCERTAIN) if "unknown" in kind.states else (None, Quality.BAD)
        if kind.type == "bool":
            return bool(state), Quality.GOOD
        return str(state), Quality.GOOD
    if kind.type == "bool":
        return (number != 0, Quality.GOOD) if number is not None else (None, Quality.BAD)
    if kind.type == "enum":
        text = raw.as_text()
        return (text, Quality.GOOD) if text in kind.states else (None, Quality.BAD)
    value = raw.as_float()
    if value is None:
        return None, Quality.BAD
    value = value * scale * factor
    if fahrenheit:
        value = (value - 32.0) * 5.0 / 9.0
    if kind.type == "int":
        return round(value), Quality.GOOD
    low, high = _PLAUSIBLE.get(kind.unit or "", (float("-inf"), float("inf")))
    quality = Quality.GOOD if low <= value <= high else Quality.UNCERTAIN
    return round(value, 6), quality

"""When a reading is worth publishing: on change beyond a deadband, or when a heartbeat is due.

Events are always published; this policy is for measurements only. A change of quality is
always a change (a sensor going bad must be seen at once).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lvgate.reading import Quality, Reading, Value


class PublishPolicy(BaseModel):
    """Per device: ``heartbeat`` seconds at most between two publications of an unchanged
    value (0: publish every poll), ``deadband`` per entity key: an absolute amount (``0.5``)
    or a share of the last published value (``"2%"``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    heartbeat: float = Field(default=300.0, ge=0, le=86400)
    deadband: dict[str, float | str] = Field(default_factory=dict)

    @field_validator("deadband")
    @classmethod
    def _check_deadbands(cls, value: dict[str, float | str]) -> dict[str, float | str]:
        for key, band in value.items():
            if isinstance(band, str):
                number = band.removesuffix("%")
                if not band.endswith("%") or not _is_number(number) or float(number) < 0:
                    raise ValueError(f"deadband of '{key}' must be a number or a percentage like '2%', not {band!r}")
            elif band < 0:
                raise ValueError(f"deadband of '{key}' must not be negative")
        return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(slots=True)
class _Published:
    value: Value
    quality: Quality
    ts_ms: int


class PublishFilter:
    """Remembers what was last published for one device and decides what to publish next."""

    def __init__(self, policy: PublishPolicy) -> None:
        self.policy = policy
        self._last: dict[str, _Published] = {}

    def select(self, readings: list[Reading]) -> list[Reading]:
        if self.policy.heartbeat == 0:  # every poll is published: nothing to remember
            return list(readings)
        chosen = [r for r in readings if self._worth_publishing(r)]
        for reading in chosen:
            self._last[reading.key] = _Published(reading.value, reading.quality, reading.ts_ms)
        return chosen

    def forget(self) -> None:
        """Publish everything next time (after a reconnect or a config reload)."""
        self._last.clear()

    def _worth_publishing(self, reading: Reading) -> bool:
        last = self._last.get(reading.key)
        if last is None or self.policy.heartbeat == 0 or last.quality is not reading.quality:
            return True
        if reading.ts_ms - last.ts_ms >= self.policy.heartbeat * 1000:
            return True
        return self._changed(reading.key, last.value, reading.value)

    def _changed(self, key: str, old: Value, new: Value) -> bool:
        if isinstance(new, bool) or isinstance(old, bool) or not isinstance(new, int | float):
            return new != old
        if not isinstance(old, int | float):
            return True
        band = self.policy.deadband.get(key, 0.0)
        limit = abs(old) * float(band.removesuffix("%")) / 100 if isinstance(band, str) else band
        return abs(new - old) > limit if limit > 0 else new != old

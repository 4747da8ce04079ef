"""Alarm rules as YAML: the config schema is the pydantic models below (unknown keys are errors).

rules:
  - id: room_too_hot
    kind: threshold          # threshold | state | offline | rate | event
    device_class: env_sensor
    entity: temperature
    above: 35                # or below: 5
    clear_below: 33          # hysteresis (clear_above for `below`)
    for_s: 300               # the condition must hold this long before the alarm is raised
    level: II
    message: Room above 35 °C for 5 minutes
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lvgate.collector.alarms.levels import Level
from lvgate.gateway.config import validate_document
from lvgate.gateway.yaml_source import load_yaml

Scalar = float | bool | str


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    level: Level
    message: str = Field(min_length=1)
    device_class: str | None = None
    devices: tuple[str, ...] = Field(default=(), description="device id patterns (fnmatch); empty = every device")
    for_s: float = Field(default=0, ge=0, description="how long the condition must hold before raising")

    def applies_to(self, device: str, device_class: str | None) -> bool:
        if self.device_class is not None and device_class != self.device_class:
            return False
        return not self.devices or any(fnmatchcase(device, p) for p in self.devices)


class ThresholdRule(_Rule):
    kind: Literal["threshold"]
    entity: str
    above: float | None = None
    below: float | None = None
    clear_below: float | None = Field(default=None, description="clears only below this (hysteresis for `above`)")
    clear_above: float | None = Field(default=None, description="clears only above this (hysteresis for `below`)")

    @model_validator(mode="after")
    def _one_side(self) -> ThresholdRule:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of `above` or `below`")
        if self.above is not None and self.clear_below is not None and self.clear_below > self.above:
            raise ValueError("clear_below must not be above `above`")
        if self.below is not None and self.clear_above is not None and self.clear_above < self.below:
            raise ValueError("clear_above must not be below `below`")
        return self

    def bad(self, value: float, active: bool) -> bool:
        """Is the condition true for ``value``, given whether it already was (hysteresis)?"""
        if self.above is not None:
            limit = (self.clear_below if self.clear_below is not None else self.above) if active else self.above
            return value >= limit if active else value > limit
        assert self.below is not None
        limit = (self.clear_above if self.clear_above is not None else self.below) if active else self.below
        return value <= limit if active else value < limit


class StateRule(_Rule):
    kind: Literal["state"]
    entity: str
    values: tuple[Scalar, ...] = Field(min_length=1, description="the alarm holds while the entity has one of these")

    def bad(self, value: Scalar) -> bool:
        # bool is not a number here: True must not match 1.0
        return any(type(v) is type(value) and v == value for v in self.values) or (
            isinstance(value, float)
            and any(isinstance(v, int | float) and not isinstance(v, bool) and v == value for v in self.values)
        )


class OfflineRule(_Rule):
    kind: Literal["offline"]


class RateRule(_Rule):
    kind: Literal["rate"]
    entity: str
    per_s: float = Field(default=60, gt=0, description="rate unit: change per this many seconds")
    rise_above: float | None = None
    fall_above: float | None = Field(default=None, description="alarm when the value falls faster than this")

    @model_validator(mode="after")
    def _one_side(self) -> RateRule:
        if self.rise_above is None and self.fall_above is None:
            raise ValueError("give `rise_above` and/or `fall_above`")
        return self

    def bad(self, rate: float) -> bool:
        return (self.rise_above is not None and rate > self.rise_above) or (
            self.fall_above is not None and -rate > self.fall_above
        )


class EventRule(_Rule):
    kind: Literal["event"]
    event: str
    clear_event: str | None = Field(default=None, description="an event word that clears the alarm")
    clear_after_s: float | None = Field(default=None, gt=0, description="clear this long after the last event")


Rule = Annotated[ThresholdRule | StateRule | OfflineRule | RateRule | EventRule, Field(discriminator="kind")]


class FlapSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    changes: int = Field(default=4, ge=2, description="raise/clear changes within `window_s` that mean flapping")
    window_s: float = Field(default=600, gt=0)


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    flapping: FlapSettings = FlapSettings()
    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleFile:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id '{rule.id}' is used twice")
            seen.add(rule.id)
        return self


def load_rules(paths: list[Path]) -> RuleFile:
    """Rules of every file (or every *.yaml in a directory), errors with file:line:col."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    rules: list[Rule] = []
    flapping = FlapSettings()
    for file in files:
        loaded = validate_document(load_yaml(file, display_name=str(file)), RuleFile)
        rules.extend(loaded.rules)
        if "flapping" in loaded.model_fields_set:
            flapping = loaded.flapping
    return RuleFile(flapping=flapping, rules=rules)

"""Inspection checklists as data: ``edge_config/inspections/*.yaml``, one file per device class.

A file names the device class (or ``scope: room`` for what is inspected once per room), the system
it belongs to in the monthly report, and its items. An item says which reading proves it (an
entity key, all instances ``key.*`` included, and the limit) or that a technician checks it by hand.

    device_class: ups
    system: power
    items:
      - id: ups_on_battery
        title: Not running on battery
        reference: maintenance contract, daily inspection
        period: daily
        method: {entity: on_battery, equals: false}
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lvgate.gateway.config import validate_document
from lvgate.gateway.yaml_source import ConfigError, ConfigProblem, Location, load_yaml
from lvgate.paths import data_dir

Period = Literal["daily", "weekly", "monthly", "quarterly"]
Scalar = float | bool | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Method(_Strict):
    """How a reading proves the item. Exactly one kind of test: a band, a value, a set of states, online."""

    entity: str | None = Field(default=None, description="entity key; instances key.* are all checked")
    min: float | None = None
    max: float | None = None
    equals: Scalar | None = None
    states: tuple[str, ...] = Field(default=(), description="allowed states (enum entities)")
    online: bool | None = Field(default=None, description="true: the device must be online (no entity)")
    max_age_s: float = Field(default=86_400, gt=0, description="older evidence counts as not checked")
    manual: bool = False
    instructions: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Method:
        if self.manual:
            if self.entity or self.online is not None:
                raise ValueError("a manual item names no entity")
            return self
        if self.online is not None:
            if self.entity is not None:
                raise ValueError("`online` checks the device's availability: give no entity")
            return self
        if self.entity is None:
            raise ValueError("give `entity`, `online: true` or `manual: true`")
        kinds = [self.min is not None or self.max is not None, self.equals is not None, bool(self.states)]
        if sum(kinds) != 1:
            raise ValueError("give exactly one test: min/max, equals or states")
        return self

    def describe(self) -> str:
        if self.manual:
            return "manual" + (f": {self.instructions}" if self.instructions else "")
        if self.online is not None:
            return "device online"
        if self.states:
            return f"{self.entity} in {', '.join(self.states)}"
        if self.equals is not None:
            return f"{self.entity} = {str(self.equals).lower() if isinstance(self.equals, bool) else self.equals}"
        low = "" if self.min is None else f"{self.min:g} <= "
        high = "" if self.max is None else f" <= {self.max:g}"
        return f"{low}{self.entity}{high}"


class Item(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    title: str = Field(min_length=1)
    reference: str = Field(min_length=1, description="the standard or contract clause the item comes from")
    period: Period = "daily"
    method: Method

    @property
    def manual(self) -> bool:
        return self.method.manual


class Checklist(_Strict):
    device_class: str | None = None
    scope: Literal["device", "room"] = "device"
    system: str = Field(min_length=1, description="system in the monthly report: network, video, access, power, ...")
    title: str
    items: list[Item] = Field(min_length=1)

    @model_validator(mode="after")
    def _scope(self) -> Checklist:
        if (self.scope == "device") == (self.device_class is None):
            raise ValueError("a device checklist names its device_class; a room checklist (scope: room) does not")
        if self.scope == "room" and any(not i.manual for i in self.items):
            raise ValueError("room items have no device to read: they must be manual")
        return self


class Checklists:
    def __init__(self, lists: list[Checklist]) -> None:
        self.lists = lists
        self.by_class: dict[str | None, Checklist] = {c.device_class: c for c in lists if c.device_class is not None}
        self.room = [c for c in lists if c.scope == "room"]
        ids: set[str] = set()
        for checklist in lists:
            for item in checklist.items:
                if item.id in ids:
                    raise ValueError(f"inspection item id '{item.id}' is used twice")
                ids.add(item.id)

    def system_of(self, device_class: str | None) -> str:
        checklist = self.by_class.get(device_class)
        return checklist.system if checklist else "other"

    def systems(self) -> list[str]:
        return list(dict.fromkeys(c.system for c in self.lists if c.scope == "device"))


def default_dir() -> Path:
    return data_dir() / "inspections"


def load_checklists(directory: Path | None = None) -> Checklists:
    """Every ``*.yaml`` checklist of the directory; errors carry file:line:col."""
    folder = directory or default_dir()
    lists = [
        validate_document(load_yaml(f, display_name=str(f)), Checklist)
        for f in sorted(folder.glob("*.yaml"))
        if not f.name.startswith("_")
    ]
    if not lists:
        raise ConfigError([ConfigProblem(Location(str(folder), 1, 1), "no inspection checklists (*.yaml)")])
    return Checklists(lists)


def period_start(period: Period, day: dt.date) -> dt.date:
    """First day of the period that contains ``day`` (weeks start on Monday)."""
    if period == "daily":
        return day
    if period == "weekly":
        return day - dt.timedelta(days=day.weekday())
    if period == "monthly":
        return day.replace(day=1)
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)

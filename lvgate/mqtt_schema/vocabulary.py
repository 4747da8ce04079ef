"""Load the vendor-neutral vocabulary (device classes, entity keys, units, value types)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

ValueType = Literal["float", "int", "bool", "enum"]


@dataclass(frozen=True, slots=True)
class EntityKind:
    """What one entity key means: its value type, its SI unit and how Home Assistant shows it."""

    key: str
    type: ValueType
    unit: str | None = None
    states: tuple[str, ...] = ()
    ha: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeviceClass:
    name: str
    title: str
    entities: dict[str, EntityKind]
    events: tuple[str, ...] = ()


@cache
def vocabulary() -> dict[str, DeviceClass]:
    text = resources.files("lvgate.mqtt_schema").joinpath("vocabulary.yaml").read_text(encoding="utf-8")
    raw: dict[str, Any] = yaml.safe_load(text)
    classes: dict[str, DeviceClass] = {}
    for name, body in raw["device_classes"].items():
        entities = {
            key: EntityKind(
                key=key,
                type=spec["type"],
                unit=spec.get("unit"),
                states=tuple(spec.get("states", ())),
                ha=dict(spec.get("ha", {})),
            )
            for key, spec in body["entities"].items()
        }
        classes[name] = DeviceClass(
            name=name, title=body["title"], entities=entities, events=tuple(body.get("events", ()))
        )
    return classes


def entity_kind(device_class: str, key: str) -> EntityKind:
    """The vocabulary entry for ``key`` of ``device_class``; KeyError if it is not in the vocabulary."""
    return vocabulary()[device_class].entities[key]

"""Load the vendor-neutral vocabulary (device classes, entity keys, units, value types)."""

from __future__ import annotations

import re
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
            name=name,
            title=body["title"],
            entities=entities,
            events=tuple(raw.get("common_events", ())) + tuple(body.get("events", ())),
        )
    return classes


# An entity key may carry an instance suffix, `<vocabulary key>.<instance>`, for devices with many
# sensors of one kind (temperature.1010, psu_status.2_1_1_0): same unit and type as the bare key.
_INSTANCE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def split_key(key: str) -> tuple[str, str | None]:
    """``'temperature.1010'`` -> ``('temperature', '1010')``; a bare key -> ``(key, None)``.
    ValueError when the instance has characters outside [A-Za-z0-9_-]."""
    base, dot, instance = key.partition(".")
    if not dot:
        return key, None
    if not _INSTANCE.match(instance):
        raise ValueError(f"entity key '{key}': the instance may hold only letters, digits, '_' and '-'")
    return base, instance


def entity_kind(device_class: str, key: str) -> EntityKind:
    """The vocabulary entry for ``key`` (or its base key, when it has an instance suffix) of
    ``device_class``; KeyError if it is not in the vocabulary."""
    try:
        base, _ = split_key(key)
    except ValueError:
        raise KeyError(key) from None
    return vocabulary()[device_class].entities[base]

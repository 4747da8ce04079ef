"""SNMP profiles as data: a profile names the sysObjectID prefixes it serves and the blocks it
is made of; a block (system, interfaces, cisco_envmon, ups_rfc1628 ...) lists numeric OIDs,
each mapped to a vocabulary key, with its scale and its vendor states.

Files: ``edge_config/profiles/snmp/<profile>.yaml`` and ``.../snmp/blocks/<block>.yaml``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lvgate.drivers.base import ProfileError
from lvgate.drivers.snmp.oids import Oid, parse_oid
from lvgate.mqtt_schema.vocabulary import entity_kind
from lvgate.paths import profile_dir

StateMap = dict[int | str, str | bool]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _oid(value: Any) -> Oid:
    if isinstance(value, tuple):
        return value
    return parse_oid(str(value))


class Decode(_Strict):
    """How a raw value becomes a vocabulary value."""

    name: str | None = Field(default=None, description="MIB object name, for humans")
    scale: float = Field(default=1.0, description="multiplier: 0.1 for tenths, 60 for minutes -> s")
    states: StateMap | str | None = Field(default=None, description="raw value -> state word, or a state_maps name")
    invalid: list[int] = Field(default_factory=list, description="vendor 'no value' sentinels")
    fahrenheit: bool = Field(default=False, description="the agent sends °F (after scale)")


class Point(Decode):
    """A scalar, read with GET."""

    key: str
    oid: Oid
    optional: bool = Field(default=False, description="skip quietly when the agent lacks it")

    _v = field_validator("oid", mode="before")(_oid)


class ColumnFilter(_Strict):
    column: Oid
    values: list[int | str]

    _v = field_validator("column", mode="before")(_oid)


class KeyByColumn(_Strict):
    column: Oid
    values: dict[int | str, str | None] = Field(default_factory=dict)
    endswith: dict[str, str | None] = Field(default_factory=dict, description="text suffix -> key")
    default: str | None = None

    _v = field_validator("column", mode="before")(_oid)


class Table(Decode):
    """A column walked with GETBULK; by default one entity ``<key>.<row index>`` per row."""

    key: str
    column: Oid
    label: Oid | None = Field(default=None, description="column with each row's human name")
    mode: Literal["rows", "count", "mean", "rate", "percent_of", "list"] = "rows"
    count_values: list[int] = Field(default_factory=list, description="mode count: values counted")
    of: Oid | None = Field(default=None, description="mode percent_of: the column holding 100 %")
    counter_bits: Literal[32, 64] = 32
    skip: list[int] = Field(default_factory=list, description="rows whose raw value is one of these are left out")
    where: ColumnFilter | None = None
    per_port: bool = Field(
        default=False, description="rows are IF-MIB ifIndex rows: the device's `ports` selection decides which count"
    )
    key_by_index: dict[int, str | None] | None = Field(
        default=None, description="first index arc -> key (Juniper's jnxFruType in the index)"
    )
    key_by_column: KeyByColumn | None = None
    precision_column: Oid | None = Field(default=None, description="divide by 10^precision")
    sensor_scale_column: Oid | None = Field(default=None, description="ENTITY-SENSOR-MIB entSensorScale")
    bare_index: str | None = Field(default=None, description="the row published without an instance suffix")
    instance_prefix: str = Field(
        default="", pattern=r"^[a-z0-9_]*$", description="keeps two tables with the same index apart"
    )

    _v = field_validator("column", "label", "of", "precision_column", "sensor_scale_column", mode="before")(_oid)

    def columns(self) -> list[Oid]:
        extra = [self.label, self.of, self.precision_column, self.sensor_scale_column]
        extra += [self.where.column if self.where else None]
        extra += [self.key_by_column.column if self.key_by_column else None]
        return [self.column, *[c for c in extra if c is not None]]


class Block(_Strict):
    name: str
    description: str = ""
    state_maps: dict[str, StateMap] = Field(default_factory=dict)
    points: list[Point] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)


class Profile(_Strict):
    name: str
    description: str = ""
    manufacturer: str
    device_class: Literal["switch", "ups", "env_sensor", "host"]
    match: list[str] = Field(default_factory=list, description="sysObjectID prefixes")
    blocks: list[str]
    parts: list[Block] = Field(default_factory=list, exclude=True)

    @model_validator(mode="after")
    def _keys_in_vocabulary(self) -> Profile:
        for block in self.parts:
            items: list[Point | Table] = [*block.points, *block.tables]
            for item in items:
                keys = {item.key}
                if isinstance(item, Table):
                    keys |= {k for k in (item.key_by_index or {}).values() if k}
                    if item.key_by_column:
                        keys |= {k for k in item.key_by_column.values.values() if k}
                        keys |= {k for k in item.key_by_column.endswith.values() if k}
                        keys |= {item.key_by_column.default} if item.key_by_column.default else set()
                for key in keys:
                    try:
                        entity_kind(self.device_class, key)
                    except KeyError:
                        raise ValueError(
                            f"block '{block.name}': '{key}' is not a {self.device_class} key in the vocabulary"
                        ) from None
                if isinstance(item.states, str) and item.states not in block.state_maps:
                    raise ValueError(f"block '{block.name}': no state map '{item.states}'")
        return self

    def state_map(self, block: Block, item: Decode) -> StateMap | None:
        if isinstance(item.states, str):
            return block.state_maps[item.states]
        return item.states


def snmp_profiles_dir() -> Path:
    return profile_dir("snmp")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile must be a mapping")
    return data


@cache
def load_block(name: str) -> Block:
    path = snmp_profiles_dir() / "blocks" / f"{name}.yaml"
    if not path.is_file():
        raise ProfileError(f"no SNMP block '{name}' ({path})")
    try:
        return Block.model_validate(_read(path))
    except ValidationError as exc:
        raise ProfileError(f"{path}: {exc}") from exc


@cache
def load_profile(name: str) -> Profile:
    path = snmp_profiles_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ProfileError(f"no SNMP profile '{name}' ({path})")
    data = _read(path)
    parts = [load_block(block) for block in data.get("blocks", [])]
    try:
        return Profile.model_validate({**data, "parts": parts})
    except ValidationError as exc:
        raise ProfileError(f"{path}: {exc}") from exc


def available_profiles() -> list[str]:
    return sorted(p.stem for p in snmp_profiles_dir().glob("*.yaml"))


def detect_profile(sys_object_id: str) -> str | None:
    """The profile whose longest ``match`` prefix covers ``sys_object_id``; None if none does."""
    try:
        oid = parse_oid(sys_object_id)
    except ValueError:
        return None
    best: tuple[int, str] | None = None
    for name in available_profiles():
        for prefix in load_profile(name).match:
            arcs = parse_oid(prefix)
            if oid[: len(arcs)] == arcs and (best is None or len(arcs) > best[0]):
                best = (len(arcs), name)
    return best[1] if best else None

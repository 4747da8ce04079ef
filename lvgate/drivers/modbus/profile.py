"""Modbus device profiles: what a model is (its registers and how they decode), as YAML data.

A profile is separate from the device entry (where one unit is: host, unit id, room), as in
EdgeX: one profile serves every installed unit of that model.
"""

from __future__ import annotations

from functools import cache, cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lvgate.drivers.profiles import profile_names, read_profile
from lvgate.mqtt_schema.vocabulary import vocabulary
from lvgate.paths import profile_dir

Table = Literal["holding", "input", "coil", "discrete"]
DataType = Literal["bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string"]
ByteOrder = Literal["ABCD", "CDAB", "BADC", "DCBA"]
Addressing = Literal["wire", "one_based", "modicon"]

REGISTER_COUNT: dict[str, int] = {
    "bool": 1, "int16": 1, "uint16": 1, "int32": 2, "uint32": 2,
    "int64": 4, "uint64": 4, "float32": 2, "float64": 4,
}  # fmt: skip


def _decimals_of(number: float) -> int:
    text = f"{number:.10f}".rstrip("0")
    return len(text.partition(".")[2])


class Point(BaseModel):
    """One place of the device's register map and the entity (or flags) it yields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str | None = Field(default=None, description="vocabulary key; omitted when `flags` name the bits")
    table: Table = "holding"
    address: int = Field(ge=0, description="as the profile's `addressing` numbers it")
    type: DataType = "uint16"
    scale: float = 1.0
    offset: float = 0.0
    precision: int | None = Field(default=None, ge=0, le=9)
    byte_order: ByteOrder | None = None
    bit: int | None = Field(default=None, ge=0, le=63, description="take one bit of the raw value")
    invalid: tuple[int, ...] = Field(default=(), description="raw values that mean 'no value'")
    map: dict[int, str | bool | float] | None = Field(default=None, description="raw value -> published value")
    map_default: str | bool | float | None = None
    flags: dict[int, str] | None = Field(default=None, description="bitfield: bit number -> vocabulary key")
    length: int | None = Field(default=None, ge=1, le=125, description="registers of a string")
    valid_range: tuple[float, float] | None = Field(default=None, description="outside it: quality uncertain")

    @model_validator(mode="after")
    def _consistent(self) -> Point:
        if (self.key is None) == (self.flags is None):
            raise ValueError("a point has either `key` or `flags` (a bitfield), not both and not neither")
        if self.type == "string" and self.length is None:
            raise ValueError("a string point needs `length` (in registers)")
        if self.type != "string" and self.length is not None:
            raise ValueError("`length` is only for strings")
        if self.flags and (self.type.startswith("float") or self.type == "string"):
            raise ValueError("`flags` need an integer type")
        width = 16 * REGISTER_COUNT.get(self.type, 1)
        for bit in [*(self.flags or {}), *([self.bit] if self.bit is not None else [])]:
            if not 0 <= bit < width:
                raise ValueError(f"bit {bit} is outside a {self.type}")
        return self

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.flags.values()) if self.flags else (self.key or "",)

    @cached_property
    def decimals(self) -> int:
        """Digits after the point worth keeping: ``precision``, else what scale and offset carry,
        so 2292 * 0.1 reads 229.2 and not 229.20000000000002. Worked out once per point."""
        if self.precision is not None:
            return self.precision
        return max(_decimals_of(self.scale), _decimals_of(self.offset))

    @property
    def register_count(self) -> int:
        if self.table in ("coil", "discrete"):
            return 1
        return self.length if self.type == "string" and self.length else REGISTER_COUNT[self.type]


class ModbusProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str
    device_class: str
    manufacturer: str
    model: str
    source: str = Field(description="the vendor document the register map was written from")
    firmware_notes: str | None = Field(default=None, description="page in firmware_notes/ about this family")
    addressing: Addressing = "wire"
    byte_order: ByteOrder = "ABCD"
    max_gap: int = Field(default=8, ge=0, le=124, description="unused registers a merged read may span")
    device_id: bool = Field(default=True, description="ask function 43/14 (device identification)")
    identity: tuple[Point, ...] = Field(default=(), description="asset-list fields (key: model, serial ...)")
    points: tuple[Point, ...]

    @model_validator(mode="after")
    def _keys_in_vocabulary(self) -> ModbusProfile:
        classes = vocabulary()
        if self.device_class not in classes:
            raise ValueError(f"device_class '{self.device_class}' is not in the vocabulary")
        known = classes[self.device_class].entities
        for point in self.points:
            for key in point.keys:
                if key not in known:
                    raise ValueError(f"entity key '{key}' is not in the vocabulary of '{self.device_class}'")
                kind = known[key]
                if point.flags and kind.type != "bool":
                    raise ValueError(f"flag '{key}' must be a bool entity, the vocabulary says {kind.type}")
                if point.type == "string":
                    raise ValueError(f"'{key}': strings go to `identity`, entities are numbers, flags or states")
                if kind.type == "enum" and point.map is not None:
                    states = [*point.map.values(), *([point.map_default] if point.map_default is not None else [])]
                    for state in states:
                        if state not in kind.states:
                            raise ValueError(f"'{key}': state '{state}' is not one of {list(kind.states)}")
        for point in self.identity:
            if point.type != "string" and point.map is None:
                raise ValueError(f"identity field '{point.key}' must be a string or a map")
        keys = [key for point in self.points for key in point.keys]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"entity keys mapped twice: {duplicates}")
        return self

    def wire_address(self, point: Point) -> int:
        """The 0-based address sent in the request, from the profile's numbering."""
        if self.addressing == "wire":
            return point.address
        if self.addressing == "one_based":
            return point.address - 1
        # modicon: the first digit names the table (4 holding, 3 input, 1 discrete, 0 coil),
        # the rest is 1-based: 40001 and 400001 are both holding register 0 on the wire.
        prefix = {"holding": 4, "input": 3, "discrete": 1, "coil": 0}[point.table]
        span = 100000 if point.address >= 100000 else 10000
        return point.address - (prefix * span + 1)


CUSTOM = "custom"


def profile_path(name: str) -> Path:
    return profile_dir("modbus") / f"{name}.yaml"


@cache
def load_profile(name: str) -> ModbusProfile:
    return read_profile("modbus", name, ModbusProfile, kind="Modbus")


def available_profiles() -> list[str]:
    return sorted([CUSTOM, *profile_names("modbus")])

"""Modbus device profiles: what a model is (its registers and how they decode), as YAML data.

A profile is separate from the device entry (where one unit is: host, unit id, room), as in
EdgeX: one profile serves every installed unit of that model.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lvgate.drivers.base import ProfileError
from lvgate.mqtt_schema.vocabulary import vocabulary
from lvgate.paths import profile_dir

Table = Literal["holding", "input", "coil", "discrete"]
DataType = Literal["bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]
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
    """One entity read from one place of the device's register map."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
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

    @property
    def decimals(self) -> int:
        """Digits after the point worth keeping: ``precision``, else what scale and offset carry,
        so 2292 * 0.1 reads 229.2 and not 229.20000000000002."""
        if self.precision is not None:
            return self.precision
        return max(_decimals_of(self.scale), _decimals_of(self.offset))

    @property
    def register_count(self) -> int:
        return 1 if self.table in ("coil", "discrete") else REGISTER_COUNT[self.type]


class ModbusProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str
    device_class: str
    manufacturer: str
    model: str
    source: str = Field(description="the vendor document the register map was written from")
    addressing: Addressing = "wire"
    byte_order: ByteOrder = "ABCD"
    max_gap: int = Field(default=8, ge=0, le=124, description="unused registers a merged read may span")
    points: tuple[Point, ...]

    @model_validator(mode="after")
    def _keys_in_vocabulary(self) -> ModbusProfile:
        classes = vocabulary()
        if self.device_class not in classes:
            raise ValueError(f"device_class '{self.device_class}' is not in the vocabulary")
        known = classes[self.device_class].entities
        for point in self.points:
            if point.key not in known:
                raise ValueError(f"entity key '{point.key}' is not in the vocabulary of '{self.device_class}'")
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


def profile_path(name: str) -> Path:
    return profile_dir("modbus") / f"{name}.yaml"


@cache
def load_profile(name: str) -> ModbusProfile:
    path = profile_path(name)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"no Modbus profile '{name}' (looked for {path})") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    try:
        return ModbusProfile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProfileError(f"{path}: {where}: {first['msg']}") from exc


def available_profiles() -> list[str]:
    return sorted(p.stem for p in profile_dir("modbus").glob("*.yaml"))

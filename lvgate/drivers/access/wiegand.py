"""Wiegand card formats (loaded from YAML data) and the pure decode/encode of card bits.

A card frame is a string of '0'/'1' in transmission order. Each format names its fields
and parity rules; nothing here knows a format by name except ``raw``, the fallback that
takes any length as one number without parity.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lvgate.drivers.base import ProfileError
from lvgate.paths import profile_dir

RAW = "raw"
Result = Literal["valid", "parity_error", "unknown_format"]


class _Skip(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: int = Field(alias="from", ge=0)
    every: int = Field(ge=2)


class ParityRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bit: int = Field(ge=0)
    kind: Literal["even", "odd"]
    over: tuple[tuple[int, int], ...]
    skip: _Skip | None = None

    def covered(self) -> tuple[int, ...]:
        """The bit positions this rule counts, its own bit excluded."""
        positions: list[int] = []
        for first, last in self.over:
            for pos in range(first, last + 1):
                if self.skip and pos >= self.skip.start and (pos - self.skip.start) % self.skip.every == 0:
                    continue
                if pos != self.bit:
                    positions.append(pos)
        return tuple(positions)


class WiegandFormat(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    bits: int = Field(ge=1, le=256)
    fields: dict[str, tuple[int, int]]
    parity: tuple[ParityRule, ...] = ()

    @model_validator(mode="after")
    def _inside(self) -> WiegandFormat:
        for field, (first, length) in self.fields.items():
            if first < 0 or length < 1 or first + length > self.bits:
                raise ValueError(f"field '{field}' [{first}, {length}] lies outside {self.bits} bits")
        for rule in self.parity:
            if rule.bit >= self.bits or any(p >= self.bits for p in rule.covered()):
                raise ValueError(f"parity bit {rule.bit} covers bits outside {self.bits} bits")
        if "card_number" not in self.fields:
            raise ValueError("a format needs a 'card_number' field")
        return self

    @property
    def parity_bits(self) -> frozenset[int]:
        return frozenset(rule.bit for rule in self.parity)

    @property
    def data_bits(self) -> int:
        """How many bits a converter that checks and drops parity passes on."""
        return self.bits - len(self.parity_bits)

    def parity_problem(self, bits: str) -> str | None:
        """Why ``bits`` fails a parity rule, or None when every rule holds."""
        for rule in self.parity:
            ones = sum(bits[p] == "1" for p in rule.covered()) + (bits[rule.bit] == "1")
            if ones % 2 != (0 if rule.kind == "even" else 1):
                return f"{rule.kind} parity bit {rule.bit} of {self.name} does not match"
        return None

    def fields_of(self, bits: str) -> dict[str, int]:
        return {name: int(bits[first : first + length], 2) for name, (first, length) in self.fields.items()}

    def with_parity(self, frame: list[str]) -> str:
        for rule in self.parity:
            ones = sum(frame[p] == "1" for p in rule.covered())
            want_odd = rule.kind == "odd"
            frame[rule.bit] = "1" if (ones % 2 == 1) != want_odd else "0"
        return "".join(frame)

    def encode(self, values: dict[str, int]) -> str:
        """The frame carrying ``values`` (missing fields are 0), with its parity bits set."""
        frame = ["0"] * self.bits
        for name, (first, length) in self.fields.items():
            value = values.get(name, 0)
            if not 0 <= value < 1 << length:
                raise ValueError(f"{name} {value} does not fit in {length} bits of {self.name}")
            frame[first : first + length] = format(value, f"0{length}b")
        unknown = set(values) - set(self.fields)
        if unknown:
            raise ValueError(f"{self.name} has no field {sorted(unknown)}")
        return self.with_parity(frame)

    def from_data_bits(self, value: int) -> str:
        """The full frame of a converter's parity-stripped data bits (parity recomputed)."""
        if not 0 <= value < 1 << self.data_bits:
            raise ValueError(f"value does not fit in the {self.data_bits} data bits of {self.name}")
        data = iter(format(value, f"0{self.data_bits}b"))
        skip = self.parity_bits
        return self.with_parity(["0" if pos in skip else next(data) for pos in range(self.bits)])

    def data_value(self, bits: str) -> int:
        """Inverse of :meth:`from_data_bits`: the frame's bits without its parity bits."""
        skip = self.parity_bits
        return int("".join(b for pos, b in enumerate(bits) if pos not in skip) or "0", 2)


@dataclass(frozen=True, slots=True)
class Card:
    """A decoded card read. ``card_number`` is personal data: never log it above debug."""

    format: str
    bit_count: int
    card_number: int
    facility_code: int | None = None


class CardRejected(Exception):
    """A frame that is not a valid card; ``result`` is the card_read result word."""

    def __init__(self, result: Result, reason: str, bit_count: int) -> None:
        self.result = result
        self.reason = reason
        self.bit_count = bit_count
        super().__init__(f"{result}: {reason}")


def decode(bits: str, formats: Sequence[WiegandFormat], *, allow_raw: bool = False) -> Card:
    """Decode a frame with the first of ``formats`` of its length. Raises CardRejected."""
    if not bits or set(bits) - {"0", "1"}:
        raise CardRejected("unknown_format", "not a bit string", len(bits))
    candidates = [f for f in formats if f.bits == len(bits)]
    if not candidates:
        if allow_raw:
            return Card(RAW, len(bits), int(bits, 2))
        known = ", ".join(sorted({str(f.bits) for f in formats})) or "none"
        raise CardRejected(
            "unknown_format", f"{len(bits)} bits: no configured format has that length ({known})", len(bits)
        )
    fmt = candidates[0]
    problem = fmt.parity_problem(bits)
    if problem:
        raise CardRejected("parity_error", problem, len(bits))
    values = fmt.fields_of(bits)
    return Card(fmt.name, fmt.bits, values["card_number"], values.get("facility_code"))


def format_for_data_bits(count: int, formats: Iterable[WiegandFormat]) -> WiegandFormat | None:
    """The first format whose parity-stripped data is ``count`` bits long."""
    return next((f for f in formats if f.data_bits == count), None)


def formats_file() -> str:
    return str(profile_dir("access") / "formats" / "wiegand.yaml")


@cache
def all_formats() -> dict[str, WiegandFormat]:
    """Every format of the shipped format file, by name. Raises ProfileError."""
    path = formats_file()
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: cannot read Wiegand formats: {exc}") from exc
    try:
        return {name: WiegandFormat(name=name, **body) for name, body in raw["formats"].items()}
    except (ValidationError, KeyError, TypeError) as exc:
        raise ProfileError(f"{path}: bad Wiegand format: {exc}") from exc


def formats_named(names: Iterable[str]) -> list[WiegandFormat]:
    known = all_formats()
    return [known[n] for n in names if n != RAW]

"""Access converter profiles: how a converter or controller frames what it sends, as YAML data.

A profile (``edge_config/profiles/access/<name>.yaml``) gives the serial settings, the
framing (start byte, end marker, longest frame), an optional checksum and the messages a
frame may carry, each a regular expression with named groups plus how to send it back
(for the simulator). The device entry only says which port and which profile.
"""

from __future__ import annotations

import re
from functools import cache, cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lvgate.drivers.access.wiegand import all_formats
from lvgate.drivers.base import ProfileError
from lvgate.drivers.profiles import profile_names, read_profile
from lvgate.mqtt_schema.vocabulary import vocabulary
from lvgate.paths import profile_dir

DEVICE_CLASS: Literal["access_controller"] = "access_controller"
INPUT_ENTITIES = ("door_open", "request_to_exit", "lock_engaged", "tamper", "power_ok")
MessageKind = Literal["card", "input", "grant", "heartbeat", "clock", "keypad"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SerialSettings(_Strict):
    baudrate: int = Field(default=9600, gt=0)
    bytesize: Literal[5, 6, 7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1


class Framing(_Strict):
    start: str = Field(default="", max_length=1, description="byte that opens a frame; empty for text lines")
    end: str = Field(min_length=1, description="bytes that close a frame")
    skip: str = Field(default="", description="bytes ignored where a frame would begin (the LF of CR LF)")
    max_length: int = Field(default=64, ge=1, le=4096)
    timeout: float = Field(default=0.5, gt=0, le=10, description="seconds a partial frame may wait for its end")


class Checksum(_Strict):
    kind: Literal["xor8_hex"] = Field(description="last `digits` hex characters = XOR of the hex bytes before them")
    digits: Literal[2] = 2


class MessageSpec(_Strict):
    kind: MessageKind
    match: str = Field(description="regular expression the whole frame text must match")
    send: str | None = Field(default=None, description="Python format template the simulator sends")
    # card
    value: Literal["hex", "decimal", "bits"] | None = Field(default=None, description="how group 'value' is written")
    carries: Literal["frame", "data_bits"] = Field(
        default="frame", description="frame: every Wiegand bit incl. parity; data_bits: parity checked and dropped"
    )
    data_bits: int | None = Field(default=None, ge=1, le=256, description="data bit count when the text cannot tell")
    format: str | None = Field(default=None, description="card format this message always carries")
    # input
    entity: str | None = None
    states: dict[str, bool] | None = None

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.match)

    @model_validator(mode="after")
    def _consistent(self) -> MessageSpec:
        try:
            groups = set(re.compile(self.match).groupindex)
        except re.error as exc:
            raise ValueError(f"bad regular expression {self.match!r}: {exc}") from exc
        need = {"card": {"value"}, "input": {"state"}, "clock": {"time"}, "keypad": {"keys"}}.get(self.kind, set())
        if need - groups:
            raise ValueError(f"a {self.kind} message needs the group(s) {sorted(need - groups)} in 'match'")
        if self.kind == "card" and self.value is None:
            raise ValueError("a card message needs 'value' (hex, decimal or bits)")
        if self.kind == "card" and self.format is not None and self.format not in all_formats():
            raise ValueError(f"unknown card format '{self.format}'")
        if self.kind == "input":
            if self.entity not in INPUT_ENTITIES:
                raise ValueError(f"an input message needs 'entity', one of {', '.join(INPUT_ENTITIES)}")
            if not self.states:
                raise ValueError("an input message needs 'states' (text -> true/false)")
        return self


class AccessProfile(_Strict):
    profile: str
    manufacturer: str
    model: str
    source: str = Field(description="the document the frame format was written from")
    device_class: Literal["access_controller"] = DEVICE_CLASS
    serial: SerialSettings = SerialSettings()
    framing: Framing
    checksum: Checksum | None = None
    heartbeat_timeout: float | None = Field(
        default=None, gt=0, description="seconds of silence after which the reader is offline; None: never"
    )
    messages: tuple[MessageSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _vocabulary(self) -> AccessProfile:
        known = vocabulary()[DEVICE_CLASS].entities
        for spec in self.messages:
            if spec.entity is not None and spec.entity not in known:
                raise ValueError(f"entity '{spec.entity}' is not in the {DEVICE_CLASS} vocabulary")
        return self

    def kinds(self) -> set[str]:
        return {m.kind for m in self.messages}

    def inputs(self) -> list[str]:
        return [m.entity for m in self.messages if m.kind == "input" and m.entity]


def available_profiles() -> list[str]:
    return profile_names("access")


@cache
def load_profile(name: str) -> AccessProfile:
    profile = read_profile("access", name, AccessProfile)
    path = profile_dir("access") / f"{name}.yaml"
    if profile.profile != name:
        raise ProfileError(f"{path}: 'profile' says '{profile.profile}', the file name says '{name}'")
    return profile

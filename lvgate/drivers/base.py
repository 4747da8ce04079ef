"""The driver plugin interface.

A driver is found through the ``lvgate.drivers`` entry-point group and declares, in one
object: its name, the pydantic model of a device's config (which *is* the schema: unknown
keys are errors), how a device's profile is checked, the entities a device will produce,
and how to poll it. Like a Home Assistant coordinator, one poller fetches everything for
one device per cycle and raises one failure type, :class:`DeviceError`.
"""

from __future__ import annotations

import abc
import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lvgate.gateway.policy import PublishPolicy
from lvgate.reading import Reading

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class DeviceConfig(BaseModel):
    """Settings every device has, whatever its driver. Drivers subclass this."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID_PATTERN, description="stable identifier, used in topics and unique ids")
    name: str | None = Field(default=None, description="display name; any Unicode")
    driver: str
    profile: str | None = None
    poll_interval: float = Field(default=10.0, gt=0, le=86400, description="seconds between polls")
    enabled: bool = True
    rack: str | None = None
    publish: PublishPolicy = Field(default_factory=PublishPolicy, description="deadbands and heartbeat")

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == "bridge":
            raise ValueError("'bridge' is reserved for the gateway's own topics; choose another id")
        return value

    @property
    def display_name(self) -> str:
        return self.name or self.id


@dataclass(frozen=True, slots=True)
class EntityDescription:
    """One entity a device produces: a vocabulary key of a device class."""

    key: str
    device_class: str


class DeviceError(Exception):
    """A poll failed. ``reason`` is a short machine word (timeout, refused, exception, ...)."""

    def __init__(self, device: str, reason: str, detail: str) -> None:
        self.device = device
        self.reason = reason
        self.detail = detail
        super().__init__(f"device '{device}': {reason}: {detail}")


class ProfileError(Exception):
    """A profile is missing or wrong; the message names the profile file."""


class UnknownProfile(ProfileError):
    """No profile of that name; ``choices`` are the names there are (for a suggestion)."""

    def __init__(self, kind: str, name: str, choices: list[str], detail: str) -> None:
        self.kind = kind
        self.name = name
        self.choices = choices
        super().__init__(f"no {kind} profile '{name}' ({detail})")

    def config_message(self) -> str:
        """What `lvgate check` says about the device's `profile` key."""
        from lvgate.spelling import did_you_mean

        return f"unknown {self.kind} profile '{self.name}'{did_you_mean(self.name, self.choices)}"


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """Something that happened at a device (a card read, a trap, a door forced open).

    ``kind`` is an event word of the device class in the vocabulary; ``data`` its details.
    """

    device: str
    kind: str
    ts_ms: int
    severity: str = "info"  # info | warning | critical
    data: dict[str, Any] = field(default_factory=dict)


class DeviceSink(Protocol):
    """Where a push-driven device delivers what it hears between polls."""

    def readings(self, readings: list[Reading]) -> None: ...

    def event(self, event: DeviceEvent) -> None: ...

    def availability(self, online: bool, reason: str | None = None) -> None: ...


class DevicePoller:
    """Fetches every entity of one device, once per call to :meth:`poll`.

    Devices that push (a serial card reader, SNMP traps, ONVIF events) implement
    :meth:`listen` instead of, or as well as, :meth:`poll`.
    """

    #: False for push-only devices: the gateway then never calls poll().
    polled: ClassVar[bool] = True

    def __init__(self, config: DeviceConfig) -> None:
        self.config = config

    async def poll(self) -> list[Reading]:
        """Read the device. Raises DeviceError when the device cannot be read at all."""
        return []

    async def listen(self, sink: DeviceSink) -> None:
        """Run until cancelled, delivering pushed readings and events to ``sink``."""
        return None

    async def identity(self) -> dict[str, Any] | None:
        """Manufacturer, model, serial, firmware ... for the asset list; None if unknown."""
        return None

    async def close(self) -> None:
        """Release connections. Called once when the gateway stops."""


class DriverSession(abc.ABC):
    """A driver's state during one gateway run (shared buses, connection pools)."""

    @abc.abstractmethod
    def poller(self, config: DeviceConfig) -> DevicePoller: ...

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Close what the session shares between devices."""


class Driver(abc.ABC):
    """A protocol plugin. Subclasses set the class variables and implement the methods."""

    name: ClassVar[str]
    config_model: ClassVar[type[DeviceConfig]]

    @abc.abstractmethod
    def check_device(self, config: DeviceConfig) -> list[tuple[str, str]]:
        """Problems a valid-looking device config still has, as (config key, message) pairs,
        for instance a profile that does not exist. Empty when all is well."""

    @abc.abstractmethod
    def device_class(self, config: DeviceConfig) -> str:
        """The vocabulary device class of this device."""

    @abc.abstractmethod
    def entities(self, config: DeviceConfig) -> Sequence[EntityDescription]:
        """The entities this device will publish."""

    @abc.abstractmethod
    def describe(self, config: DeviceConfig) -> str:
        """A one-line summary for ``lvgate check``."""

    @abc.abstractmethod
    def open_session(self) -> DriverSession:
        """Start the driver for one gateway run."""

    # --- technician tools: `lvgate probe <driver>` and `lvgate simulate <driver>` ----------------
    def add_probe_arguments(self, parser: argparse.ArgumentParser) -> bool:
        """Declare the arguments of ``lvgate probe <name>``; False if the driver has no probe."""
        return False

    async def probe(self, args: argparse.Namespace) -> int:
        """Talk to a live device and print what it says. Returns the exit code."""
        raise NotImplementedError

    def add_simulate_arguments(self, parser: argparse.ArgumentParser) -> bool:
        """Declare the arguments of ``lvgate simulate <name>``; False if there is no simulator."""
        return False

    async def simulate(self, args: argparse.Namespace, stop: asyncio.Event) -> int:
        """Serve simulated devices on loopback until ``stop`` is set. Returns the exit code."""
        raise NotImplementedError

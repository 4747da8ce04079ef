"""The driver plugin interface.

A driver is found through the ``lvgate.drivers`` entry-point group and declares, in one
object: its name, the pydantic model of a device's config (which *is* the schema: unknown
keys are errors), how a device's profile is checked, the entities a device will produce,
and how to poll it. Like a Home Assistant coordinator, one poller fetches everything for
one device per cycle and raises one failure type, :class:`DeviceError`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

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


class DevicePoller(abc.ABC):
    """Fetches every entity of one device, once per call to :meth:`poll`."""

    def __init__(self, config: DeviceConfig) -> None:
        self.config = config

    @abc.abstractmethod
    async def poll(self) -> list[Reading]:
        """Read the device. Raises DeviceError when the device cannot be read at all."""

    async def close(self) -> None:  # noqa: B027 - optional hook
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

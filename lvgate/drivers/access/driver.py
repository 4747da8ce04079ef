"""The access driver: door controllers and Wiegand converters on a serial port (push only)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from lvgate.drivers.access.profile import DEVICE_CLASS, AccessProfile, load_profile
from lvgate.drivers.access.serial_link import SerialLink
from lvgate.drivers.access.stream import AccessStream, Output, StreamSettings
from lvgate.drivers.access.wiegand import RAW, all_formats, formats_named
from lvgate.drivers.base import (
    DeviceConfig,
    DeviceEvent,
    DevicePoller,
    DeviceSink,
    Driver,
    DriverSession,
    EntityDescription,
    ProfileError,
    UnknownProfile,
)
from lvgate.reading import now_ms
from lvgate.spelling import did_you_mean

log = logging.getLogger(__name__)
DEFAULT_FORMATS = ("H10301", "H10306", "C1k35s", "H10304")
TICK_S = 0.05  # how often clock-driven events (held door, silent reader, partial frame) are checked


class AccessDeviceConfig(DeviceConfig):
    driver: Literal["access"] = "access"
    profile: str = Field(description="name of a file in edge_config/profiles/access/, without .yaml")
    port: str = Field(min_length=1, description="serial device; prefer /dev/serial/by-id/... (stable across replugs)")
    baudrate: int | None = Field(default=None, gt=0, description="overrides the profile's baud rate")
    wiegand_formats: tuple[str, ...] = Field(
        default=DEFAULT_FORMATS,
        min_length=1,
        description="card formats to try, first match of the length wins; 'raw' = any length",
    )
    card_format: str | None = Field(
        default=None, description="format of numbers whose bit length the frame cannot tell"
    )
    card_hash_key: SecretStr = Field(
        description="per-site key for card hashes: ${ENV} or !secret, at least 16 characters"
    )
    publish_card_numbers: bool = Field(default=False, description="also publish card numbers in clear (opt-in)")
    grant_window: float = Field(
        default=10.0, gt=0, le=600, description="s: an opening this soon after a grant is legitimate"
    )
    door_held_after: float = Field(default=30.0, gt=0, le=86400, description="s a door may stay open before door_held")
    heartbeat_timeout: float | None = Field(
        default=None, gt=0, le=86400, description="s of silence before reader_offline"
    )
    reopen_max_delay: float = Field(
        default=10.0, ge=0.1, le=300, description="s: cap of the back-off between reopen tries"
    )

    @field_validator("card_hash_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (a random per-site secret)")
        return value


def stream_settings(config: AccessDeviceConfig, profile: AccessProfile) -> StreamSettings:
    return StreamSettings(
        formats=formats_named(config.wiegand_formats),
        hash_key=config.card_hash_key.get_secret_value().encode("utf-8"),
        allow_raw=RAW in config.wiegand_formats,
        card_format=config.card_format,
        clear_cards=config.publish_card_numbers,
        grant_window_s=config.grant_window,
        held_after_s=config.door_held_after,
        heartbeat_timeout_s=config.heartbeat_timeout,
    )


class AccessPoller(DevicePoller):
    polled = False
    config: AccessDeviceConfig

    def __init__(self, config: AccessDeviceConfig) -> None:
        super().__init__(config)
        self.profile = load_profile(config.profile)
        self.stream = AccessStream(config.id, self.profile, stream_settings(config, self.profile))
        self.link = SerialLink(
            config.port, self.profile.serial, baudrate=config.baudrate, max_delay=config.reopen_max_delay
        )
        self._lost_ms: int | None = None

    async def listen(self, sink: DeviceSink) -> None:
        def deliver(out: Output) -> None:
            if out.readings:
                sink.readings(out.readings)
            for event in out.events:
                sink.event(event)

        def on_up() -> None:
            log.info("device '%s': serial port %s open", self.config.id, self.config.port)
            sink.availability(True)
            if self._lost_ms is not None:
                now = now_ms()
                offline_s = round((now - self._lost_ms) / 1000, 3)
                data = {"offline_s": offline_s, "since_ms": self._lost_ms, "port": self.config.port}
                sink.event(DeviceEvent(self.config.id, "link_restored", now, "info", data))
                self._lost_ms = None

        def on_down(reason: str, detail: str) -> None:
            log.warning("device '%s': serial port %s: %s: %s", self.config.id, self.config.port, reason, detail)
            sink.availability(False, reason)
            if self._lost_ms is None:
                self._lost_ms = now_ms()
                data = {"reason": reason, "port": self.config.port}
                sink.event(DeviceEvent(self.config.id, "link_lost", self._lost_ms, "warning", data))

        ticker = asyncio.create_task(self._tick_forever(deliver), name=f"tick:{self.config.id}")
        try:
            await self.link.run(lambda data, ts: deliver(self.stream.feed(data, ts)), on_up, on_down)
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker

    async def _tick_forever(self, deliver: Callable[[Output], None]) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            deliver(self.stream.tick(now_ms()))

    async def identity(self) -> dict[str, Any] | None:
        return {"manufacturer": self.profile.manufacturer, "model": self.profile.model, "port": self.config.port}


class AccessSession(DriverSession):
    def poller(self, config: DeviceConfig) -> DevicePoller:
        assert isinstance(config, AccessDeviceConfig)
        return AccessPoller(config)


class AccessDriver(Driver):
    name = "access"
    config_model = AccessDeviceConfig

    def check_device(self, config: DeviceConfig) -> list[tuple[str, str]]:
        assert isinstance(config, AccessDeviceConfig)
        problems: list[tuple[str, str]] = []
        try:
            load_profile(config.profile)
        except UnknownProfile as exc:
            problems.append(("profile", exc.config_message()))
        except ProfileError as exc:
            problems.append(("profile", str(exc)))
        known = [*all_formats(), RAW]
        for name in (*config.wiegand_formats, *([config.card_format] if config.card_format else [])):
            if name not in known:
                key = "card_format" if name == config.card_format else "wiegand_formats"
                problems.append((key, f"unknown card format '{name}'{did_you_mean(name, known)}"))
        return problems

    def device_class(self, config: DeviceConfig) -> str:
        return DEVICE_CLASS

    def entities(self, config: DeviceConfig) -> Sequence[EntityDescription]:
        assert isinstance(config, AccessDeviceConfig)
        profile = load_profile(config.profile)
        keys = [*profile.inputs(), "last_card_read", "frames_rejected"]
        if "clock" in profile.kinds():
            keys.append("clock_drift")
        if config.heartbeat_timeout or profile.heartbeat_timeout:
            keys.append("reader_online")
        return [EntityDescription(k, DEVICE_CLASS) for k in keys]

    def describe(self, config: DeviceConfig) -> str:
        assert isinstance(config, AccessDeviceConfig)
        profile = load_profile(config.profile)
        privacy = "card numbers in clear" if config.publish_card_numbers else "cards as keyed hashes"
        hint = "" if config.port.startswith("/dev/serial/by-id/") else " (a /dev/serial/by-id/ path survives replugs)"
        return (
            f"access {profile.manufacturer} {profile.model} on {config.port}{hint}, "
            f"{config.baudrate or profile.serial.baudrate} baud, formats {', '.join(config.wiegand_formats)}, {privacy}"
        )

    def open_session(self) -> DriverSession:
        return AccessSession()

    # --- technician tools --------------------------------------------------------------------
    def add_probe_arguments(self, parser: argparse.ArgumentParser) -> bool:
        from lvgate.drivers.access.probe import add_arguments

        add_arguments(parser)
        return True

    async def probe(self, args: argparse.Namespace) -> int:
        from lvgate.drivers.access.probe import run_probe

        return await run_probe(args)

    def add_simulate_arguments(self, parser: argparse.ArgumentParser) -> bool:
        from lvgate.drivers.access.simulator import add_arguments

        add_arguments(parser)
        return True

    async def simulate(self, args: argparse.Namespace, stop: asyncio.Event) -> int:
        from lvgate.drivers.access.simulator import run_simulator

        return await run_simulator(args, stop)

"""The Modbus driver: device config, one bus per line shared by its units, pollers, tools."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from lvgate.drivers.base import (
    DeviceConfig,
    DevicePoller,
    Driver,
    DriverSession,
    EntityDescription,
    ProfileError,
    UnknownProfile,
)
from lvgate.drivers.modbus.planner import plan_reads
from lvgate.drivers.modbus.poller import ModbusPoller, describe_blocks
from lvgate.drivers.modbus.profile import (
    CUSTOM,
    Addressing,
    ByteOrder,
    ModbusProfile,
    Point,
    load_profile,
)
from lvgate.drivers.modbus.transport import Bus, RtuOverTcpBus, SerialRtuBus, TcpBus, frame_gap

log = logging.getLogger(__name__)

Transport = Literal["tcp", "rtu", "rtu_over_tcp"]


class ModbusDeviceConfig(DeviceConfig):
    driver: Literal["modbus"] = "modbus"
    profile: str = Field(description="a file in edge_config/profiles/modbus/ (without .yaml), or 'custom'")
    transport: Transport = Field(default="tcp", description="tcp, rtu (serial port) or rtu_over_tcp (converter)")
    host: str = Field(default="127.0.0.1", description="tcp and rtu_over_tcp: address of the device or converter")
    port: int | str = Field(default=502, description="TCP port, or for rtu the serial device (/dev/serial/by-id/...)")
    baudrate: int = Field(default=9600, ge=300, le=921600, description="rtu: line speed")
    parity: Literal["N", "E", "O"] = "N"
    bytesize: Literal[7, 8] = 8
    stopbits: Literal[1, 2] = 1
    unit: int = Field(default=1, ge=0, le=247, description="Modbus unit (slave) id")
    timeout: float = Field(default=1.0, gt=0, le=60, description="seconds to wait for a reply")
    retries: int = Field(default=1, ge=0, le=5)
    frame_gap: float | None = Field(default=None, ge=0, le=1, description="silence between frames, s (3.5 chars)")
    max_gap: int | None = Field(default=None, ge=0, le=124, description="override the profile's max_gap")
    byte_order: ByteOrder | None = Field(default=None, description="override the profile's byte order")
    backoff_after: int = Field(default=3, ge=1, le=100, description="failures in a row before backing off")
    backoff_max: float = Field(default=300.0, ge=1, le=86400, description="longest back-off, s")
    # A "custom" device carries its own register map.
    device_class: str | None = None
    addressing: Addressing | None = None
    points: tuple[Point, ...] | None = None

    @field_validator("port", mode="before")
    @classmethod
    def _port_fits_transport(cls, value: Any, info: ValidationInfo) -> Any:
        """A TCP port number, or for rtu a device path; errors stay on the `port` line."""
        if info.data.get("transport") == "rtu":
            if not isinstance(value, str) or not value.startswith("/"):
                raise ValueError("transport rtu needs the serial device in `port`, e.g. /dev/serial/by-id/...")
            return value
        if isinstance(value, str) and value.strip().isdigit():  # ${VAR} substitutions arrive as text
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise PydanticCustomError("int_parsing", "Input should be a valid integer")
        if value < 1:
            raise PydanticCustomError("greater_than_equal", "Input should be >= 1", {"ge": 1})
        if value > 65535:
            raise PydanticCustomError("less_than_equal", "Input should be <= 65535", {"le": 65535})
        return value

    @model_validator(mode="after")
    def _transport_fits(self) -> ModbusDeviceConfig:
        if self.transport == "rtu" and not isinstance(self.port, str):  # the default 502 is a TCP port
            raise ValueError("transport rtu needs the serial device in `port`, e.g. /dev/serial/by-id/...")
        custom_keys = [k for k in ("device_class", "addressing", "points") if getattr(self, k) is not None]
        if self.profile == CUSTOM:
            if self.points is None or self.device_class is None:
                raise ValueError("profile custom needs `device_class` and `points`")
            custom_profile(self)  # its points must map to the vocabulary like any profile
        elif custom_keys:
            raise ValueError(f"{', '.join(custom_keys)}: only for profile custom")
        return self


def custom_profile(config: ModbusDeviceConfig) -> ModbusProfile:
    return ModbusProfile(
        profile=CUSTOM,
        device_class=config.device_class or "",
        manufacturer="custom",
        model=config.name or config.id,
        source=f"points written in the config of device '{config.id}'",
        addressing=config.addressing or "wire",
        byte_order=config.byte_order or "ABCD",
        device_id=False,
        points=config.points or (),
    )


def profile_of(config: ModbusDeviceConfig) -> ModbusProfile:
    return custom_profile(config) if config.profile == CUSTOM else load_profile(config.profile)


def bus_key(config: ModbusDeviceConfig) -> tuple[str, str, int | str]:
    return (config.transport, config.host if config.transport != "rtu" else "", config.port)


def make_bus(config: ModbusDeviceConfig) -> Bus:
    line = (config.baudrate, config.bytesize, config.parity, config.stopbits)
    if config.transport == "rtu":
        assert isinstance(config.port, str)
        b, size, parity, stop = line
        return SerialRtuBus(
            config.port, baudrate=b, bytesize=size, parity=parity, stopbits=stop,
            timeout=config.timeout, retries=config.retries, gap=config.frame_gap,
        )  # fmt: skip
    assert isinstance(config.port, int)
    if config.transport == "rtu_over_tcp":
        gap = frame_gap(*line) if config.frame_gap is None else config.frame_gap
        return RtuOverTcpBus(config.host, config.port, timeout=config.timeout, retries=config.retries, gap=gap)
    return TcpBus(config.host, config.port, timeout=config.timeout, retries=config.retries, gap=config.frame_gap or 0)


def make_poller(config: ModbusDeviceConfig, bus: Bus) -> ModbusPoller:
    profile = profile_of(config)
    return ModbusPoller(
        config,
        bus,
        profile,
        unit=config.unit,
        max_gap=profile.max_gap if config.max_gap is None else config.max_gap,
        byte_order=config.byte_order or profile.byte_order,
        backoff_after=config.backoff_after,
        backoff_max=config.backoff_max,
    )


class ModbusSession(DriverSession):
    """Every unit on one line shares one bus, hence one queue."""

    def __init__(self) -> None:
        self.buses: dict[tuple[str, str, int | str], Bus] = {}

    def poller(self, config: DeviceConfig) -> DevicePoller:
        assert isinstance(config, ModbusDeviceConfig)
        key = bus_key(config)
        if key not in self.buses:
            self.buses[key] = make_bus(config)
        return make_poller(config, self.buses[key])

    async def close(self) -> None:
        for bus in self.buses.values():
            await bus.close()


class ModbusDriver(Driver):
    name = "modbus"
    config_model = ModbusDeviceConfig

    def check_device(self, config: DeviceConfig) -> list[tuple[str, str]]:
        assert isinstance(config, ModbusDeviceConfig)
        try:
            profile = profile_of(config)
        except UnknownProfile as exc:
            return [("profile", exc.config_message())]
        except ProfileError as exc:
            return [("profile", str(exc))]
        problems = []
        for point in profile.points:
            address = profile.wire_address(point)
            if not 0 <= address <= 65536 - point.register_count:
                problems.append(("profile", f"{'/'.join(point.keys)}: address {point.address} is not a wire address"))
        return problems

    def device_class(self, config: DeviceConfig) -> str:
        assert isinstance(config, ModbusDeviceConfig)
        return profile_of(config).device_class

    def entities(self, config: DeviceConfig) -> Sequence[EntityDescription]:
        assert isinstance(config, ModbusDeviceConfig)
        profile = profile_of(config)
        return [EntityDescription(key, profile.device_class) for p in profile.points for key in p.keys]

    def describe(self, config: DeviceConfig) -> str:
        assert isinstance(config, ModbusDeviceConfig)
        profile = profile_of(config)
        max_gap = profile.max_gap if config.max_gap is None else config.max_gap
        blocks = plan_reads([(p, profile.wire_address(p)) for p in profile.points], max_gap)
        if config.transport == "rtu":
            where = f"rtu {config.port} {config.baudrate} {config.bytesize}{config.parity}{config.stopbits}"
        else:
            where = f"{config.transport} {config.host}:{config.port}"
        return (
            f"modbus {where} unit {config.unit}, "
            f"{profile.manufacturer} {profile.model} ({profile.device_class}), "
            f"{len(profile.points)} points in {len(blocks)} requests, every {config.poll_interval:g} s"
        )

    def describe_plan(self, config: DeviceConfig) -> list[str]:
        """The requests a poll sends, with the wire address of every point (`lvgate check --plan`)."""
        assert isinstance(config, ModbusDeviceConfig)
        profile = profile_of(config)
        max_gap = profile.max_gap if config.max_gap is None else config.max_gap
        lines = [f"addressing {profile.addressing}, byte order {config.byte_order or profile.byte_order}"]
        lines += describe_blocks(plan_reads([(p, profile.wire_address(p)) for p in profile.points], max_gap), profile)
        return lines

    def open_session(self) -> DriverSession:
        return ModbusSession()

    # --- technician tools ---------------------------------------------------------------------
    def add_probe_arguments(self, parser: argparse.ArgumentParser) -> bool:
        from lvgate.drivers.modbus.probe import add_probe_arguments

        add_probe_arguments(parser)
        return True

    async def probe(self, args: argparse.Namespace) -> int:
        from lvgate.drivers.modbus.probe import run_probe

        return await run_probe(args)

    def add_simulate_arguments(self, parser: argparse.ArgumentParser) -> bool:
        parser.add_argument(
            "--profile", action="append", required=True, help="profile to serve; repeat for units 1, 2, ..."
        )
        parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=5020, help="Modbus TCP port (default 5020)")
        parser.add_argument("--serial", metavar="PATH", help="serve RTU on this serial device instead of TCP")
        parser.add_argument(
            "--pty",
            metavar="LINK",
            help="make a pseudo-terminal pair with socat and serve RTU; point the gateway at LINK",
        )
        parser.add_argument("--baudrate", type=int, default=9600)
        return True

    async def simulate(self, args: argparse.Namespace, stop: asyncio.Event) -> int:
        from lvgate.drivers.modbus.simulator import run_simulator

        return await run_simulator(args, stop)

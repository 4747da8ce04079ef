"""The Modbus driver: device config, sessions sharing one connection per endpoint, pollers."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from lvgate.drivers.base import (
    DeviceConfig,
    DeviceError,
    DevicePoller,
    Driver,
    DriverSession,
    EntityDescription,
    ProfileError,
)
from lvgate.drivers.modbus.codec import decode_point
from lvgate.drivers.modbus.planner import ReadBlock, plan_reads
from lvgate.drivers.modbus.profile import ModbusProfile, available_profiles, load_profile
from lvgate.mqtt_schema.vocabulary import entity_kind
from lvgate.reading import Quality, Reading, now_ms
from lvgate.spelling import did_you_mean

log = logging.getLogger(__name__)


class ModbusDeviceConfig(DeviceConfig):
    driver: Literal["modbus"] = "modbus"
    profile: str = Field(description="name of a file in edge_config/profiles/modbus/, without .yaml")
    transport: Literal["tcp"] = "tcp"
    host: str = "127.0.0.1"
    port: int = Field(default=502, ge=1, le=65535)
    unit: int = Field(default=1, ge=0, le=247, description="Modbus unit (slave) id")
    timeout: float = Field(default=3.0, gt=0, le=60)
    retries: int = Field(default=1, ge=0, le=5)


class _Endpoint:
    """One TCP connection, shared by every unit behind it, one request at a time."""

    def __init__(self, host: str, port: int, timeout: float, retries: int) -> None:
        self.client = AsyncModbusTcpClient(
            host, port=port, timeout=timeout, retries=retries, reconnect_delay=0, name=f"{host}:{port}"
        )
        self.lock = asyncio.Lock()

    async def read(self, block: ReadBlock, unit: int) -> list[int]:
        async with self.lock:
            if not self.client.connected and not await self.client.connect():
                raise ConnectionError(
                    f"cannot connect to {self.client.comm_params.host}:{self.client.comm_params.port}"
                )
            call = {
                "holding": self.client.read_holding_registers,
                "input": self.client.read_input_registers,
                "coil": self.client.read_coils,
                "discrete": self.client.read_discrete_inputs,
            }[block.table]
            reply: Any = await call(block.start, count=block.count, device_id=unit)
        if reply.isError():
            raise _ExceptionReply(getattr(reply, "exception_code", 0))
        if block.table in ("coil", "discrete"):
            return [1 if b else 0 for b in reply.bits[: block.count]]
        words: list[int] = list(reply.registers)
        if len(words) != block.count:
            raise _ExceptionReply(-1)
        return words


class _ExceptionReply(Exception):
    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"exception code {code}" if code >= 0 else "short reply")


class ModbusPoller(DevicePoller):
    config: ModbusDeviceConfig

    def __init__(self, config: ModbusDeviceConfig, endpoint: _Endpoint) -> None:
        super().__init__(config)
        self.endpoint = endpoint
        self.profile: ModbusProfile = load_profile(config.profile)
        self.blocks = plan_reads(self.profile)
        self.value_types = {p.key: entity_kind(self.profile.device_class, p.key).type for p in self.profile.points}

    async def poll(self) -> list[Reading]:
        readings: list[Reading] = []
        failures = 0
        for block in self.blocks:
            try:
                words = await self.endpoint.read(block, self.config.unit)
            except _ExceptionReply as exc:
                failures += 1
                ts = now_ms()
                log.warning(
                    "device '%s': %s reading %s %d+%d",
                    self.config.id,
                    exc,
                    block.table,
                    block.start,
                    block.count,
                )
                readings.extend(Reading(self.config.id, p.key, None, ts, Quality.BAD) for p, _ in block.points)
                continue
            except (TimeoutError, ModbusException, ConnectionError, OSError) as exc:
                raise DeviceError(self.config.id, "no_response", str(exc) or type(exc).__name__) from exc
            ts = now_ms()
            for point, address in block.points:
                offset = address - block.start
                value, quality = decode_point(
                    point,
                    words[offset : offset + point.register_count],
                    self.profile.byte_order,
                    self.value_types[point.key],
                )
                readings.append(Reading(self.config.id, point.key, value, ts, quality))
        if failures == len(self.blocks):
            raise DeviceError(self.config.id, "exception", "every read was refused by the device")
        return readings


class ModbusSession(DriverSession):
    def __init__(self) -> None:
        self.endpoints: dict[tuple[str, int], _Endpoint] = {}

    def poller(self, config: DeviceConfig) -> DevicePoller:
        assert isinstance(config, ModbusDeviceConfig)
        key = (config.host, config.port)
        if key not in self.endpoints:
            self.endpoints[key] = _Endpoint(config.host, config.port, config.timeout, config.retries)
        return ModbusPoller(config, self.endpoints[key])

    async def close(self) -> None:
        for endpoint in self.endpoints.values():
            endpoint.client.close()


class ModbusDriver(Driver):
    name = "modbus"
    config_model = ModbusDeviceConfig

    def check_device(self, config: DeviceConfig) -> list[tuple[str, str]]:
        assert isinstance(config, ModbusDeviceConfig)
        try:
            load_profile(config.profile)
        except ProfileError as exc:
            if "no Modbus profile" in str(exc):
                hint = did_you_mean(config.profile, available_profiles())
                return [("profile", f"unknown Modbus profile '{config.profile}'{hint}")]
            return [("profile", str(exc))]
        return []

    def device_class(self, config: DeviceConfig) -> str:
        assert isinstance(config, ModbusDeviceConfig)
        return load_profile(config.profile).device_class

    def entities(self, config: DeviceConfig) -> Sequence[EntityDescription]:
        assert isinstance(config, ModbusDeviceConfig)
        profile = load_profile(config.profile)
        return [EntityDescription(p.key, profile.device_class) for p in profile.points]

    def describe(self, config: DeviceConfig) -> str:
        assert isinstance(config, ModbusDeviceConfig)
        profile = load_profile(config.profile)
        blocks = plan_reads(profile)
        return (
            f"modbus {config.transport} {config.host}:{config.port} unit {config.unit}, "
            f"{profile.manufacturer} {profile.model} ({profile.device_class}), "
            f"{len(profile.points)} points in {len(blocks)} requests, every {config.poll_interval:g} s"
        )

    def open_session(self) -> DriverSession:
        return ModbusSession()

    def add_simulate_arguments(self, parser: argparse.ArgumentParser) -> bool:
        parser.add_argument(
            "--profile", action="append", required=True, help="profile to serve; repeat for units 1, 2, ..."
        )
        parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=5020)
        return True

    async def simulate(self, args: argparse.Namespace, stop: asyncio.Event) -> int:
        from lvgate.drivers.modbus.simulator import start_server, unit_for
        from lvgate.simulate import is_loopback

        if not is_loopback(args.host):
            print(f"refusing to serve on {args.host}: simulators bind loopback only")
            return 2
        try:
            units = [unit_for(name, index + 1) for index, name in enumerate(args.profile)]
        except ProfileError as exc:
            print(exc)
            return 1
        server = await start_server(units, host=args.host, port=args.port)
        for unit in units:
            print(f"unit {unit.unit}: {unit.profile.profile} on {args.host}:{args.port}", flush=True)
        await stop.wait()
        await server.shutdown()  # type: ignore[no-untyped-call]
        return 0

"""``lvgate simulate``: serve simulated devices on loopback for demos, tests and training."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import sys
from pathlib import Path
from typing import Any

from lvgate.drivers.modbus.driver import ModbusDeviceConfig
from lvgate.drivers.modbus.simulator import SimulatedUnit, start_server, unit_for
from lvgate.gateway.config import GatewayConfig, load_gateway_config
from lvgate.gateway.yaml_source import ConfigError

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def modbus_units_of(config: GatewayConfig) -> dict[tuple[str, int], list[SimulatedUnit]]:
    """Simulated units for every loopback Modbus device of a gateway config, by endpoint."""
    endpoints: dict[tuple[str, int], list[SimulatedUnit]] = {}
    for device in config.devices:
        if (
            isinstance(device, ModbusDeviceConfig)
            and device.transport == "tcp"
            and isinstance(device.port, int)
            and is_loopback(device.host)
        ):
            endpoints.setdefault((device.host, device.port), []).append(unit_for(device.profile, device.unit))
    return endpoints


async def serve(endpoints: dict[tuple[str, int], list[SimulatedUnit]], stop: asyncio.Event) -> None:
    servers: list[Any] = []
    try:
        for (host, port), units in endpoints.items():
            servers.append(await start_server(units, host=host, port=port))
            names = ", ".join(f"unit {u.unit} = {u.profile.profile}" for u in units)
            log.info("simulating Modbus TCP on %s:%d: %s", host, port, names)
        await stop.wait()
    finally:
        for server in servers:
            await server.shutdown()


def simulate_room(config_file: Path) -> int:
    """Serve every loopback device of a gateway config until SIGINT/SIGTERM."""
    from lvgate.cli import run_until_signal

    try:
        endpoints = modbus_units_of(load_gateway_config(config_file))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    if not endpoints:
        print("nothing to simulate: no Modbus device on a loopback address", file=sys.stderr)
        return 1

    async def main(stop: asyncio.Event) -> None:
        await serve(endpoints, stop)

    asyncio.run(run_until_signal(main))
    return 0

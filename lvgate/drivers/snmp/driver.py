"""The SNMP driver: config, sessions, pollers, and the probe/simulate technician tools."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path

from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

from lvgate.drivers.base import (
    DeviceConfig,
    DeviceError,
    DevicePoller,
    Driver,
    DriverSession,
    EntityDescription,
    ProfileError,
)
from lvgate.drivers.snmp.client import Credentials, SnmpClient
from lvgate.drivers.snmp.config import SnmpDeviceConfig
from lvgate.drivers.snmp.poller import SnmpPoller, profile_keys
from lvgate.drivers.snmp.profile import available_profiles, load_profile
from lvgate.mqtt_schema.vocabulary import vocabulary
from lvgate.spelling import did_you_mean


class SnmpSession(DriverSession):
    """Devices with the same credentials share one pysnmp engine: an engine is expensive to
    start (~0.7 s of CPU, a few MiB each), and v3 users are registered per engine, so devices
    whose v3 user has different keys each keep their own."""

    def __init__(self) -> None:
        self.pollers: list[SnmpPoller] = []
        self._engines: dict[Credentials, SnmpEngine] = {}

    def poller(self, config: DeviceConfig) -> DevicePoller:
        assert isinstance(config, SnmpDeviceConfig)
        credentials = config.credentials()
        # v1/v2c communities travel in each request: one engine serves them all.
        key = credentials if credentials.version == "3" else Credentials()
        engine = self._engines.setdefault(key, SnmpEngine())
        poller = SnmpPoller(config, SnmpClient(config.id, config.target(), credentials, engine))
        self.pollers.append(poller)
        return poller


class SnmpDriver(Driver):
    name = "snmp"
    config_model = SnmpDeviceConfig

    def check_device(self, config: DeviceConfig) -> list[tuple[str, str]]:
        assert isinstance(config, SnmpDeviceConfig)
        if config.profile is None:
            return []
        try:
            load_profile(config.profile)
        except ProfileError as exc:
            if "no SNMP profile" in str(exc):
                hint = did_you_mean(config.profile, available_profiles())
                return [("profile", f"unknown SNMP profile '{config.profile}'{hint}")]
            return [("profile", str(exc))]
        return []

    def device_class(self, config: DeviceConfig) -> str:
        assert isinstance(config, SnmpDeviceConfig)
        if config.profile:
            return load_profile(config.profile).device_class
        return config.device_class or "switch"

    def entities(self, config: DeviceConfig) -> Sequence[EntityDescription]:
        assert isinstance(config, SnmpDeviceConfig)
        device_class = self.device_class(config)
        if config.profile:
            keys: Sequence[str] = profile_keys(load_profile(config.profile))
        else:  # chosen at run time: any key of the class may come
            keys = list(vocabulary()[device_class].entities)
        return [EntityDescription(key, device_class) for key in keys]

    def describe(self, config: DeviceConfig) -> str:
        assert isinstance(config, SnmpDeviceConfig)
        who = config.v3.user if config.version == "3" and config.v3 else "community ***"
        if config.profile:
            profile = load_profile(config.profile)
            what = (
                f"{profile.manufacturer} profile '{profile.name}' ({profile.device_class}, {len(profile.parts)} blocks)"
            )
        else:
            what = "profile chosen from sysObjectID"
        traps = f", traps on {config.traps.address}:{config.traps.port}" if config.traps else ""
        return (
            f"snmp v{config.version} {config.host}:{config.port} as {who}, {what}, "
            f"every {config.poll_interval:g} s{traps}"
        )

    def open_session(self) -> DriverSession:
        return SnmpSession()

    # --- technician tools ----------------------------------------------------------------------
    def add_probe_arguments(self, parser: argparse.ArgumentParser) -> bool:
        parser.add_argument("host", help="agent address")
        parser.add_argument("--port", type=int, default=161)
        parser.add_argument("--version", choices=["1", "2c", "3"], default="2c")
        parser.add_argument("--community", default="public")
        parser.add_argument("--user", help="v3 user")
        parser.add_argument("--auth-protocol", default="SHA256")
        parser.add_argument("--auth-key-env", help="environment variable holding the v3 auth key")
        parser.add_argument("--priv-protocol", default="AES")
        parser.add_argument("--priv-key-env", help="environment variable holding the v3 privacy key")
        parser.add_argument("--profile", help="use this profile instead of detecting it")
        parser.add_argument("--timeout", type=float, default=2.0)
        return True

    async def probe(self, args: argparse.Namespace) -> int:
        from lvgate.drivers.snmp.probe import run_probe

        code: int = await run_probe(args)
        return code

    def add_simulate_arguments(self, parser: argparse.ArgumentParser) -> bool:
        parser.add_argument("recording", nargs="+", type=Path, help="snmprec files; community = file name stem")
        parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=1161)
        return True

    async def simulate(self, args: argparse.Namespace, stop: asyncio.Event) -> int:
        from lvgate.drivers.snmp.simulator import serve
        from lvgate.simulate import is_loopback

        if not is_loopback(args.host):
            print(f"refusing to serve on {args.host}: simulators bind loopback only")
            return 2
        missing = [str(p) for p in args.recording if not p.is_file()]
        if missing:
            print(f"no such recording: {', '.join(missing)}")
            return 1
        return await serve(list(args.recording), args.host, args.port, stop)


__all__ = ["DeviceError", "SnmpDriver"]

"""The reachability driver: is a target up, and how well, seen from outside.

For systems with no management protocol (parking controllers, signage players, NVR web
interfaces, servers without SNMP, the internet uplink). One device is one target with one or
more checks; a poll runs them concurrently, bounded by a semaphore that the whole session
shares, so a few hundred targets cannot open a few hundred sockets at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Sequence

import httpx

from lvgate.drivers.base import (
    DeviceConfig,
    DeviceError,
    DeviceEvent,
    DevicePoller,
    DeviceSink,
    Driver,
    DriverSession,
    EntityDescription,
    ProfileError,
    UnknownProfile,
)
from lvgate.drivers.reachability import probe as probe_tool
from lvgate.drivers.reachability.checks import CheckResult, http_check, icmp_check, tcp_check
from lvgate.drivers.reachability.config import (
    Check,
    IcmpCheck,
    Plan,
    ReachabilityDeviceConfig,
    TcpCheck,
    load_profile,
    plan_of,
)
from lvgate.drivers.reachability.debounce import Debounce
from lvgate.drivers.reachability.icmp import IcmpUnavailable, Pinger
from lvgate.reading import Quality, Reading, Value, now_ms

log = logging.getLogger(__name__)

DEVICE_CLASS = "host"
#: Checks in flight at once across every device of a gateway (see bench/reachability.py).
MAX_CONCURRENT_CHECKS = 64


class ReachabilitySession(DriverSession):
    """What every device shares: the ICMP sockets, the HTTP clients and the concurrency bound."""

    def __init__(self, max_concurrent: int = MAX_CONCURRENT_CHECKS) -> None:
        self.limit = asyncio.Semaphore(max_concurrent)
        self.pinger = Pinger()
        self._clients: dict[bool, httpx.AsyncClient] = {}

    def client(self, verify: bool) -> httpx.AsyncClient:
        if verify not in self._clients:
            # A fresh connection per check (no keep-alive): each check sees what a new client
            # sees, handshake included. trust_env off: no proxy from the environment in between.
            self._clients[verify] = httpx.AsyncClient(
                verify=verify,
                trust_env=False,
                follow_redirects=False,
                limits=httpx.Limits(max_keepalive_connections=0),
                headers={"User-Agent": "lvgate-reachability"},
            )
        return self._clients[verify]

    async def run(self, host: str, check: Check, timeout: float) -> CheckResult:
        async with self.limit:
            if isinstance(check, IcmpCheck):
                return await icmp_check(self.pinger, host, check, timeout)
            if isinstance(check, TcpCheck):
                return await tcp_check(host, check, timeout)
            return await http_check(self.client(check.verify_tls), host, check, timeout)

    def poller(self, config: DeviceConfig) -> DevicePoller:
        assert isinstance(config, ReachabilityDeviceConfig)
        return ReachabilityPoller(config, self)

    async def close(self) -> None:
        self.pinger.close()
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


class ReachabilityPoller(DevicePoller):
    """Runs a device's checks each poll; sends 'down'/'up' events through the sink that
    :meth:`listen` is given (held back until then, should a poll come first)."""

    config: ReachabilityDeviceConfig

    def __init__(self, config: ReachabilityDeviceConfig, session: ReachabilitySession) -> None:
        super().__init__(config)
        self.session = session
        self.plan: Plan = plan_of(config)
        self.debounce = Debounce(self.plan.down_after)
        self._sink: DeviceSink | None = None
        self._held: list[DeviceEvent] = []

    async def poll(self) -> list[Reading]:
        ts = now_ms()
        runs: list[Awaitable[CheckResult]] = [
            self.session.run(self.plan.host, check, self.plan.timeout) for check in self.plan.checks
        ]
        try:
            results = await asyncio.gather(*runs)
        except IcmpUnavailable as exc:
            raise DeviceError(self.config.id, "icmp_unavailable", str(exc)) from exc
        failed = [r for r in results if not r.ok]
        change = self.debounce.update(not failed)
        if change is not None:
            self._emit(change, ts, failed)
        return self._readings(ts, results, failed)

    def _readings(self, ts: int, results: list[CheckResult], failed: list[CheckResult]) -> list[Reading]:
        values: dict[str, Value] = {}
        for result in results:
            for key, value in result.values.items():
                if key == "tcp_connect_time" and value is not None and values.get(key) is not None:
                    # several TCP ports: the slowest connect is the one worth watching
                    value = max(float(value), float(values[key] or 0))
                if key not in values or value is not None:
                    values[key] = value
        state = self.debounce.state
        # Before the first verdict a failing target is "not answering", not yet "down".
        reachable = (
            Reading(self.config.id, "reachable", state, ts)
            if state is not None
            else (Reading(self.config.id, "reachable", False, ts, Quality.UNCERTAIN))
        )
        readings = [reachable, Reading(self.config.id, "checks_failed", len(failed), ts)]
        for key in self.plan.keys[2:]:
            value = values.get(key)
            readings.append(Reading(self.config.id, key, value, ts, Quality.GOOD if value is not None else Quality.BAD))
        return readings

    def _emit(self, change: str, ts: int, failed: list[CheckResult]) -> None:
        if change == "down":
            data = {
                "host": self.plan.host,
                "failed_polls": self.debounce.failures,
                "failed": {r.label: r.reason for r in failed},
            }
            event = DeviceEvent(self.config.id, "down", ts, "critical", data)
            log.warning("target '%s' (%s) down: %s", self.config.id, self.plan.host, data["failed"])
        else:
            event = DeviceEvent(self.config.id, "up", ts, "info", {"host": self.plan.host})
            log.info("target '%s' (%s) up again", self.config.id, self.plan.host)
        if self._sink is None:
            self._held.append(event)
        else:
            self._sink.event(event)

    async def listen(self, sink: DeviceSink) -> None:
        self._sink = sink
        for event in self._held:
            sink.event(event)
        self._held.clear()
        await asyncio.Event().wait()  # events are sent from poll(); stay until cancelled

    async def identity(self) -> dict[str, str] | None:
        return {"host": self.plan.host, "checks": ", ".join(c.label for c in self.plan.checks)}


class ReachabilityDriver(Driver):
    name = "reachability"
    config_model = ReachabilityDeviceConfig

    def check_device(self, config: DeviceConfig) -> list[tuple[str, str]]:
        assert isinstance(config, ReachabilityDeviceConfig)
        if config.profile:
            try:
                load_profile(config.profile)
            except UnknownProfile as exc:
                return [("profile", exc.config_message())]
            except ProfileError as exc:
                return [("profile", str(exc))]
        try:
            plan_of(config)
        except ValueError as exc:
            return [("checks", str(exc))]
        return []

    def device_class(self, config: DeviceConfig) -> str:
        return DEVICE_CLASS

    def entities(self, config: DeviceConfig) -> Sequence[EntityDescription]:
        return [EntityDescription(key, DEVICE_CLASS) for key in plan_of(config).keys]

    def describe(self, config: DeviceConfig) -> str:
        plan = plan_of(config)
        checks = ", ".join(c.label for c in plan.checks)
        profile = f" (profile {config.profile})" if config.profile else ""
        return (
            f"reachability of {plan.host}{profile}: {checks}; timeout {plan.timeout:g} s, "
            f"down after {plan.down_after} failed polls, every {config.poll_interval:g} s"
        )

    def open_session(self) -> DriverSession:
        return ReachabilitySession()

    def add_probe_arguments(self, parser: argparse.ArgumentParser) -> bool:
        return probe_tool.add_arguments(parser)

    async def probe(self, args: argparse.Namespace) -> int:
        return await probe_tool.run(args)

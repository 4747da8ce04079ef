"""Shared fixtures: real services on free loopback ports (see tests/services.py).

Fixtures (all stop what they started, by PID, at teardown):
- mqtt_broker            function  a private MosquittoBroker, started
- mqtt_broker_factory    function  BrokerFactory: make(persistence=..., tls=..., extra_config=..., start=...)
- session_broker         session   one MosquittoBroker shared by the session (do not stop it)
- influxdb               session   one InfluxDB1 shared by the session; a test that stops it must start it again
- influxdb_database      function  name of a fresh database in `influxdb`, dropped afterwards
- influxdb_factory       function  InfluxDBFactory: private InfluxDB1 servers (for restart tests)
- process_guard          function  ProcessGuard: start subprocesses, logs in tmp_path/processes
"""

from __future__ import annotations

import itertools
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from tests.services import (
    BrokerFactory,
    InfluxDB1,
    InfluxDBFactory,
    MosquittoBroker,
    ProcessGuard,
    find_program,
)

_PROGRAMS = {
    "mosquitto": "mosquitto",
    "mosquitto_pub": "mosquitto-clients",
    "influxd": "influxdb",
    "snmpd": "snmpd",
    "snmpget": "snmp",
    "socat": "socat",
}
_start_times: dict[str, list[float]] = {}


def _sigterm_to_interrupt(signum: int, frame: FrameType | None) -> None:
    # A SIGTERM (e.g. from `timeout` in the Makefile) ends the run like Ctrl-C does, so that the
    # fixtures' teardown stops every service they started.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _sigterm_to_interrupt)


def pytest_report_header(config: pytest.Config) -> str:
    missing = [f"{prog} ({pkg})" for prog, pkg in _PROGRAMS.items() if find_program(prog) is None]
    if not missing:
        return "services: mosquitto, influxd, snmpd, snmpget, socat found"
    return "services: MISSING " + ", ".join(missing) + " -> tests needing them skip; run make system-deps"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _start_times:
        parts = [
            f"{name} x{len(times)} (mean {sum(times) / len(times):.2f} s, max {max(times):.2f} s)"
            for name, times in sorted(_start_times.items())
        ]
        terminalreporter.write_line("service starts: " + ", ".join(parts))


def _record_starts(*services: MosquittoBroker | InfluxDB1) -> None:
    for service in services:
        if service.last_start_seconds is not None:
            _start_times.setdefault(service.name, []).append(service.last_start_seconds)


@pytest.fixture
def mqtt_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A private Mosquitto broker on a free loopback port (anonymous, no persistence)."""
    broker = MosquittoBroker(tmp_path / "mosquitto")
    broker.start()
    _record_starts(broker)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def mqtt_broker_factory(tmp_path: Path) -> Iterator[BrokerFactory]:
    """Makes private brokers with options: factory(persistence=True), factory(tls=make_test_certificates(dir))."""
    factory = BrokerFactory(tmp_path / "brokers")
    try:
        yield factory
    finally:
        _record_starts(*factory.brokers)
        factory.stop_all()


@pytest.fixture(scope="session")
def session_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """One broker for tests that neither stop it nor depend on a clean broker."""
    broker = MosquittoBroker(tmp_path_factory.mktemp("session-mosquitto"))
    broker.start()
    _record_starts(broker)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB1]:
    """One InfluxDB 1.x server for the session. Use `influxdb_database` for a database of your own."""
    server = InfluxDB1(tmp_path_factory.mktemp("influxdb"))
    server.start()
    _record_starts(server)
    try:
        yield server
    finally:
        server.stop()


_db_counter = itertools.count(1)


@pytest.fixture
def influxdb_database(influxdb: InfluxDB1, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty database in the session's InfluxDB (restarted first if an earlier test left it stopped)."""
    if not influxdb.running:
        influxdb.start()
    stem = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:40]
    name = f"t_{stem}_{next(_db_counter)}"
    influxdb.create_database(name)
    try:
        yield name
    finally:
        if influxdb.running:
            influxdb.drop_database(name)


@pytest.fixture
def influxdb_factory(tmp_path: Path) -> Iterator[InfluxDBFactory]:
    """Private InfluxDB 1.x servers, for tests that stop, kill or restart the server."""
    factory = InfluxDBFactory(tmp_path / "influx")
    try:
        yield factory
    finally:
        _record_starts(*factory.servers)
        factory.stop_all()


@pytest.fixture
def process_guard(tmp_path: Path) -> Iterator[ProcessGuard]:
    """Start subprocesses (e.g. `lvgate run`) with their output in tmp_path/processes; all stopped at teardown."""
    guard = ProcessGuard(tmp_path / "processes")
    try:
        yield guard
    finally:
        guard.stop_all()

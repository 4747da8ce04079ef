"""Real SNMP peers on loopback for the SNMP driver's tests: snmpsim serving the LibreNMS
recordings, and Debian's net-snmp agent (snmpd) with a v2c community and a v3 user."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import LOOPBACK, ManagedProcess, free_port, wait_for
from tests.shared_fixtures import fixtures_root

V3_USER = "gwuser"
V3_USER_SHA256 = "gwuser256"
V3_AUTH = "authpass123"
V3_PRIV = "privpass123"
COMMUNITY = "public"


def recordings() -> list[Path]:
    directory = fixtures_root() / "snmp"
    return sorted(directory.glob("*.snmprec")) if directory.is_dir() else []


def _snmpget_answers(port: int, community: str, oid: str = "1.3.6.1.2.1.1.2.0") -> bool:
    tool = shutil.which("snmpget")
    if tool is None:  # fall back to a raw probe through lvgate's own client
        return _lvgate_get(port, community)
    done = subprocess.run(
        [tool, "-v2c", "-c", community, "-t", "0.5", "-r", "0", "-m", "", f"{LOOPBACK}:{port}", oid],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _lvgate_get(port: int, community: str) -> bool:
    from lvgate.drivers.snmp.client import Credentials, SnmpClient, SnmpError, Target
    from lvgate.drivers.snmp.oids import parse_oid

    async def ask() -> bool:
        client = SnmpClient("probe", Target(LOOPBACK, port, timeout=0.5, retries=0), Credentials(community=community))
        try:
            await client.get([parse_oid("1.3.6.1.2.1.1.2.0")])
            return True
        except SnmpError:
            return False
        finally:
            client.close()

    return asyncio.run(ask())


@dataclass
class Snmpsim:
    port: int
    process: ManagedProcess
    data_dir: Path

    @property
    def host(self) -> str:
        return LOOPBACK


def start_snmpsim(workdir: Path, files: list[Path]) -> Snmpsim:
    """snmpsim serving ``files`` (each answers to the community named after it)."""
    program = Path(sys.executable).parent / "snmpsim-command-responder"
    if not program.exists():
        pytest.skip("snmpsim is not installed in the venv (pip install -e '.[test]')")
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    for file in files:
        shutil.copyfile(file, data / file.name)  # snmpsim does not follow symlinks
    port = free_port("udp")
    argv = [
        str(program),
        f"--data-dir={data}",
        f"--cache-dir={workdir / 'cache'}",
        f"--agent-udpv4-endpoint={LOOPBACK}:{port}",
        "--log-level=error",
    ]
    if os.geteuid() == 0:
        argv += ["--process-user=root", "--process-group=root"]
    process = ManagedProcess(argv, name="snmpsim", log_dir=workdir / "logs")
    try:
        wait_for(lambda: _snmpget_answers(port, files[0].stem), 60, interval=0.3, what="snmpsim to answer")
    except TimeoutError:
        process.terminate()
        raise RuntimeError(f"snmpsim did not start: {process.output()}") from None
    return Snmpsim(port, process, data)


@pytest.fixture(scope="session")
def snmpsim_recordings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpsim]:
    files = recordings()
    if not files:
        pytest.skip(f"no SNMP recordings under {fixtures_root() / 'snmp'} (set LVGATE_FIXTURES)")
    sim = start_snmpsim(tmp_path_factory.mktemp("snmpsim"), files)
    yield sim
    sim.process.terminate()


@dataclass
class Snmpd:
    port: int
    process: ManagedProcess


def start_snmpd(workdir: Path) -> Snmpd:
    program = shutil.which("snmpd") or ("/usr/sbin/snmpd" if Path("/usr/sbin/snmpd").exists() else None)
    if program is None:
        pytest.skip("Debian's snmpd is not installed (apt-get install snmpd)")
    port = free_port("udp")
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "snmpd.conf"
    conf.write_text(
        f"agentAddress udp:{LOOPBACK}:{port}\n"
        f"rocommunity {COMMUNITY} {LOOPBACK}\n"
        f'createUser {V3_USER} SHA "{V3_AUTH}" AES "{V3_PRIV}"\n'
        f"rouser {V3_USER} priv\n"
        f'createUser {V3_USER_SHA256} SHA-256 "{V3_AUTH}" AES "{V3_PRIV}"\n'
        f"rouser {V3_USER_SHA256} priv\n",
        encoding="utf-8",
    )
    persistent = workdir / "persist"
    persistent.mkdir(exist_ok=True)
    # -I -smux: no SMUX (TCP 199 on every address); -C: no system config; -m "": no MIB files
    argv = [program, "-f", "-Lo", "-C", "-c", str(conf), "-m", "", "-I", "-smux", f"-p{workdir / 'snmpd.pid'}"]
    process = ManagedProcess(argv, name="snmpd", log_dir=workdir / "logs", env={"SNMP_PERSISTENT_DIR": str(persistent)})
    try:
        wait_for(lambda: _snmpget_answers(port, COMMUNITY), 20, interval=0.2, what="snmpd to answer")
    except TimeoutError:
        process.terminate()
        raise RuntimeError(f"snmpd did not start: {process.output()}") from None
    return Snmpd(port, process)


@pytest.fixture(scope="module")
def snmpd_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpd]:
    agent = start_snmpd(tmp_path_factory.mktemp("snmpd"))
    yield agent
    agent.process.terminate()

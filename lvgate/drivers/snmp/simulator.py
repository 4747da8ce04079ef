"""`lvgate simulate snmp RECORDING.snmprec`: snmpsim serving recordings on loopback.

snmpsim is a test/demo dependency (``pip install lvgate[test]``), run as a child process:
each recording answers to the community named after its file (without .snmprec).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lvgate.drivers.snmp.client import Credentials, SnmpClient, SnmpError, Target
from lvgate.drivers.snmp.oids import parse_oid


def snmpsim_command() -> str | None:
    beside = Path(sys.executable).parent / "snmpsim-command-responder"
    return str(beside) if beside.exists() else shutil.which("snmpsim-command-responder")


def start_snmpsim(recordings: list[Path], host: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    """Start snmpsim on host:port serving ``recordings`` (copied into workdir/data: snmpsim
    does not follow symlinks)."""
    command = snmpsim_command()
    if command is None:
        raise FileNotFoundError("snmpsim is not installed (pip install 'lvgate[test]')")
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    for recording in recordings:
        shutil.copyfile(recording, data / recording.name)
    endpoint = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    flag = "--agent-udpv6-endpoint" if ":" in host else "--agent-udpv4-endpoint"
    argv = [command, f"--data-dir={data}", f"--cache-dir={workdir / 'cache'}", f"{flag}={endpoint}"]
    if os.geteuid() == 0:  # snmpsim refuses to run as root unless told which user to be
        argv += ["--process-user=root", "--process-group=root"]
    with (workdir / "snmpsim.log").open("wb") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)


async def wait_ready(host: str, port: int, community: str, timeout_s: float = 30.0) -> bool:
    """Ask sysObjectID until snmpsim answers (it indexes the recordings first)."""
    client = SnmpClient("snmpsim", Target(host, port, timeout=0.5, retries=0), Credentials(community=community))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        while loop.time() < deadline:
            try:
                await client.get([parse_oid("1.3.6.1.2.1.1.2.0")])
                return True
            except SnmpError:
                await asyncio.sleep(0.2)
        return False
    finally:
        client.close()


async def serve(recordings: list[Path], host: str, port: int, stop: asyncio.Event) -> int:
    with tempfile.TemporaryDirectory(prefix="lvgate-snmpsim-") as tmp:
        process = start_snmpsim(recordings, host, port, Path(tmp))
        try:
            if not await wait_ready(host, port, recordings[0].stem):
                print(f"snmpsim did not answer on {host}:{port}; see its log", file=sys.stderr)
                return 1
            for recording in recordings:
                print(f"{recording.name}: udp {host}:{port} community '{recording.stem}'", flush=True)
            await stop.wait()
            return 0
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

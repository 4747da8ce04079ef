"""CPU cost of reachability checks: can 200 targets at a 10 s interval fit a Raspberry Pi?

Polls N devices (default 200) through one driver session, as the gateway does, against
loopback targets: ICMP echo to 127.0.0.1 (answered by the kernel) and TCP/HTTP to a small
asyncio HTTP responder in a child process (its CPU is not counted; its listen backlog is
large, so the kernel does not drop connections the way `http.server`'s backlog of 5 does). Reports the gateway
process's CPU time (user + system) per check and per round of all targets, and the wall
time of a round with the session's concurrency bound.

    .venv/bin/python -m bench.reachability [--targets 200] [--rounds 5]

Writes bench/results/reachability.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lvgate.drivers.reachability.config import ReachabilityDeviceConfig
from lvgate.drivers.reachability.driver import MAX_CONCURRENT_CHECKS, ReachabilityPoller, ReachabilitySession

LOOPBACK = "127.0.0.1"
INTERVAL_S = 10.0
RESULTS = Path(__file__).parent / "results" / "reachability.json"
# The target: answers every request with 200 "ok" and closes.
_RESPONDER = """
import asyncio, sys
async def answer(reader, writer):
    try:
        await reader.readuntil(b"\\r\\n\\r\\n")
        writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Length: 3\\r\\nConnection: close\\r\\n\\r\\nok\\n")
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()
async def main():
    server = await asyncio.start_server(answer, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    await server.serve_forever()
asyncio.run(main())
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the responder did not listen on {port} within {timeout:g} s")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("model name", "Model")):
                    return f"{platform.machine()}: {line.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return platform.machine()


def _config(index: int, checks: list[dict[str, Any]]) -> ReachabilityDeviceConfig:
    return ReachabilityDeviceConfig.model_validate(
        {"id": f"t{index}", "driver": "reachability", "host": LOOPBACK, "checks": checks, "timeout": 5}
    )


async def _measure(name: str, checks: list[dict[str, Any]], targets: int, rounds: int) -> dict[str, Any]:
    session = ReachabilitySession()
    pollers = [ReachabilityPoller(_config(i, checks), session) for i in range(targets)]
    try:
        await asyncio.gather(*(p.poll() for p in pollers))  # warm-up: sockets, clients, imports
        cpu0, wall0 = time.process_time(), time.perf_counter()
        failed = 0
        for _ in range(rounds):
            results = await asyncio.gather(*(p.poll() for p in pollers))
            failed += sum(1 for readings in results for r in readings if r.key == "checks_failed" and r.value)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        await session.close()
    per_round = cpu / rounds
    return {
        "name": name,
        "targets": targets,
        "rounds": rounds,
        "failed_polls": failed,
        "cpu_ms_per_check": round(per_round / targets * 1000, 3),
        "cpu_ms_per_round": round(per_round * 1000, 1),
        "wall_ms_per_round": round(wall / rounds * 1000, 1),
        "cpu_share_at_10s": round(per_round / INTERVAL_S * 100, 2),
    }


async def _run(targets: int, rounds: int, port: int) -> list[dict[str, Any]]:
    kinds = {
        "icmp x3": [{"kind": "icmp", "count": 3, "interval": 0.0}],
        "tcp": [{"kind": "tcp", "port": port}],
        "http": [{"kind": "http", "port": port, "path": "/"}],
        "icmp x3 + tcp + http": [
            {"kind": "icmp", "count": 3, "interval": 0.0},
            {"kind": "tcp", "port": port},
            {"kind": "http", "port": port, "path": "/"},
        ],
    }
    return [await _measure(name, checks, targets, rounds) for name, checks in kinds.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    port = _free_port()
    logging.getLogger("lvgate").setLevel(logging.ERROR)  # no down/up lines in the table
    server = subprocess.Popen([sys.executable, "-c", _RESPONDER, str(port)], stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port)
        rows = asyncio.run(_run(args.targets, args.rounds, port))
    finally:
        server.terminate()
        server.wait(timeout=10)
    result = {
        "machine": _cpu_model(),
        "python": platform.python_version(),
        "max_concurrent_checks": MAX_CONCURRENT_CHECKS,
        "interval_s": INTERVAL_S,
        "rows": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{args.targets} targets, {args.rounds} rounds, at most {MAX_CONCURRENT_CHECKS} checks at once")
    print(
        f"{'checks':<22}{'CPU ms/check':>14}{'CPU ms/round':>14}{'wall ms/round':>15}{'CPU % at 10 s':>15}{'failed':>8}"
    )
    for row in rows:
        print(
            f"{row['name']:<22}{row['cpu_ms_per_check']:>14}{row['cpu_ms_per_round']:>14}"
            f"{row['wall_ms_per_round']:>15}{row['cpu_share_at_10s']:>15}{row['failed_polls']:>8}"
        )
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

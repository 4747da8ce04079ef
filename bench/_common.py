"""What every benchmark shares: machine facts, process sampling from /proc, statistics, results.

Figures come from the kernel's accounting of the measured process (``/proc/<pid>/stat``
utime + stime, ``statm`` resident pages, ``fd/`` and ``task/`` counts), never from the
benchmark's own clock, so a busy simulator in another process does not count.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


# --------------------------------------------------------------------------- machine and versions


def machine_info() -> dict[str, Any]:
    model = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith(("model name", "Model")):
                model = f"{platform.machine()}: {line.split(':', 1)[1].strip()}"
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_mib": mem_kib // 1024,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def program_version(argv: Sequence[str]) -> str | None:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else None


def versions(extra: dict[str, str | None] | None = None) -> dict[str, str | None]:
    found: dict[str, str | None] = {
        "lvgate": package_version("lvgate"),
        "pymodbus": package_version("pymodbus"),
        "paho-mqtt": package_version("paho-mqtt"),
        "mosquitto": program_version(["mosquitto", "-h"]),
    }
    found.update(extra or {})
    return found


# --------------------------------------------------------------------------- /proc sampling


@dataclass(frozen=True)
class ProcSample:
    at: float  # time.monotonic()
    cpu_s: float  # utime + stime
    rss_bytes: int
    fds: int
    threads: int


def sample(pid: int) -> ProcSample:
    """One look at a process; FileNotFoundError if it is gone."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[11], fields[12]: utime, stime (fields 14 and 15 of proc(5), counted from 1 with pid and comm)
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    threads = int(fields[17])
    rss = int(Path(f"/proc/{pid}/statm").read_text(encoding="utf-8").split()[1]) * PAGE_SIZE
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        fds = -1
    return ProcSample(time.monotonic(), cpu, rss, fds, threads)


def cpu_share(first: ProcSample, last: ProcSample) -> float:
    """Share of one core used between two samples, in percent."""
    wall = last.at - first.at
    return 100.0 * (last.cpu_s - first.cpu_s) / wall if wall > 0 else 0.0


# --------------------------------------------------------------------------- statistics


def spread(values: Iterable[float], digits: int = 2) -> dict[str, float | int | None]:
    """Median with min and max (and how many runs), the form every table shows."""
    data = sorted(v for v in values if v == v)  # NaN (nothing measured) is left out
    if not data:
        return {"median": None, "min": None, "max": None, "runs": 0}
    return {
        "median": round(statistics.median(data), digits),
        "min": round(data[0], digits),
        "max": round(data[-1], digits),
        "runs": len(data),
    }


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(share / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# --------------------------------------------------------------------------- results


def write_result(name: str, body: dict[str, Any]) -> Path:
    """bench/results/<name>.json with the machine, the time and the command line added."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    full = {
        "benchmark": name,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join([Path(sys.executable).name, "-m", f"bench.{name}", *sys.argv[1:]]),
        "machine": machine_info(),
        **body,
    }
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(full, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def target(name: str, figure: float | None, limit: float, *, below: bool = True, unit: str = "") -> dict[str, Any]:
    """A target checked honestly: no figure means not measured, which is not 'met'."""
    if figure is None or figure != figure:  # None or NaN
        met: bool | None = None
    else:
        met = figure < limit if below else figure >= limit
    return {"target": name, "figure": figure, "limit": limit, "below": below, "unit": unit, "met": met}

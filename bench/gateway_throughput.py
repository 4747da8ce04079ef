"""Gateway throughput and footprint: N simulated Modbus TCP devices x 20 registers at 1 s.

For each N (default 10, 100, 500) ``lvgate run`` is started several times as a subprocess
against the same device farm (``bench._farm``, 10 unit ids per TCP port, a process of its
own) and a private Mosquitto, with ``publish: {heartbeat: 0}`` so every poll is published.
Per run: start-up time to the first telemetry at a subscriber, then after a warm-up a window
in which readings/s at the subscriber, CPU time per 1,000 readings (utime+stime of the
gateway from /proc), RSS, Modbus requests per device per cycle and the latency from the
simulator's clock (in registers 18-19) to arrival at the subscriber are measured. The idle
floor is the CPU share with one device. Figures are medians of the runs with min and max.

    .venv/bin/python -m bench.gateway_throughput [--devices 10,100,500] [--repeats 3] [--window 10]

SNMP through snmpsim recordings is measured by ``bench/gateway_snmp.py``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import package_version, percentile, spread, target, versions, write_result
from bench._rig import (
    Broker,
    Farm,
    Subscriber,
    bench_data_dir,
    lvgate_config,
    lvgate_executable,
    lvgate_parser,
    measure_window,
    start_lvgate,
    wait_first,
)

MIB = 1024 * 1024


def one_run(
    work: Path, broker: Broker, farm: Farm, sub: Subscriber, data_dir: Path, devices: int, args: argparse.Namespace
) -> dict[str, Any]:
    run_dir = Path(tempfile.mkdtemp(dir=work, prefix=f"lvgate-{devices}-"))
    config = lvgate_config(run_dir / "gateway.yaml", broker.port, farm, devices, run_dir / "state")
    sub.tally.first_at = None
    proc = start_lvgate(config, data_dir, run_dir / "lvgate.log")
    try:
        startup = wait_first(sub, proc, 30)
        if startup is None:
            raise RuntimeError(f"lvgate published nothing within 30 s:\n{proc.tail()}")
        time.sleep(args.warmup)
        window = measure_window([proc.pid], sub, farm, args.window)
    finally:
        proc.stop()
    latencies = window.latencies_ms
    return {
        "startup_s": startup,
        "readings_per_s": window.readings_per_s,
        "cpu_ms_per_1000": window.cpu_ms_per_1000,
        "cpu_share_pct": window.cpu_share,
        "rss_mib": window.rss_bytes / MIB,
        "requests_per_device_cycle": window.requests / devices / window.seconds,
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p99_ms": percentile(latencies, 99),
        "latency_samples": len(latencies),
    }


def idle_floor(work: Path, broker: Broker, data_dir: Path, sub: Subscriber, args: argparse.Namespace) -> list[float]:
    (work / "farm-idle").mkdir()
    farm = Farm(work / "farm-idle", 1)
    shares = []
    try:
        for _ in range(args.repeats):
            run_dir = Path(tempfile.mkdtemp(dir=work, prefix="lvgate-idle-"))
            config = lvgate_config(run_dir / "gateway.yaml", broker.port, farm, 1, run_dir / "state")
            sub.tally.first_at = None
            proc = start_lvgate(config, data_dir, run_dir / "lvgate.log")
            try:
                wait_first(sub, proc, 30)
                time.sleep(args.warmup)
                shares.append(measure_window([proc.pid], sub, farm, args.window).cpu_share)
            finally:
                proc.stop()
    finally:
        farm.stop()
    return shares


def info_check(sub: Subscriber) -> dict[str, Any]:
    """``lvgate --version`` and the retained bridge/info of the last run."""
    done = subprocess.run([lvgate_executable(), "--version"], capture_output=True, text=True, timeout=30, check=False)
    info_raw = sub.retained.get("lvgate/gw/bridge/info")
    info = json.loads(info_raw) if info_raw else {}
    return {
        "lvgate_version_output": (done.stdout or done.stderr).strip(),
        "info_topic_version": info.get("version"),
        "info_topic_config_digest": info.get("config_digest"),
        "ok": done.returncode == 0 and bool(info.get("version")) and bool(info.get("config_digest")),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--devices", default="10,100,500", help="comma-separated device counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds after the first telemetry")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.devices.split(",") if n]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="lvgate-bench-") as tmp:
        work = Path(tmp)
        data_dir = bench_data_dir(work)
        broker = Broker(work / "broker")
        broker.start()
        sub = Subscriber(broker.port, ["lvgate/+/+/telemetry", "lvgate/gw/bridge/info"], lvgate_parser)
        try:
            for devices in counts:
                farm_dir = work / f"farm-{devices}"
                farm_dir.mkdir()
                farm = Farm(farm_dir, devices)
                try:
                    runs = [one_run(work, broker, farm, sub, data_dir, devices, args) for _ in range(args.repeats)]
                finally:
                    farm.stop()
                row: dict[str, Any] = {"devices": devices, "points": devices * 20, "interval_s": 1.0}
                for key in runs[0]:
                    row[key] = spread((r[key] for r in runs), 3 if key == "requests_per_device_cycle" else 2)
                rows.append(row)
                print(f"{devices} devices: {json.dumps(row)}", flush=True)
            floor = idle_floor(work, broker, data_dir, sub, args)
            info = info_check(sub)
        finally:
            sub.close()
            broker.stop()
    at_100 = next((r for r in rows if r["devices"] == 100), None)

    def fig(key: str) -> float | None:
        return None if at_100 is None else float(at_100[key]["median"])

    body = {
        "title": "Gateway throughput and footprint (Modbus TCP, 20 registers per device, 1 s)",
        "parameters": {
            "devices": counts,
            "repeats": args.repeats,
            "window_s": args.window,
            "warmup_s": args.warmup,
            "units_per_port": 10,
            "publish": "heartbeat 0 (every poll published)",
        },
        "versions": versions({"pysnmp": package_version("pysnmp")}),
        "rows": rows,
        "idle_floor_cpu_pct": spread(floor, 3),
        "version_and_info": info,
        "snmp": "measured separately: bench/gateway_snmp.py (snmpsim recordings), its own section",
        "targets": [
            target("gateway RSS with 100 devices", fig("rss_mib"), 60, unit="MiB"),
            target("CPU, 100 devices x 20 points at 1 s", fig("cpu_share_pct"), 5, unit="% of one core"),
            target("event latency p99 (simulator -> subscriber), 100 devices", fig("latency_p99_ms"), 50, unit="ms"),
        ],
    }
    path = write_result("gateway_throughput", body)
    print(f"written to {path}")
    return body


if __name__ == "__main__":
    main()

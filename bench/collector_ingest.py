"""Collector ingest throughput: MQTT -> collector -> InfluxDB 1.x, one and two collector processes.

    .venv/bin/python -m bench.collector_ingest [--messages 4000] [--readings 25] [--validation schema|basic]

A publisher process sends telemetry (QoS 1) for 100 UPSes to a private Mosquitto; the
collectors (``lvgate collector`` processes on one shared subscription) store it in a private
InfluxDB. Throughput = points stored / time from the first publish until InfluxDB holds every
point (counted by InfluxDB itself). Memory = the highest resident size of each collector
process, sampled from /proc. Results go to bench/results/collector_ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.services import InfluxDB1, MosquittoBroker

RESULTS = Path(__file__).parent / "results" / "collector_ingest.json"
UPS_FLOATS = [
    "input_voltage", "input_frequency", "bypass_voltage", "output_voltage", "output_current", "output_frequency",
    "output_power", "output_apparent_power", "load", "battery_charge", "battery_runtime", "battery_voltage",
    "battery_temperature", "temperature", "input_current", "input_power", "bypass_current", "bypass_frequency",
    "bypass_power", "battery_current", "time_on_battery", "humidity",
]  # fmt: skip
T0 = 1_790_000_000_000

PUBLISHER = r"""
import json, sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
port, count, keys = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-pub", protocol=mqtt.MQTTv5)
client.max_inflight_messages_set(1000)
client.max_queued_messages_set(0)
client.connect("127.0.0.1", port)
client.loop_start()
infos = []
for i in range(count):
    ts = int(sys.argv[4]) + i * 10
    sec, ms = divmod(ts, 1000)
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%03dZ" % ms
    device = "ups-%d" % (i % 100)
    body = {"schema_version": 1, "ts": iso, "site": "bench", "room": "B1", "gateway": "gw-1", "device": device,
            "device_class": "ups", "readings": {k: {"v": 100.0 + (i % 50) + j / 10, "q": "good"} for j, k in enumerate(keys)}}
    infos.append(client.publish("lvgate/gw-1/%s/telemetry" % device, json.dumps(body, separators=(",", ":")), qos=1))
for info in infos:
    info.wait_for_publish(120)
client.disconnect()
client.loop_stop()
"""


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def run(collectors: int, messages: int, readings: int, validation: str, batch_size: int, work: Path) -> dict[str, Any]:
    # Mosquitto queues at most 1000 messages per client by default and drops the rest while a
    # subscriber lags: a collector's broker must lift that bound (see lvgate/collector/README.md).
    broker = MosquittoBroker(work / f"mqtt-{validation}-{collectors}", extra_config=["max_queued_messages 0"])
    influx = InfluxDB1(work / f"influx-{validation}-{collectors}")
    broker.start()
    influx.start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        influx.create_database("bench")
        for n in range(collectors):
            config = work / f"collector-{collectors}-{n}.yaml"
            config.write_text(
                f"collector_id: bench-{collectors}-{n}\n"
                f"mqtt: {{host: 127.0.0.1, port: {broker.port}, shared_group: bench}}\n"
                f"state_dir: state-{validation}-{collectors}-{n}\ndatabase: central-{validation}-{collectors}.sqlite\n"
                f"storage: {{influxdb: {{url: '{influx.url}', api: v1, database: bench}}}}\n"
                f"api: {{enabled: false}}\nvalidation: {validation}\nbatch_size: {batch_size}\nflush_interval: 0.2\n",
                encoding="utf-8",
            )
            log = open(work / f"collector-{collectors}-{n}.log", "wb")  # noqa: SIM115 - closed with the process
            procs.append(subprocess.Popen([sys.executable, "-m", "lvgate.cli", "collector", "-c", str(config)],
                                          stdout=log, stderr=subprocess.STDOUT, cwd=work))  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(
            "collector subscribed" in (work / f"collector-{collectors}-{n}.log").read_text(errors="replace")
            for n in range(collectors)
        ):
            time.sleep(0.1)
        time.sleep(0.5)
        total = messages * readings
        cpu_before = [cpu_seconds(p.pid) for p in procs]
        keys = ",".join(UPS_FLOATS[:readings])
        start = time.monotonic()
        publisher = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(broker.port), str(messages), keys, str(T0)])
        peak = [0] * collectors
        stored = 0
        deadline = start + 300
        while time.monotonic() < deadline:
            for i, proc in enumerate(procs):
                peak[i] = max(peak[i], rss_bytes(proc.pid))
            rows = influx.rows("bench", "SELECT COUNT(value) FROM ups")
            stored = int(rows[0]["count"]) if rows else 0
            if stored >= total or publisher.poll() not in (None, 0):
                break
            time.sleep(0.25)
        elapsed = time.monotonic() - start
        # CPU the collectors spent on this run: a figure that other load on the machine does not move.
        cpu = [cpu_seconds(p.pid) - before for p, before in zip(procs, cpu_before, strict=True)]
        publish_rc = publisher.wait(60)
        return {
            "collectors": collectors,
            "messages": messages,
            "readings_per_message": readings,
            "points": total,
            "points_stored": stored,
            "batch_size": batch_size,
            "validation": validation,
            "seconds": round(elapsed, 2),
            "points_per_s": round(stored / elapsed),
            "messages_per_s": round(stored / readings / elapsed),
            "peak_rss_mib": [round(p / 2**20, 1) for p in peak],
            "collector_cpu_s": [round(c, 2) for c in cpu],
            "points_per_collector_cpu_s": round(stored / sum(cpu)) if sum(cpu) > 0 else None,
            "publisher_exit": publish_rc,
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        influx.stop()
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--readings", type=int, default=22, choices=range(1, len(UPS_FLOATS) + 1), metavar="N")
    parser.add_argument("--validation", choices=["schema", "basic"], nargs="+", default=["schema", "basic"])
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="lvgate-bench-") as tmp:
        for validation in args.validation:
            for collectors in (1, 2):
                result = run(collectors, args.messages, args.readings, validation, args.batch_size, Path(tmp))
                print(json.dumps(result))
                runs.append(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"benchmark": "collector_ingest", "command": " ".join(["python -m bench.collector_ingest", *sys.argv[1:]]),
             "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "arch": platform.machine()},
             "target_points_per_s_one_collector": 50_000, "runs": runs},
            indent=2,
        ) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()

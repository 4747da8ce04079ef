"""Collector ingest throughput: MQTT -> collector -> InfluxDB 1.x, one and two collector processes.

    .venv/bin/python -m bench.collector_ingest [--messages 4000] [--readings 22] [--validation schema basic]
                                               [--sink influxdb discard]

A publisher process sends telemetry (QoS 1) for 100 UPSes to a private Mosquitto; the
collectors (``lvgate collector`` processes on one shared subscription) store it in a private
InfluxDB (sink ``influxdb``), or in a stand-in that accepts every write at once and counts the
lines (sink ``discard``: what the collector itself can do). Throughput = points stored / time
from the first publish until the sink holds every point (counted by the sink itself). Memory =
the highest resident size of each collector process, sampled from /proc. CPU seconds of every
process in the run (collectors, publisher, Mosquitto, sink) show who spent the machine's two
cores. ``influxdb_alone``: the same points as prebuilt line protocol written straight to
InfluxDB, its ceiling here. Results go to bench/results/collector_ingest.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench._common import spread
from tests.services import InfluxDB1, MosquittoBroker

RESULTS = Path(__file__).parent / "results" / "collector_ingest.json"
UPS_FLOATS = [
    "input_voltage", "input_frequency", "bypass_voltage", "output_voltage", "output_current", "output_frequency",
    "output_power", "output_apparent_power", "load", "battery_charge", "battery_runtime", "battery_voltage",
    "battery_temperature", "temperature", "input_current", "input_power", "bypass_current", "bypass_frequency",
    "bypass_power", "battery_current", "time_on_battery", "humidity",
]  # fmt: skip
T0 = 1_790_000_000_000

# The load: what 100 gateways would send, from one lean process. The PUBLISH packets (MQTT
# 3.1.1, QoS 1) are encoded before the clock starts and written straight to the socket with up
# to 1000 unacknowledged, so the publisher costs a fraction of the collector's CPU; a paho
# client spent about 2 CPU-seconds on 6000 messages, as much as InfluxDB, on the same 2 cores.
PUBLISHER = r"""
import json, os, socket, sys, threading, time
port, count, keys, t0 = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(","), int(sys.argv[4])

def varint(n):
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (128 if n else 0))
        if not n:
            return bytes(out)

def string(text):
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw

packets = []
for i in range(count):
    ts = t0 + i * 10
    sec, ms = divmod(ts, 1000)
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%03dZ" % ms
    device = "ups-%d" % (i % 100)
    body = {"schema_version": 1, "ts": iso, "site": "bench", "room": "B1", "gateway": "gw-1", "device": device,
            "device_class": "ups", "readings": {k: {"v": 100.0 + (i % 50) + j / 10, "q": "good"} for j, k in enumerate(keys)}}
    rest = string("lvgate/gw-1/%s/telemetry" % device) + (i % 65535 + 1).to_bytes(2, "big") + json.dumps(body, separators=(",", ":")).encode()
    packets.append(b"\x32" + varint(len(rest)) + rest)
sock = socket.create_connection(("127.0.0.1", port))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
connect = b"\x00\x04MQTT\x04\x02\x00\x3c" + string("bench-pub")
sock.sendall(b"\x10" + varint(len(connect)) + connect)
assert sock.recv(4) == b"\x20\x02\x00\x00", "CONNACK"
window = threading.Semaphore(1000)
acked = threading.Event()

def read_acks():
    buffer, seen = b"", 0
    while seen < count:
        data = sock.recv(65536)
        if not data:
            break
        buffer += data
        while len(buffer) >= 4 and buffer[0] == 0x40:  # PUBACK: 0x40 0x02 and the packet id
            buffer, seen = buffer[4:], seen + 1
            window.release()
    acked.set()

print("ready", flush=True)
sys.stdin.readline()  # the clock starts
threading.Thread(target=read_acks, daemon=True).start()
for packet in packets:
    window.acquire()
    sock.sendall(packet)
if not acked.wait(120):
    sys.exit("not every message was acknowledged")
sock.sendall(b"\xe0\x00")
sock.close()
t = os.times()
print(t.user + t.system)
"""


# A storage that accepts at once: answers 204 to every write and counts the lines, so a run
# measures what one collector can do when InfluxDB is not the limit (GET /count says how many).
DISCARD = r"""
import asyncio, sys
count = 0

async def serve(reader, writer):
    global count
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            if head.startswith(b"POST"):
                count += body.count(b"\n") + 1 if body else 0
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            else:
                text = str(count).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(text), text))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


def influx_ceiling(messages: int, readings: int, batch: int, work: Path) -> dict[str, Any]:
    """InfluxDB alone: the bench's points as prebuilt line protocol, written to /write one batch
    after the other on one keep-alive connection (the most one writer can get from it here)."""
    influx = InfluxDB1(work / "influx-ceiling")
    influx.start()
    try:
        influx.create_database("bench")
        lines = [
            f"ups,device=ups-{i % 100},device_class=ups,entity={key},gateway=gw-1,room=B1,site=bench "
            f"value={100.0 + (i % 50) + j / 10!r} {T0 + i * 10}"
            for i in range(messages)
            for j, key in enumerate(UPS_FLOATS[:readings])
        ]
        bodies = ["\n".join(lines[at : at + batch]).encode() for at in range(0, len(lines), batch)]
        connection = http.client.HTTPConnection("127.0.0.1", influx.http_port, timeout=60)
        before = cpu_seconds(influx.pid)
        start = time.monotonic()
        for body in bodies:
            connection.request("POST", "/write?db=bench&precision=ms", body, {"Content-Type": "text/plain"})
            response = connection.getresponse()
            response.read()
            if response.status != 204:
                raise RuntimeError(f"InfluxDB answered {response.status}")
        elapsed = time.monotonic() - start
        cpu = cpu_seconds(influx.pid) - before
        connection.close()
        return {"points": len(lines), "batch_size": batch, "seconds": round(elapsed, 2),
                "points_per_s": round(len(lines) / elapsed), "influxd_cpu_s": round(cpu, 2)}  # fmt: skip
    finally:
        influx.stop()


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


def run(
    collectors: int, messages: int, readings: int, validation: str, batch_size: int, sink: str, work: Path
) -> dict[str, Any]:
    # Mosquitto queues at most 1000 messages per client by default and drops the rest while a
    # subscriber lags, and sends a subscriber at most 20 unacknowledged QoS 1 messages: a
    # collector's broker lifts both bounds (see lvgate/collector/README.md).
    name = f"{validation}-{sink}-{collectors}"
    broker = MosquittoBroker(
        work / f"mqtt-{name}", extra_config=["max_queued_messages 0", "max_inflight_messages 1000"]
    )
    influx = InfluxDB1(work / f"influx-{name}")
    discard: subprocess.Popen[bytes] | None = None
    broker.start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if sink == "influxdb":
            influx.start()
            influx.create_database("bench")
            url = influx.url
        else:
            discard = subprocess.Popen([sys.executable, "-c", DISCARD], stdout=subprocess.PIPE)
            assert discard.stdout is not None
            url = f"http://127.0.0.1:{int(discard.stdout.readline())}"
            sink_pid = discard.pid
        for n in range(collectors):
            config = work / f"collector-{collectors}-{n}.yaml"
            config.write_text(
                f"collector_id: bench-{collectors}-{n}\n"
                f"mqtt: {{host: 127.0.0.1, port: {broker.port}, shared_group: bench}}\n"
                f"state_dir: state-{name}-{n}\ndatabase: central-{name}.sqlite\n"
                f"storage: {{influxdb: {{url: '{url}', api: v1, database: bench}}}}\n"
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
        if sink == "influxdb":
            sink_pid = influx.pid
        peers_before = [cpu_seconds(broker.pid), cpu_seconds(sink_pid)]
        keys = ",".join(UPS_FLOATS[:readings])
        publisher = subprocess.Popen(
            [sys.executable, "-c", PUBLISHER, str(broker.port), str(messages), keys, str(T0)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        assert publisher.stdin is not None and publisher.stdout is not None
        if publisher.stdout.readline().strip() != b"ready":
            raise RuntimeError("the publisher did not start")
        start = time.monotonic()
        publisher.stdin.write(b"go\n")
        publisher.stdin.flush()
        peak = [0] * collectors
        stored = 0
        deadline = start + 300
        while time.monotonic() < deadline:
            for i, proc in enumerate(procs):
                peak[i] = max(peak[i], rss_bytes(proc.pid))
            if sink == "influxdb":
                rows = influx.rows("bench", "SELECT COUNT(value) FROM ups")
                stored = int(rows[0]["count"]) if rows else 0
            else:
                stored = int(httpx.get(f"{url}/count", timeout=10).text)
            if stored >= total or publisher.poll() not in (None, 0):
                break
            time.sleep(0.25 if sink == "influxdb" else 0.05)
        elapsed = time.monotonic() - start
        # CPU the collectors spent on this run: a figure that other load on the machine does not move.
        cpu = [cpu_seconds(p.pid) - before for p, before in zip(procs, cpu_before, strict=True)]
        broker_cpu, sink_cpu = (
            cpu_seconds(pid) - b for pid, b in zip((broker.pid, sink_pid), peers_before, strict=True)
        )
        out, _ = publisher.communicate(timeout=60)  # its last line: its own CPU seconds
        publish_rc = publisher.returncode
        try:
            publisher_cpu: float | None = round(float(out.decode().split()[-1]), 2)
        except (ValueError, IndexError):
            publisher_cpu = None
        return {
            "sink": sink,
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
            # The other processes on the same 2 cores: who else spent the machine's time.
            "publisher_cpu_s": publisher_cpu,
            "mosquitto_cpu_s": round(broker_cpu, 2),
            "sink_cpu_s": round(sink_cpu, 2),
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
        if discard is not None:
            discard.terminate()
            discard.wait(10)
        influx.stop()
        broker.stop()


_VARYING = ("seconds", "points_per_s", "messages_per_s", "points_per_collector_cpu_s", "publisher_cpu_s",
            "mosquitto_cpu_s", "sink_cpu_s")  # fmt: skip


def summarise_repeats(repeats: list[dict[str, Any]]) -> dict[str, Any]:
    """One row per configuration: measured figures as median (min, max) over the runs."""
    row = dict(repeats[0])
    for key in _VARYING:
        row[key] = spread([float(r[key]) for r in repeats])
    row["collector_cpu_s"] = spread([float(sum(r["collector_cpu_s"])) for r in repeats])
    row["peak_rss_mib"] = spread([float(max(r["peak_rss_mib"])) for r in repeats])
    row["points_stored"] = min(int(r["points_stored"]) for r in repeats)
    row["publisher_exit"] = max(int(r["publisher_exit"]) for r in repeats)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--readings", type=int, default=22, choices=range(1, len(UPS_FLOATS) + 1), metavar="N")
    parser.add_argument("--validation", choices=["schema", "basic"], nargs="+", default=["schema", "basic"])
    parser.add_argument("--sink", choices=["influxdb", "discard"], nargs="+", default=["influxdb", "discard"])
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each configuration (median, min, max)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="lvgate-bench-") as tmp:
        ceiling = influx_ceiling(args.messages, args.readings, args.batch_size, Path(tmp))
        print(json.dumps({"influxdb_alone": ceiling}))
        for validation in args.validation:
            for sink in args.sink:
                for collectors in (1, 2):
                    repeats = []
                    for i in range(args.repeats):
                        # Each run from scratch: its own broker, InfluxDB, inbox and database.
                        work = Path(tmp) / f"{validation}-{sink}-{collectors}-run{i}"
                        work.mkdir()
                        result = run(collectors, args.messages, args.readings, validation, args.batch_size, sink,
                                     work)  # fmt: skip
                        print(json.dumps(result))
                        repeats.append(result)
                    rows.append(summarise_repeats(repeats))
    target = 50_000
    # The figure the issue asks for: one collector, full schema validation, into InfluxDB (median).
    headline = next((r for r in rows if (r["collectors"], r["sink"], r["validation"]) == (1, "influxdb", "schema")),
                    None)  # fmt: skip
    best = headline["points_per_s"]["median"] if headline else None
    runs = rows
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"benchmark": "collector_ingest", "command": " ".join(["python -m bench.collector_ingest", *sys.argv[1:]]),
             "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "arch": platform.machine()},
             "targets": [{"target": "points/s into InfluxDB, one collector (issue 6)", "figure": best,
                          "limit": target, "below": False, "unit": "points/s",
                          "met": None if best is None else best >= target}],
             "influxdb_alone": ceiling,
             "rows": runs},
            indent=2,
        ) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()

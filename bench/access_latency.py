"""Latency of access events: bytes written on the serial line -> event received from Mosquitto.

The target (issue 8) is 200 ms. A socat pty pair stands in for the converter's cable; the
gateway runs in this process with one access device (profile lvgate_ascii); a paho client
subscribed to the device's events topic stamps each arrival. Card reads and door changes
alternate, one at a time, each waited for before the next.

    .venv/bin/python -m bench.access_latency [--events 200]

Needs mosquitto and socat. Writes bench/results/access_latency.json and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from lvgate.gateway.config import load_gateway_config
from lvgate.gateway.runtime import Gateway
from tests.serial_peers import PtyPair
from tests.services import MosquittoBroker, MqttProbe, wait_for_async

RESULTS = Path(__file__).parent / "results" / "access_latency.json"


def _frames(i: int) -> tuple[bytes, str]:
    if i % 2 == 0:
        bits = f"{i % 256:08b}{i % 65536:016b}"
        even = "1" if bits[:12].count("1") % 2 else "0"
        odd = "0" if bits[12:].count("1") % 2 else "1"
        return f"W:{even}{bits}{odd}\r\n".encode(), "card_read"
    return (b"GRANT\r\nDOOR:1\r\n" if i % 4 == 1 else b"DOOR:0\r\n"), ("door_opened" if i % 4 == 1 else "door_closed")


async def measure(workdir: Path, count: int) -> list[float]:
    broker = MosquittoBroker(workdir / "mosquitto")
    broker.start()
    pty = PtyPair(workdir / "pty").start()
    os.environ["LVGATE_BENCH_KEY"] = "bench-key-0123456789abcdef"
    config_file = workdir / "gateway.yaml"
    config_file.write_text(
        f"""site: s
room: r
gateway_id: gw
mqtt: {{host: 127.0.0.1, port: {broker.port}}}
state_dir: state
devices:
  - {{id: door-1, driver: access, profile: lvgate_ascii, port: "{pty.gateway}", card_hash_key: "${{LVGATE_BENCH_KEY}}"}}
""",
        encoding="utf-8",
    )
    probe = MqttProbe(broker.port).connect()
    probe.subscribe("lvgate/gw/door-1/events")
    stop = asyncio.Event()
    gateway = Gateway(load_gateway_config(config_file))
    task = asyncio.create_task(gateway.run(stop))
    latencies: list[float] = []
    fd = os.open(pty.device, os.O_WRONLY | os.O_NOCTTY)
    try:
        await asyncio.sleep(1.0)
        os.write(fd, b"DOOR:0\r\nLOCK:1\r\n")  # initial state, no events
        for i in range(count):
            data, kind = _frames(i)
            seen = len(probe.received("lvgate/gw/door-1/events"))
            sent = time.time()
            os.write(fd, data)

            def arrived(seen: int = seen, kind: str = kind) -> Any:
                new = probe.received("lvgate/gw/door-1/events")[seen:]
                return next((m for m in new if json.loads(m.payload)["event"] == kind), None)

            message = await wait_for_async(arrived, 10, interval=0.001, what=kind)
            latencies.append((message.received_at - sent) * 1000)
    finally:
        os.close(fd)
        stop.set()
        await task
        probe.close()
        pty.stop()
        broker.stop()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        latencies = asyncio.run(measure(Path(tmp), args.events))
    ordered = sorted(latencies)
    result = {
        "events": len(latencies),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 2),
        "max_ms": round(ordered[-1], 2),
        "target_ms": 200,
        "machine": platform.platform(),
        "python": platform.python_version(),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

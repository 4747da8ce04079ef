"""Soak: the demo room plus 100 simulated devices through the whole chain, with outages.

Simulated devices -> ``lvgate run`` -> Mosquitto (persistent) -> ``lvgate collector`` ->
InfluxDB 1.x. The demo room (a UPS and a room sensor served by ``lvgate simulate modbus``)
and 100 farm devices (20 registers, 1 s, every poll published) share one gateway. A third of
the way in Mosquitto is restarted; at two thirds InfluxDB is restarted. Measured: RSS, open
file descriptors and OS threads of the gateway and the collector every 15 s, and readings
lost: every request the farm answered is one poll of 20 readings, so the
readings InfluxDB holds for the farm devices must equal 20 x the requests the farm counted.

The default is short so ``make bench`` stays under 15 minutes; ``--minutes 10`` is the full
soak (``make soak``, or ``python -m bench soak --soak-minutes 10``), written to its own
``bench/results/soak_full.json`` so the short run does not replace it. The JSON says which
length ran.

    .venv/bin/python -m bench.soak [--minutes 2.5] [--devices 100]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import LOOPBACK, free_port, sample, target, versions, wait_port, write_result
from bench._rig import BENCH_PROFILE, Broker, Farm, Proc, bench_data_dir, lvgate_executable

MIB = 1024 * 1024
DATABASE = "lvgate"


FULL_MINUTES = 10.0
SAMPLE_S = 15.0  # footprints sampled this often: a leak climbs steadily, a high-water mark levels off
FIGURES = ("rss_mib", "fds", "threads")


def high_water_growth(points: list[dict[str, float]]) -> dict[str, float]:
    """How far each figure's highest sample in the second half exceeds the first half's.

    Start-to-end compares two single samples, and the collector's memory is a saw (it climbs
    between collections of its older garbage, about a minute apart, by some 20 MiB): which
    tooth each sample lands on decided the figure. A leak raises every later peak; a pool
    that grows once (a thread for the first reconnect) does so in the first half, which holds
    the warm-up and the broker restart."""
    half = len(points) // 2
    first, second = points[:half], points[half:]
    if not first or not second:
        return {k: 0.0 for k in FIGURES}
    return {k: round(max(p[k] for p in second) - max(p[k] for p in first), 1) for k in FIGURES}


def result_name(minutes: float) -> str:
    """bench/results/<name>.json of a soak this long: ``soak_full`` for the full 10 minutes."""
    return "soak_full" if minutes >= FULL_MINUTES else "soak"


def gateway_config(path: Path, broker: int, farm: Farm, devices: int, room_port: int, state: Path) -> None:
    lines = [
        "site: soak",
        "room: B1 equipment room",
        "gateway_id: gw-soak",
        f"mqtt: {{host: {LOOPBACK}, port: {broker}}}",
        f"state_dir: {state}",
        "devices:",
        f"  - {{id: ups-1, driver: modbus, profile: huawei_ups2000, host: {LOOPBACK}, port: {room_port}, unit: 1, "
        "poll_interval: 2}",
        f"  - {{id: env-1, driver: modbus, profile: generic_xy_md02, host: {LOOPBACK}, port: {room_port}, unit: 2, "
        "poll_interval: 2}",
    ]
    for i in range(devices):
        port, unit = farm.where(i)
        lines.append(
            f"  - {{id: d{i:04d}, driver: modbus, profile: {BENCH_PROFILE}, host: {LOOPBACK}, port: {port}, "
            f"unit: {unit}, poll_interval: 1, publish: {{heartbeat: 0}}}}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def collector_config(path: Path, broker: int, influx_url: str, state: Path) -> None:
    path.write_text(
        f"""collector_id: collector-soak
mqtt: {{host: {LOOPBACK}, port: {broker}}}
state_dir: {state}
storage:
  influxdb: {{url: "{influx_url}", api: v1, database: {DATABASE}}}
api: {{enabled: false}}
""",
        encoding="utf-8",
    )


def stored(influx: Any, pattern: str) -> int:
    rows = influx.rows(DATABASE, f'SELECT count("value") FROM "ups" WHERE "device" =~ /{pattern}/')
    return int(rows[0]["count"]) if rows else 0


def footprint(pid: int) -> dict[str, Any]:
    s = sample(pid)
    return {"rss_mib": round(s.rss_bytes / MIB, 1), "fds": s.fds, "threads": s.threads, "cpu_s": round(s.cpu_s, 2)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=2.5)
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before the 'start' figures")
    args = parser.parse_args(argv)
    from tests.services import InfluxDB1  # the tests' InfluxDB 1.x helper (restart keeps its ports)

    total = args.minutes * 60
    events: list[str] = []
    with tempfile.TemporaryDirectory(prefix="lvgate-soak-") as tmp:
        work = Path(tmp)
        data_dir = bench_data_dir(work)
        env = {"LVGATE_DATA_DIR": str(data_dir)}
        broker = Broker(work / "broker", persistence=True)
        broker.start()
        influx = InfluxDB1(work / "influx")
        influx.start()
        influx.create_database(DATABASE)
        (work / "farm").mkdir()
        farm = Farm(work / "farm", args.devices)
        room_port = free_port()
        room = Proc(
            [
                lvgate_executable(),
                "simulate",
                "modbus",
                "--profile",
                "huawei_ups2000",
                "--profile",
                "generic_xy_md02",
                "--port",
                str(room_port),
            ],
            work / "room.log",
            env=env,
        )
        procs: list[Proc] = [room]
        try:
            if not wait_port(room_port):
                raise RuntimeError(f"the room simulator did not start: {room.tail()}")
            gateway_config(work / "gw.yaml", broker.port, farm, args.devices, room_port, work / "gw-state")
            collector_config(work / "collector.yaml", broker.port, influx.url, work / "col-state")
            collector = Proc(
                [lvgate_executable(), "--log-level", "warning", "collector", "-c", str(work / "collector.yaml")],
                work / "collector.log",
                env=env,
            )
            procs.append(collector)
            time.sleep(2)  # the collector's persistent subscription exists before the first reading
            gateway = Proc(
                [lvgate_executable(), "--log-level", "warning", "run", "-c", str(work / "gw.yaml")],
                work / "gateway.log",
                env=env,
            )
            procs.append(gateway)
            began = time.monotonic()
            series: dict[str, list[dict[str, float]]] = {"gateway": [], "collector": []}
            time.sleep(args.warmup)
            start = {"gateway": footprint(gateway.pid), "collector": footprint(collector.pid)}
            plan = [(total / 3, "broker"), (2 * total / 3, "influxdb")]

            def wait_until(at: float) -> None:
                """Sleep until ``at`` s after the start, taking the footprints every SAMPLE_S."""
                while (left := began + at - time.monotonic()) > 0:
                    time.sleep(min(left, SAMPLE_S))
                    for name, proc in (("gateway", gateway), ("collector", collector)):
                        series[name].append(footprint(proc.pid))

            for at, what in plan:
                wait_until(at)
                if what == "broker":
                    broker.restart()
                else:
                    influx.restart()
                events.append(f"{what} restarted at {time.monotonic() - began:.0f} s")
            wait_until(total)
            end = {"gateway": footprint(gateway.pid), "collector": footprint(collector.pid)}
            # Stop the devices first: then every request the farm answered was a complete poll.
            farm.stop()
            room.stop()
            time.sleep(2.0)
            expected = farm.requests() * 20
            gateway.stop(grace=30)
            deadline = time.monotonic() + 90
            have = stored(influx, "^d[0-9]")
            while have < expected and time.monotonic() < deadline:
                time.sleep(1.0)
                have = stored(influx, "^d[0-9]")
            room_stored = stored(influx, "^ups-1$")
            collector.stop(grace=30)
            logs = {"gateway": gateway.tail(1500), "collector": collector.tail(1500)}
        finally:
            for proc in reversed(procs):
                proc.stop()
            farm.stop()
            influx.stop()
            broker.stop()
    lost = expected - have
    growth = {name: {k: round(end[name][k] - start[name][k], 2) for k in FIGURES} for name in ("gateway", "collector")}
    high_water = {name: high_water_growth(points) for name, points in series.items()}
    rows = [
        {"process": name, "when": when, **figures}
        for name in ("gateway", "collector")
        for when, figures in (("after warm-up", start[name]), ("end", end[name]))
    ]
    rss_bound = 10.0
    body = {
        "title": f"Soak ({args.minutes:g} min, demo room + {args.devices} devices, broker and InfluxDB restarts)",
        "parameters": {
            "minutes": args.minutes,
            "devices": args.devices,
            "warmup_s": args.warmup,
            "full_soak": args.minutes >= FULL_MINUTES,
        },
        "versions": versions({"influxd": "1.x (Debian)"}),
        "rows": rows,
        "events": events,
        f"rss_mib_every_{SAMPLE_S:g}_s": {
            name: " ".join(f"{p['rss_mib']:g}" for p in points) for name, points in series.items()
        },
        f"threads_every_{SAMPLE_S:g}_s": {
            name: " ".join(f"{p['threads']:g}" for p in points) for name, points in series.items()
        },
        "growth_start_to_end": growth,
        "growth_high_water_second_half_over_first": high_water,
        "readings_expected_farm": expected,
        "readings_stored_farm": have,
        "readings_lost": lost,
        "demo_room_ups_readings_stored": room_stored,
        "note": "threads are OS threads (/proc/<pid>/task); asyncio tasks are not visible from outside the process",
        "targets": [
            target("readings lost (farm devices, counted at the simulator)", lost, 1, unit="readings"),
            *(
                target(
                    f"{name} {label} growth, high-water second half over first", high_water[name][k], bound, unit=unit
                )
                for name in ("gateway", "collector")
                for k, label, bound, unit in (
                    ("rss_mib", "RSS", rss_bound, "MiB"),
                    ("fds", "fd", 1, "fds"),
                    ("threads", "thread", 1, "threads"),
                )
            ),
        ],
    }
    if lost:
        body["logs_tail"] = logs
    # The full soak keeps its own file, so the short one `make bench` runs does not replace it.
    path = write_result(result_name(args.minutes), body)
    print(f"expected {expected}, stored {have}, lost {lost}; high-water growth {high_water}; written to {path}")
    return body


if __name__ == "__main__":
    main()
    sys.exit(0)

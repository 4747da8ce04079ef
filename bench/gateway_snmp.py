"""Gateway throughput and footprint over SNMP: N simulated agents (snmpsim recordings) polled by lvgate.

One snmpsim process on a loopback UDP port serves N copies of real recordings (alternately a
UPS and an 8-port switch from the shared fixtures), each copy under its own community
``devNNNN``, so every device is a separate agent as far as lvgate can tell. The copies live
in a temporary directory. ``lvgate run`` (a subprocess, one snmp device per community, profile
chosen by sysObjectID, ``publish: {heartbeat: 0}``) publishes to a private Mosquitto; a
subscriber counts the readings. Per run: start-up to the first telemetry, then after a
warm-up a window in which readings/s at the subscriber, CPU time per 1,000 readings and the
CPU share of one core (utime+stime of the gateway from /proc) and RSS are measured. PDUs per
device per cycle come from the driver's own counter in one poll of each recording made in
this process before the runs (the poll is the same every cycle). Medians of the runs with
min and max.

snmpsim is a Python agent on the same 2 cores: at 50 devices it competes with the gateway
for CPU, and its answer time bounds the cycle; the gateway's CPU is still its own (/proc).

    .venv/bin/python -m bench.gateway_snmp [--devices 10,50] [--repeats 3] [--interval 2] [--window 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import LOOPBACK, package_version, sample, spread, versions, write_result
from bench._rig import Broker, Subscriber, bench_data_dir, lvgate_parser, start_lvgate, wait_first
from lvgate.drivers.snmp.config import SnmpDeviceConfig
from lvgate.drivers.snmp.driver import SnmpSession
from lvgate.drivers.snmp.poller import SnmpPoller
from lvgate.drivers.snmp.simulator import start_snmpsim, wait_ready

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "snmp"
# A UPS and a small access switch: what a building's low-voltage room typically has.
RECORDINGS = ("apc_smart-ups-x-750-nmc2", "tplink_tl-sg2008")
MIB = 1024 * 1024


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def community(index: int) -> str:
    return f"dev{index:04d}"


def recording_of(index: int) -> str:
    return RECORDINGS[index % len(RECORDINGS)]


def make_copies(source: Path, target: Path, devices: int) -> list[Path]:
    """N copies named after their communities (snmpsim answers a file to its stem)."""
    target.mkdir(parents=True)
    copies = []
    for i in range(devices):
        copy = target / f"{community(i)}.snmprec"
        shutil.copyfile(source / f"{recording_of(i)}.snmprec", copy)
        copies.append(copy)
    return copies


def gateway_config(path: Path, broker_port: int, agent_port: int, devices: int, interval: float, state: Path) -> Path:
    lines = [
        "site: bench",
        "room: bench",
        "gateway_id: gw",
        f"mqtt: {{host: {LOOPBACK}, port: {broker_port}}}",
        f"state_dir: {state}",
        "devices:",
    ]
    for i in range(devices):
        lines.append(
            f"  - {{id: s{i:04d}, driver: snmp, host: {LOOPBACK}, port: {agent_port}, community: {community(i)}, "
            f"device_class: {'ups' if recording_of(i).startswith('apc') else 'switch'}, "
            f"poll_interval: {interval:g}, timeout: 5, publish: {{heartbeat: 0}}}}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def pdus_per_poll(agent_port: int) -> dict[str, dict[str, Any]]:
    """One poll of each recording through the driver, counting its PDUs and readings."""
    found: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(RECORDINGS):
        config = SnmpDeviceConfig(id=f"probe{i}", host=LOOPBACK, port=agent_port, community=community(i))
        poller = SnmpSession().poller(config)
        assert isinstance(poller, SnmpPoller)
        try:
            profile = await poller.resolve_profile()
            before = poller.client.pdus
            result = await poller.poll_detailed()
            found[name] = {
                "profile": profile.name,
                "pdus_per_cycle": poller.client.pdus - before,
                "readings_first_poll": len(result.readings),
            }
        finally:
            await poller.close()
    return found


def one_run(
    work: Path, broker: Broker, sub: Subscriber, data_dir: Path, agent_port: int, devices: int, args: argparse.Namespace
) -> dict[str, Any]:
    run_dir = Path(tempfile.mkdtemp(dir=work, prefix=f"lvgate-snmp-{devices}-"))
    config = gateway_config(run_dir / "gateway.yaml", broker.port, agent_port, devices, args.interval, run_dir / "st")
    sub.tally.first_at = None
    proc = start_lvgate(config, data_dir, run_dir / "lvgate.log")
    try:
        startup = wait_first(sub, proc, 60)
        if startup is None:
            raise RuntimeError(f"lvgate published nothing within 60 s:\n{proc.tail()}")
        time.sleep(args.warmup)
        before, tally0 = sample(proc.pid), sub.snapshot()
        time.sleep(args.window)
        after, tally1 = sample(proc.pid), sub.snapshot()
    finally:
        proc.stop()
    seconds = after.at - before.at
    cpu = after.cpu_s - before.cpu_s
    readings = tally1.readings - tally0.readings
    return {
        "startup_s": startup,
        "readings_per_s": readings / seconds,
        "readings_per_device_cycle": readings / devices / (seconds / args.interval),
        "cpu_ms_per_1000": 1e6 * cpu / readings if readings else float("nan"),
        "cpu_share_pct": 100.0 * cpu / seconds,
        "rss_mib": after.rss_bytes / MIB,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--devices", default="10,50", help="comma-separated device counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--interval", type=float, default=2.0, help="poll interval, seconds")
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds after the first telemetry")
    parser.add_argument("--fixtures", type=Path, default=FIXTURES)
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.devices.split(",") if n]
    missing = [n for n in RECORDINGS if not (args.fixtures / f"{n}.snmprec").exists()]
    if missing:
        parser.error(f"recordings not found under {args.fixtures}: {', '.join(missing)}")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="lvgate-bench-snmp-") as tmp:
        work = Path(tmp)
        data_dir = bench_data_dir(work)
        broker = Broker(work / "broker")
        broker.start()
        sub = Subscriber(broker.port, ["lvgate/+/+/telemetry"], lvgate_parser)
        polls: dict[str, dict[str, Any]] = {}
        try:
            for devices in counts:
                copies = make_copies(args.fixtures, work / f"recordings-{devices}", devices)
                agent_port = free_udp_port()
                sim_dir = work / f"snmpsim-{devices}"
                sim_dir.mkdir()
                sim = start_snmpsim(copies, LOOPBACK, agent_port, sim_dir)
                try:
                    if not asyncio.run(wait_ready(LOOPBACK, agent_port, community(devices - 1), 120)):
                        raise RuntimeError(f"snmpsim did not answer: {(sim_dir / 'snmpsim.log').read_text()[-2000:]}")
                    if not polls:
                        polls = asyncio.run(pdus_per_poll(agent_port))
                    runs = [
                        one_run(work, broker, sub, data_dir, agent_port, devices, args) for _ in range(args.repeats)
                    ]
                finally:
                    sim.terminate()
                    sim.wait(timeout=10)
                row: dict[str, Any] = {"devices": devices, "interval_s": args.interval}
                for key in runs[0]:
                    row[key] = spread((r[key] for r in runs), 2)
                rows.append(row)
                print(f"{devices} devices: {json.dumps(row)}", flush=True)
        finally:
            sub.close()
            broker.stop()
    mean_pdus = sum(polls[recording_of(i)]["pdus_per_cycle"] for i in range(len(RECORDINGS))) / len(RECORDINGS)
    body = {
        "title": "Gateway throughput and footprint (SNMP v2c, snmpsim recordings)",
        "parameters": {
            "devices": counts,
            "repeats": args.repeats,
            "interval_s": args.interval,
            "window_s": args.window,
            "warmup_s": args.warmup,
            "recordings": list(RECORDINGS),
            "publish": "heartbeat 0 (every poll published)",
        },
        "versions": versions({"snmpsim": package_version("snmpsim"), "pysnmp": package_version("pysnmp")}),
        "rows": rows,
        "pdus_per_device_cycle": {
            **{name: f"{p['pdus_per_cycle']} PDUs, profile {p['profile']}" for name, p in polls.items()},
            "mean over the mix": mean_pdus,
        },
        "notes": [
            "snmpsim (a Python agent) runs on the same 2 cores as the gateway and Mosquitto: at 50 devices it"
            " takes CPU the gateway would otherwise have, and its answer time bounds the poll cycle. The gateway's"
            " CPU and RSS are its own (/proc of the lvgate process only).",
            "Devices alternate between a UPS (APC Smart-UPS X 750, NMC2) and an 8-port switch (TP-Link"
            " TL-SG2008) recording; each copy answers to its own community.",
            "PDUs per device per cycle: the driver's request counter over one poll of each recording,"
            " in the benchmark process before the runs (every cycle sends the same requests).",
            "No latency figure: a recording has no clock to stamp readings with (the Modbus run measures it).",
        ],
    }
    path = write_result("gateway_snmp", body)
    print(f"written to {path}")
    return body


if __name__ == "__main__":
    main()

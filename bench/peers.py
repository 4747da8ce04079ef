"""lvgate side by side with peer gateways on the same simulated Modbus devices and Mosquitto.

Peers: ThingsBoard IoT Gateway 3.8.x (its Modbus connector, configured per register and in
its "wide range" form) and modbus2mqtt (spicierModbus2mqtt, one process per Modbus TCP
endpoint). Each peer lives in its own virtual environment under ``$LVGATE_BENCH_CACHE``
(default ``~/.cache/lvgate-bench``), installed on first use and never part of the repository.
The whole comparison runs inside a network namespace with only loopback
(``unshare -n``): ThingsBoard's gateway reports to its vendor at every start, and nothing may
leave this machine. A peer that cannot be installed or isolated is skipped with the reason.

For each device count and each gateway, in turn and several times: start it, wait for its
first telemetry, warm up, then measure over a window: readings delivered per second at a
subscriber, CPU ms per 1,000 readings (utime+stime of its processes), RSS, Modbus requests
per device per cycle counted at the simulator. Ratios are computed from medians of the
same run.

    .venv/bin/python -m bench.peers [--devices 100] [--repeats 3] [--window 12]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench._common import LOOPBACK, REPO_ROOT, percentile, spread, target, versions, write_result
from bench._farm import REGISTERS, STAMP_HIGH, STAMP_LOW
from bench._rig import (
    Broker,
    Farm,
    Proc,
    Subscriber,
    bench_data_dir,
    lvgate_config,
    lvgate_parser,
    measure_window,
    start_lvgate,
    wait_first,
)

MIB = 1024 * 1024
CACHE = Path(os.environ.get("LVGATE_BENCH_CACHE", Path.home() / ".cache" / "lvgate-bench"))
INSIDE = "LVGATE_BENCH_ISOLATED"
PEER_PACKAGES = {
    # ThingsBoard pins pymodbus 3.9.2 and pip-installs it at start unless present: install it up front.
    "thingsboard": ["thingsboard-gateway>=3.8,<3.9", "pymodbus==3.9.2", "pyserial", "pyserial-asyncio"],
    # modbus2mqtt 0.73 calls pymodbus with slave=, which pymodbus 3.10 renamed: keep 3.9.x.
    "modbus2mqtt": ["modbus2mqtt==0.73", "pymodbus==3.9.2"],
}
PEER_EXECUTABLE = {"thingsboard": "thingsboard-gateway", "modbus2mqtt": "modbus2mqtt"}


# --------------------------------------------------------------------------- peer environments


def ensure_venv(peer: str) -> tuple[Path | None, str]:
    """The peer's executable, installing its venv if needed; (None, reason) when impossible."""
    venv = CACHE / f"{peer}-venv"
    exe = venv / "bin" / PEER_EXECUTABLE[peer]
    if exe.exists():
        return exe, "cached"
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
        done = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", *PEER_PACKAGES[peer]],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"cannot create its virtual environment: {exc}"
    if done.returncode != 0 or not exe.exists():
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return None, f"pip install {' '.join(PEER_PACKAGES[peer])} failed: {last[0][:200]}"
    return exe, "installed"


def venv_version(exe: Path, package: str) -> str | None:
    done = subprocess.run(
        [str(exe.parent / "python"), "-c", f"from importlib.metadata import version; print(version('{package}'))"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.stdout.strip() or None


# --------------------------------------------------------------------------- message parsers


def thingsboard_parser(topic: str, payload: bytes) -> tuple[int, int | None]:
    if topic != "v1/gateway/telemetry":
        return 0, None
    count, stamp = 0, None
    for entries in json.loads(payload).values():
        for entry in entries if isinstance(entries, list) else [entries]:
            values = entry.get("values", entry)
            count += len(values)
            high = values.get(f"r{STAMP_HIGH}", values.get(f"r_{STAMP_HIGH}"))
            low = values.get(f"r{STAMP_LOW}", values.get(f"r_{STAMP_LOW}"))
            if high is not None and low is not None:
                stamp = int(high) << 16 | int(low)
    return count, stamp


def modbus2mqtt_parser(topic: str, payload: bytes) -> tuple[int, int | None]:
    # One message per register: modbus/<device>/state/r<n>. Its clock is split over two
    # messages, so no latency is taken from it.
    return (1, None) if topic.startswith("modbus/") and "/state/r" in topic else (0, None)


# --------------------------------------------------------------------------- ThingsBoard


class SessionLimits:
    """Stand-in for the ThingsBoard server's answer to ``getSessionLimits``: no limits."""

    ANSWER: ClassVar[dict[str, Any]] = {
        "maxPayloadSize": 65536,
        "maxInflightMessages": 100,
        "rateLimits": {"messages": None, "telemetryMessages": None, "telemetryDataPoints": None},
        "gatewayRateLimits": {"messages": None, "telemetryMessages": None, "telemetryDataPoints": None},
    }

    def __init__(self, port: int) -> None:
        self.asked = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-tb-server-{os.getpid()}")
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe("v1/devices/me/rpc/request/+", 1)
        self.client.on_message = self._answer
        self.client.connect(LOOPBACK, port)
        self.client.loop_start()

    def _answer(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        request_id = message.topic.rsplit("/", 1)[-1]
        client.publish(f"v1/devices/me/rpc/response/{request_id}", json.dumps(self.ANSWER), qos=1)
        self.asked.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def thingsboard_dir(exe: Path, run_dir: Path, broker_port: int, farm: Farm, devices: int, wide: bool) -> Path:
    """Its config as PEERS.md describes, written into ``run_dir/config``."""
    shipped = next((exe.parent.parent / "lib").glob("python3*/site-packages/thingsboard_gateway/config"))
    config_dir = run_dir / "config"
    config_dir.mkdir(parents=True)
    (run_dir / "logs").mkdir()
    shutil.copy(shipped / "logs.json", config_dir / "logs.json")
    main = json.loads((shipped / "tb_gateway.json").read_text(encoding="utf-8"))
    tb = main["thingsboard"]
    tb.update(host=LOOPBACK, port=broker_port, remoteShell=False, remoteConfiguration=False, latencyDebugMode=False)
    tb["security"] = {"type": "accessToken", "accessToken": "bench-token"}
    tb["statistics"]["enable"] = False
    tb["deviceFiltering"]["enable"] = False
    tb["checkingDeviceActivity"]["checkDeviceInactivity"] = False
    main["storage"] = {"type": "memory", "read_records_count": 100, "max_records_count": 100000}
    main["grpc"]["enabled"] = False
    main["connectors"] = [{"type": "modbus", "name": "Modbus", "configuration": "modbus.json"}]
    (config_dir / "tb_gateway.json").write_text(json.dumps(main, indent=2), encoding="utf-8")
    if wide:
        series = [
            {
                "tag": "r_${address}",
                "type": "16uint",
                "functionCode": 3,
                "objectsCount": 1,
                "address": f"0-{REGISTERS - 1}",
                "maxRegistersPerRequest": REGISTERS,
            }
        ]
    else:
        series = [
            {"tag": f"r{i}", "type": "16uint", "functionCode": 3, "objectsCount": 1, "address": i}
            for i in range(REGISTERS)
        ]
    slaves = []
    for i in range(devices):
        port, unit = farm.where(i)
        slaves.append(
            {
                "host": LOOPBACK,
                "port": port,
                "type": "tcp",
                "method": "socket",
                "unitId": unit,
                "deviceName": f"d{i:04d}",
                "deviceType": "default",
                "timeout": 35,
                "byteOrder": "BIG",
                "wordOrder": "BIG",
                "retries": 3,
                "retryOnEmpty": True,
                "retryOnInvalid": True,
                "pollPeriod": 1000,
                "connectAttemptTimeMs": 5000,
                "connectAttemptCount": 5,
                "waitAfterFailedAttemptsMs": 300000,
                "attributes": [],
                "timeseries": series,
                "attributeUpdates": [],
                "rpc": [],
            }
        )
    (config_dir / "modbus.json").write_text(json.dumps({"master": {"slaves": slaves}}, indent=2), encoding="utf-8")
    return config_dir


def start_thingsboard(exe: Path, run_dir: Path, config_dir: Path) -> list[Proc]:
    return [Proc([str(exe)], run_dir / "tb.log", env={"TB_GW_CONFIG_DIR": f"{config_dir}/"}, cwd=run_dir)]


# --------------------------------------------------------------------------- modbus2mqtt


def start_modbus2mqtt(exe: Path, run_dir: Path, broker_port: int, farm: Farm, devices: int) -> list[Proc]:
    """One process per Modbus TCP endpoint (it talks to one host:port), a CSV config each."""
    procs = []
    for p, port in enumerate(farm.ports):
        rows = ["type,topic,col2,col3,col4,col5,col6"]
        for i in range(p * farm.per_port, min(devices, (p + 1) * farm.per_port)):
            _, unit = farm.where(i)
            rows.append(f"poll,d{i:04d},{unit},0,{REGISTERS},holding_register,1")
            rows += [f"ref,r{r},{r},r,uint16,," for r in range(REGISTERS)]
        if len(rows) == 1:
            continue
        csv = run_dir / f"m2m-{port}.csv"
        csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
        procs.append(
            Proc(
                [
                    str(exe),
                    "--tcp",
                    LOOPBACK,
                    "--tcp-port",
                    str(port),
                    "--mqtt-host",
                    LOOPBACK,
                    "--mqtt-port",
                    str(broker_port),
                    "--config",
                    str(csv),
                    "--always-publish",
                    "--verbosity",
                    "1",
                ],
                run_dir / f"m2m-{port}.log",
            )
        )
    return procs


# --------------------------------------------------------------------------- one run


@dataclass
class Gateway:
    name: str
    topics: list[str]
    parser: Callable[[str, bytes], tuple[int, int | None]]
    start: Callable[[Path], list[Proc]]
    config: str


def one_run(gw: Gateway, work: Path, port: int, farm: Farm, devices: int, args: argparse.Namespace) -> dict[str, Any]:
    run_dir = Path(tempfile.mkdtemp(dir=work, prefix=f"{gw.name.replace(' ', '_')}-{devices}-"))
    sub = Subscriber(port, gw.topics, gw.parser)
    procs = gw.start(run_dir)
    try:
        startup = wait_first(sub, procs[0], args.start_timeout)
        if startup is None:
            raise RuntimeError(f"{gw.name} published nothing within {args.start_timeout:g} s:\n{procs[0].tail()}")
        time.sleep(args.warmup)
        window = measure_window([p.pid for p in procs], sub, farm, args.window)
    finally:
        for proc in procs:
            proc.stop(grace=5)
        sub.close()
    lat = window.latencies_ms
    return {
        "readings_per_s": window.readings_per_s,
        "delivered_pct": 100.0 * window.readings_per_s / (devices * REGISTERS),
        "cpu_ms_per_1000": window.cpu_ms_per_1000,
        "cpu_share_pct": window.cpu_share,
        "rss_mib": window.rss_bytes / MIB,
        "requests_per_device_cycle": window.requests / devices / window.seconds,
        "startup_s": startup,
        "latency_p50_ms": percentile(lat, 50) if lat else float("nan"),
        "processes": len(procs),
    }


def inside(args: argparse.Namespace) -> dict[str, Any]:
    """The comparison proper; runs inside the loopback-only namespace (or without the peers)."""
    exes = {peer: Path(p) if p else None for peer, p in json.loads(args.peer_exes).items()}
    counts = [int(n) for n in args.devices.split(",") if n]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="lvgate-peers-") as tmp:
        work = Path(tmp)
        data_dir = bench_data_dir(work)
        broker = Broker(work / "broker")
        broker.start()
        limits = SessionLimits(broker.port)
        try:
            for devices in counts:
                (work / f"farm-{devices}").mkdir()
                farm = Farm(work / f"farm-{devices}", devices)

                def lvgate_start(run_dir: Path, farm: Farm = farm, devices: int = devices) -> list[Proc]:
                    config = lvgate_config(run_dir / "gw.yaml", broker.port, farm, devices, run_dir / "state")
                    return [start_lvgate(config, data_dir, run_dir / "lvgate.log")]

                gateways = [
                    Gateway(
                        "lvgate",
                        ["lvgate/+/+/telemetry"],
                        lvgate_parser,
                        lvgate_start,
                        "profile of 20 uint16 holding registers (one read of 20), heartbeat 0",
                    ),
                ]
                tb = exes.get("thingsboard")
                if tb is not None:
                    for wide in (False, True):

                        def tb_start(
                            run_dir: Path, wide: bool = wide, farm: Farm = farm, devices: int = devices, tb: Path = tb
                        ) -> list[Proc]:
                            config_dir = thingsboard_dir(tb, run_dir, broker.port, farm, devices, wide)
                            return start_thingsboard(tb, run_dir, config_dir)

                        gateways.append(
                            Gateway(
                                f"ThingsBoard {'wide range' if wide else 'per register'}",
                                ["v1/gateway/telemetry"],
                                thingsboard_parser,
                                tb_start,
                                "wide range 0-19, maxRegistersPerRequest 20"
                                if wide
                                else "20 timeseries entries, one register each",
                            )
                        )
                m2m = exes.get("modbus2mqtt")
                if m2m is not None:

                    def m2m_start(
                        run_dir: Path, farm: Farm = farm, devices: int = devices, m2m: Path = m2m
                    ) -> list[Proc]:
                        return start_modbus2mqtt(m2m, run_dir, broker.port, farm, devices)

                    gateways.append(
                        Gateway(
                            "modbus2mqtt",
                            ["modbus/#"],
                            modbus2mqtt_parser,
                            m2m_start,
                            "one process per TCP endpoint; one poller of 20 registers per unit; --always-publish",
                        )
                    )
                try:
                    results: dict[str, list[dict[str, Any]]] = {g.name: [] for g in gateways}
                    errors: dict[str, str] = {}
                    # Interleaved repeats, so a slow minute of the machine hits every gateway alike.
                    for _ in range(args.repeats):
                        for gw in gateways:
                            if gw.name in errors:
                                continue
                            try:
                                results[gw.name].append(one_run(gw, work, broker.port, farm, devices, args))
                            except RuntimeError as exc:
                                errors[gw.name] = str(exc)[:500]
                finally:
                    farm.stop()
                for gw in gateways:
                    runs = results[gw.name]
                    row: dict[str, Any] = {"devices": devices, "gateway": gw.name, "config": gw.config}
                    if not runs:
                        row["skipped"] = errors.get(gw.name, "no run")
                    else:
                        for key in runs[0]:
                            row[key] = spread((r[key] for r in runs), 3 if "requests" in key else 2)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        finally:
            limits.close()
            broker.stop()
    return {"rows": rows}


def _ratio(rows: list[dict[str, Any]], devices: int, peer: str, key: str) -> float | None:
    def median(name: str) -> float | None:
        row = next((r for r in rows if r["devices"] == devices and r["gateway"] == name and key in r), None)
        return None if row is None else float(row[key]["median"])

    ours, theirs = median("lvgate"), median(peer)
    return None if not ours or theirs is None else round(theirs / ours, 2)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--devices", default="100", help="comma-separated device counts (e.g. 10,100)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--window", type=float, default=12.0)
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--start-timeout", type=float, default=40.0)
    parser.add_argument("--peers", default="thingsboard,modbus2mqtt")
    parser.add_argument("--peer-exes", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if os.environ.get(INSIDE) == "1":
        result = inside(args)
        assert args.out is not None
        args.out.write_text(json.dumps(result), encoding="utf-8")
        return result

    skipped: dict[str, str] = {}
    exes: dict[str, str | None] = {}
    peer_versions: dict[str, str | None] = {}
    for peer in [p for p in args.peers.split(",") if p]:
        exe, why = ensure_venv(peer)
        if exe is None:
            skipped[peer] = why
            continue
        exes[peer] = str(exe)
        package = "thingsboard-gateway" if peer == "thingsboard" else "modbus2mqtt"
        peer_versions[package] = venv_version(exe, package)
        peer_versions[f"pymodbus ({peer})"] = venv_version(exe, "pymodbus")
    isolated = shutil.which("unshare") is not None and shutil.which("ip") is not None
    if isolated:
        probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=30, check=False)
        isolated = probe.returncode == 0
    # ThingsBoard's gateway calls home at start: never run it outside the namespace.
    if not isolated and "thingsboard" in exes:
        skipped["thingsboard"] = "cannot isolate it: `unshare -n` (a loopback-only network namespace) failed"
        exes.pop("thingsboard")
    passed = [*sys.argv[1:]] if argv is None else list(argv)
    with tempfile.TemporaryDirectory(prefix="lvgate-peers-out-") as tmp:
        out = Path(tmp) / "inner.json"
        inner = [sys.executable, "-m", "bench.peers", *passed, "--peer-exes", json.dumps(exes), "--out", str(out)]
        env = {**os.environ, INSIDE: "1"}
        if isolated:
            command = ["unshare", "-n", "bash", "-c", 'ip link set lo up && exec "$@"', "bash", *inner]
        else:
            command = inner
        done = subprocess.run(command, cwd=REPO_ROOT, env=env, timeout=3600, check=False)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"the comparison failed (exit {done.returncode})")
        result = json.loads(out.read_text(encoding="utf-8"))
    rows = result["rows"]
    for peer, why in skipped.items():
        name = "ThingsBoard" if peer == "thingsboard" else peer
        rows.append({"devices": None, "gateway": name, "skipped": why})
    counts = [int(n) for n in args.devices.split(",") if n]
    ratios = {
        f"{peer} / lvgate CPU per reading, {n} devices": _ratio(rows, n, peer, "cpu_ms_per_1000")
        for n in counts
        for peer in ("ThingsBoard per register", "ThingsBoard wide range", "modbus2mqtt")
    }
    ratios.update(
        {
            f"{peer} / lvgate RSS, {n} devices": _ratio(rows, n, peer, "rss_mib")
            for n in counts
            for peer in ("ThingsBoard per register", "ThingsBoard wide range", "modbus2mqtt")
        }
    )
    n_ref = 100 if 100 in counts else counts[-1]
    best_tb = [
        r
        for r in (
            _ratio(rows, n_ref, p, "cpu_ms_per_1000") for p in ("ThingsBoard wide range", "ThingsBoard per register")
        )
        if r is not None
    ]
    body = {
        "title": "Side by side with peer gateways (same devices, same Mosquitto, loopback-only namespace)",
        "parameters": {
            "devices": counts,
            "repeats": args.repeats,
            "window_s": args.window,
            "warmup_s": args.warmup,
            "registers_per_device": REGISTERS,
            "interval_s": 1.0,
            "units_per_port": 10,
            "isolated": isolated,
        },
        "versions": versions(peer_versions),
        "rows": rows,
        "ratios": ratios,
        "how_configured": HOW_CONFIGURED,
        "targets": [
            target(
                f">= 3x less CPU per reading than ThingsBoard (its best config, {n_ref} devices)",
                min(best_tb) if best_tb else None,
                3.0,
                below=False,
                unit="x",
            )
        ],
    }
    path = write_result("peers", body)
    print(f"written to {path}")
    return body


HOW_CONFIGURED = [
    "Devices: bench/_farm.py (pymodbus 3.16 SimDevice servers in lvgate's venv), 10 unit ids per TCP port, "
    "20 holding registers each (0..19); registers 18-19 carry the simulator's clock.",
    "Broker: a private Mosquitto on 127.0.0.1, default settings; every gateway publishes QoS 1 except "
    "modbus2mqtt (its fixed QoS 0, retained).",
    "Isolation: the whole comparison runs under `unshare -n bash -c 'ip link set lo up; ...'`.",
    "lvgate: `lvgate run` with one modbus device per unit, profile bench_20u16 (20 uint16 points, one "
    "read of 20 registers), poll_interval 1, publish heartbeat 0 (every poll published).",
    "ThingsBoard IoT Gateway: own venv with thingsboard-gateway 3.8.x, pymodbus==3.9.2, pyserial, "
    "pyserial-asyncio; TB_GW_CONFIG_DIR with its shipped tb_gateway.json changed to host 127.0.0.1, "
    "the bench broker's port, accessToken bench-token, remoteShell/remoteConfiguration/statistics/"
    "deviceFiltering/checkDeviceInactivity off, grpc off, storage type memory, one Modbus connector; "
    "its shipped logs.json; cwd with a logs/ directory. A stand-in for the ThingsBoard server answers "
    "getSessionLimits (v1/devices/me/rpc/request/+) with maxPayloadSize 65536, maxInflightMessages "
    "100 and all rate limits null. modbus.json: one slave per unit (tcp, pollPeriod 1000, byteOrder "
    "and wordOrder BIG, timeout 35, retries 3); per register: 20 timeseries {type 16uint, functionCode "
    "3, objectsCount 1, address i}; wide range: one timeseries {tag r_${address}, address '0-19', "
    "maxRegistersPerRequest 20}. Telemetry counted on v1/gateway/telemetry.",
    "modbus2mqtt 0.73 (spicierModbus2mqtt): own venv with pymodbus==3.9.2 (it calls slave=, gone in "
    "pymodbus 3.10); it talks to one Modbus TCP endpoint, so one process per farm port with "
    "`--tcp 127.0.0.1 --tcp-port P --mqtt-host 127.0.0.1 --mqtt-port B --always-publish --verbosity 1` "
    "and a CSV per process: `poll,dNNNN,<unit>,0,20,holding_register,1` and 20 `ref,rK,K,r,uint16,,`. "
    "It publishes one message per register (modbus/<device>/state/rK); its CPU and RSS are the sums over "
    "its processes.",
]


if __name__ == "__main__":
    main()
    sys.exit(0)

"""The bench rig shared by the Modbus benchmarks: device farm, broker, subscriber, lvgate run.

Every piece is a separate process bound to 127.0.0.1, so the process being measured is
measured alone: the farm (``bench._farm``) answers Modbus and counts requests, Mosquitto
carries the messages, and a subscriber in the benchmark's own process counts readings and
measures latency from the simulator's clock (registers 18-19) to arrival.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench._common import LOOPBACK, REPO_ROOT, free_port, sample, wait_port
from bench._farm import STAMP_HIGH, STAMP_LOW, ports_needed

BENCH_PROFILE = "bench_20u16"
# 20 holding registers 0..19 as uint16 points, scale 1: plain numbers, so the peer gateways
# decode exactly the same work. 18 and 19 carry the simulator's clock.
_UPS_KEYS = (
    "input_voltage",
    "input_frequency",
    "bypass_voltage",
    "output_voltage",
    "output_current",
    "output_frequency",
    "output_power",
    "output_apparent_power",
    "load",
    "battery_charge",
    "battery_runtime",
    "battery_voltage",
    "battery_temperature",
    "temperature",
    "input_current",
    "input_power",
    "bypass_current",
    "bypass_frequency",
    "battery_current",
    "time_on_battery",
)
STAMP_KEYS = (_UPS_KEYS[STAMP_HIGH], _UPS_KEYS[STAMP_LOW])
MASK32 = 0xFFFFFFFF


def bench_data_dir(root: Path) -> Path:
    """A copy of edge_config (symlinks) with the bench profile added to profiles/modbus."""
    source = REPO_ROOT / "edge_config"
    target = root / "edge_config"
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name != "profiles":
            (target / entry.name).symlink_to(entry)
    (target / "profiles").mkdir()
    for driver in (source / "profiles").iterdir():
        if driver.name != "modbus":
            (target / "profiles" / driver.name).symlink_to(driver)
    modbus = target / "profiles" / "modbus"
    modbus.mkdir()
    for profile in (source / "profiles" / "modbus").iterdir():
        (modbus / profile.name).symlink_to(profile)
    points = "\n".join(
        f"  - {{key: {key}, table: holding, address: {i}, type: uint16}}" for i, key in enumerate(_UPS_KEYS)
    )
    (modbus / f"{BENCH_PROFILE}.yaml").write_text(
        f"""# Written by bench/_rig.py: 20 plain holding registers, the benchmark's device.
profile: {BENCH_PROFILE}
device_class: ups
manufacturer: lvgate bench
model: 20 x uint16
source: bench/_farm.py
points:
{points}
""",
        encoding="utf-8",
    )
    return target


# --------------------------------------------------------------------------- processes


class Proc:
    """A child process with its output in a file, stopped by its PID."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.log = log
        self.started = time.monotonic()
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                cwd=cwd,
                start_new_session=True,
            )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 10.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        return int(self.popen.returncode)

    def tail(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def find_mosquitto() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)), None
    )


class Broker:
    """A private Mosquitto on a loopback port; persistence keeps sessions across restarts."""

    def __init__(self, workdir: Path, *, persistence: bool = False) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.persistence = persistence
        self.proc: Proc | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        binary = find_mosquitto()
        if binary is None:
            raise RuntimeError("mosquitto is not installed (Debian package mosquitto)")
        conf = self.workdir / "mosquitto.conf"
        lines = [f"listener {self.port} {LOOPBACK}", "allow_anonymous true", "max_queued_messages 1000000"]
        if os.geteuid() == 0:
            lines.append("user root")
        if self.persistence:
            (self.workdir / "db").mkdir(exist_ok=True)
            lines += ["persistence true", f"persistence_location {self.workdir}/db/"]
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.proc = Proc([binary, "-c", str(conf)], self.workdir / "mosquitto.log")
        if not wait_port(self.port):
            raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.proc.tail()}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def restart(self) -> None:
        self.stop()
        self.start()


class Farm:
    """``bench._farm`` in its own process (lvgate's environment), counting requests."""

    def __init__(self, workdir: Path, devices: int, per_port: int = 10) -> None:
        self.devices = devices
        self.per_port = per_port
        self.ports = [free_port() for _ in range(ports_needed(devices, per_port))]
        self.stats = workdir / "farm.json"
        self.proc = Proc(
            [
                sys.executable,
                "-m",
                "bench._farm",
                "--devices",
                str(devices),
                "--units-per-port",
                str(per_port),
                "--ports",
                ",".join(map(str, self.ports)),
                "--stats",
                str(self.stats),
            ],
            workdir / "farm.log",
            cwd=REPO_ROOT,
        )
        deadline = time.monotonic() + 30
        while "ready" not in self.proc.tail() and time.monotonic() < deadline:
            if not self.proc.alive():
                raise RuntimeError(f"the Modbus farm exited: {self.proc.tail()}")
            time.sleep(0.05)
        if "ready" not in self.proc.tail():
            raise RuntimeError("the Modbus farm did not start within 30 s")

    def where(self, index: int) -> tuple[int, int]:
        """(port, unit id) of device ``index`` (0-based)."""
        return self.ports[index // self.per_port], index % self.per_port + 1

    def requests(self) -> int:
        for _ in range(20):
            try:
                return int(json.loads(self.stats.read_text())["requests"])
            except (OSError, ValueError, KeyError):
                time.sleep(0.05)
        return 0

    def stop(self) -> None:
        self.proc.stop()


# --------------------------------------------------------------------------- subscriber


@dataclass
class Tally:
    messages: int = 0
    readings: int = 0
    first_at: float | None = None  # time.monotonic() of the first message counted
    latencies_ms: list[float] = field(default_factory=list)
    keep_latency: bool = False


# A parser turns one message into (readings in it, simulator stamp or None).
Parser = Callable[[str, bytes], tuple[int, int | None]]


def lvgate_parser(topic: str, payload: bytes) -> tuple[int, int | None]:
    if not topic.endswith("/telemetry"):
        return 0, None
    readings = json.loads(payload)["readings"]
    try:
        stamp = int(readings[STAMP_KEYS[0]]["v"]) << 16 | int(readings[STAMP_KEYS[1]]["v"])
    except (KeyError, TypeError):
        stamp = None
    return len(readings), stamp


class Subscriber:
    """Counts readings arriving on ``topic`` and the latency from the simulator's stamp."""

    def __init__(self, port: int, topics: list[str], parser: Parser) -> None:
        self.parser = parser
        self.tally = Tally()
        self.lock = threading.Lock()
        self.retained: dict[str, bytes] = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{os.getpid()}-{time.time_ns()}")
        self.client.on_message = self._on_message
        self.topics = topics
        self.subscribed = threading.Event()
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe([(t, 1) for t in self.topics])
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.connect(LOOPBACK, port, keepalive=60)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise RuntimeError("the bench subscriber could not subscribe")

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        arrived_ms = time.time() * 1000
        if message.retain or message.topic.endswith("/bridge/info"):
            self.retained[message.topic] = bytes(message.payload)
        if message.retain:
            return  # left over from an earlier run (modbus2mqtt retains every value): not this run's reading
        try:
            count, stamp = self.parser(message.topic, bytes(message.payload))
        except (ValueError, KeyError, TypeError):
            return
        if not count:
            return
        with self.lock:
            tally = self.tally
            tally.messages += 1
            tally.readings += count
            if tally.first_at is None:
                tally.first_at = time.monotonic()
            if stamp is not None and tally.keep_latency:
                tally.latencies_ms.append(((int(arrived_ms) & MASK32) - stamp) & MASK32)

    def snapshot(self, *, reset_latency: bool = False, keep_latency: bool | None = None) -> Tally:
        with self.lock:
            copy = Tally(self.tally.messages, self.tally.readings, self.tally.first_at, list(self.tally.latencies_ms))
            if reset_latency:
                self.tally.latencies_ms.clear()
            if keep_latency is not None:
                self.tally.keep_latency = keep_latency
        return copy

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# --------------------------------------------------------------------------- lvgate


def lvgate_config(path: Path, broker_port: int, farm: Farm, devices: int, state_dir: Path) -> Path:
    lines = [
        "site: bench",
        "room: bench",
        "gateway_id: gw",
        f"mqtt: {{host: {LOOPBACK}, port: {broker_port}}}",
        f"state_dir: {state_dir}",
        "devices:",
    ]
    for i in range(devices):
        port, unit = farm.where(i)
        lines.append(
            f"  - {{id: d{i:04d}, driver: modbus, profile: {BENCH_PROFILE}, host: {LOOPBACK}, port: {port}, "
            f"unit: {unit}, poll_interval: 1, publish: {{heartbeat: 0}}}}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def lvgate_executable() -> str:
    return str(Path(sys.executable).parent / "lvgate")


def start_lvgate(config: Path, data_dir: Path, log: Path) -> Proc:
    return Proc(
        [lvgate_executable(), "--log-level", "warning", "run", "-c", str(config)],
        log,
        env={"LVGATE_DATA_DIR": str(data_dir)},
    )


# --------------------------------------------------------------------------- one measured window


@dataclass
class Window:
    readings: int
    seconds: float
    cpu_s: float
    rss_bytes: int
    requests: int
    latencies_ms: list[float]
    fds: int
    threads: int

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_1000(self) -> float:
        return 1e6 * self.cpu_s / self.readings if self.readings else float("nan")

    @property
    def cpu_share(self) -> float:
        return 100.0 * self.cpu_s / self.seconds if self.seconds else float("nan")


def measure_window(pids: list[int], sub: Subscriber, farm: Farm, seconds: float) -> Window:
    """CPU and readings of ``pids`` (summed) over ``seconds``; RSS, fds, tasks at the end."""
    before = [sample(p) for p in pids]
    tally0 = sub.snapshot(reset_latency=True, keep_latency=True)
    requests0 = farm.requests()
    start = time.monotonic()
    time.sleep(seconds)
    after = [sample(p) for p in pids]
    tally1 = sub.snapshot(keep_latency=False)
    elapsed = time.monotonic() - start
    return Window(
        readings=tally1.readings - tally0.readings,
        seconds=elapsed,
        cpu_s=sum(a.cpu_s - b.cpu_s for a, b in zip(after, before, strict=True)),
        rss_bytes=sum(a.rss_bytes for a in after),
        requests=farm.requests() - requests0,
        latencies_ms=tally1.latencies_ms,
        fds=sum(a.fds for a in after),
        threads=sum(a.threads for a in after),
    )


def wait_first(sub: Subscriber, proc: Proc, timeout: float) -> float | None:
    """Seconds from the process start to the first counted message, None if none came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.alive():
        first = sub.snapshot().first_at
        if first is not None:
            return first - proc.started
        time.sleep(0.02)
    return None

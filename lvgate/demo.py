"""``lvgate demo``: a whole simulated equipment room, end to end, on loopback.

Simulated UPS and room sensor (Modbus TCP) -> ``lvgate run`` -> MQTT broker (Mosquitto when
installed, else an in-process broker) -> ``lvgate collector`` -> SQLite history. Live values
are printed as they cross the broker; on exit everything started is stopped and a summary
is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from lvgate.mqtt_link import LinkSettings, MqttLink
from lvgate.paths import data_dir
from lvgate.simulate import modbus_units_of, serve

STOP_GRACE_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for_port(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return True
    return False


async def wait_for_log(path: Path, text: str, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"'{text}' did not appear in {path} within {timeout:g} s")


class Broker:
    """Mosquitto as a child process when installed, otherwise amqtt in this process."""

    def __init__(self, kind: str, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        mosquitto = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
        )
        if kind == "mosquitto" and mosquitto is None:
            raise RuntimeError("mosquitto is not installed (try --broker builtin)")
        self.kind = "mosquitto" if kind in ("auto", "mosquitto") and mosquitto else "builtin"
        self.binary = mosquitto
        self.process: subprocess.Popen[bytes] | None = None
        self.amqtt: Any = None

    @property
    def protocol(self) -> str:
        return "5" if self.kind == "mosquitto" else "3.1.1"  # amqtt speaks MQTT 3.1.1 only

    async def start(self) -> None:
        if self.kind == "mosquitto":
            conf = self.workdir / "mosquitto.conf"
            conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
            log = (self.workdir / "mosquitto.log").open("wb")
            assert self.binary is not None
            self.process = subprocess.Popen([self.binary, "-c", str(conf)], stdout=log, stderr=log)
        else:
            from amqtt.broker import Broker as AmqttBroker

            config = {
                "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
            }
            self.amqtt = AmqttBroker(config)
            await self.amqtt.start()
        if not await wait_for_port(self.port):
            raise RuntimeError(f"the {self.kind} broker did not start on 127.0.0.1:{self.port}")

    async def stop(self) -> None:
        if self.process is not None:
            await stop_process(self.process)
        if self.amqtt is not None:
            await self.amqtt.shutdown()


async def stop_process(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, then SIGKILL after a grace period; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if process.poll() is None:
            process.kill()
    return process.wait()


@dataclass
class LiveView:
    """Prints telemetry and availability as they cross the broker, and counts readings."""

    readings: int = 0
    messages: int = 0
    devices: set[str] = field(default_factory=set)

    def on_message(self, message: mqtt.MQTTMessage) -> None:
        leaf = message.topic.rsplit("/", 1)[-1]
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        clock = time.strftime("%H:%M:%S")
        if leaf == "availability":
            device = message.topic.split("/")[-2]
            print(f"{clock}  {device:<8} is {body.get('state')} {body.get('reason') or ''}".rstrip(), flush=True)
            return
        if leaf != "telemetry":
            return
        self.messages += 1
        self.readings += len(body["readings"])
        self.devices.add(body["device"])
        shown = []
        for key, entry in body["readings"].items():
            value = entry["v"]
            text = f"{value:g}" if isinstance(value, float) else str(value).lower()
            shown.append(f"{key} {text}{(' ' + entry['u']) if 'u' in entry else ''}")
        print(f"{clock}  {body['device']:<8} " + ", ".join(shown), flush=True)


def count_stored(history: Path) -> int:
    if not history.exists():
        return 0
    with contextlib.closing(sqlite3.connect(history)) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM readings").fetchone()[0])
        except sqlite3.Error:
            return 0


def count_errors(log_file: Path) -> int:
    if not log_file.exists():
        return 0
    return sum(
        1 for line in log_file.read_text(errors="replace").splitlines() if " ERROR " in line or "Traceback" in line
    )


async def run_demo(duration: float | None, workdir: Path | None, broker: str = "auto") -> int:
    own_tmp = workdir is None
    work = Path(tempfile.mkdtemp(prefix="lvgate-demo-")) if workdir is None else workdir
    work.mkdir(parents=True, exist_ok=True)
    examples = data_dir() / "examples"
    mqtt_port, modbus_port = free_port(), free_port()
    the_broker = Broker(broker, mqtt_port, work)
    env = {
        **os.environ,
        "LVGATE_MQTT_PORT": str(mqtt_port),
        "LVGATE_MQTT_PROTOCOL": the_broker.protocol,
        "LVGATE_MODBUS_PORT": str(modbus_port),
        "LVGATE_STATE_DIR": str(work / "var"),
    }
    os.environ.update(
        {k: env[k] for k in ("LVGATE_MQTT_PORT", "LVGATE_MQTT_PROTOCOL", "LVGATE_MODBUS_PORT", "LVGATE_STATE_DIR")}
    )
    from lvgate.gateway.config import load_gateway_config

    room = load_gateway_config(examples / "room.yaml")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    print(f"lvgate demo: room '{room.settings.room}' of site '{room.settings.site}', {len(room.devices)} devices")
    print(f"  broker   {the_broker.kind} on 127.0.0.1:{mqtt_port}; simulated Modbus TCP on 127.0.0.1:{modbus_port}")
    print(f"  configs  {examples / 'room.yaml'}, {examples / 'collector.yaml'}; state in {work}")
    print("  Ctrl-C stops the demo" + (f" (or it ends after {duration:g} s)" if duration else "") + "\n", flush=True)

    children: dict[str, subprocess.Popen[bytes]] = {}
    sim_stop = asyncio.Event()
    simulators: asyncio.Task[None] | None = None
    view = LiveView()
    watcher: MqttLink | None = None
    exit_codes: dict[str, int] = {}
    try:
        await the_broker.start()
        simulators = asyncio.create_task(serve(modbus_units_of(room), sim_stop))
        await wait_for_port(modbus_port)
        watcher = MqttLink(
            LinkSettings("127.0.0.1", mqtt_port, "lvgate-demo-view", protocol=the_broker.protocol),
            on_message=view.on_message,
            on_connected=_subscribe_view(lambda: watcher),
        )
        watcher.start()
        for name, args in (
            ("collector", ["collector", "-c", str(examples / "collector.yaml")]),
            ("gateway", ["run", "-c", str(examples / "room.yaml")]),
        ):
            log = (work / f"{name}.log").open("wb")
            children[name] = subprocess.Popen(
                [sys.executable, "-m", "lvgate.cli", *args], env=env, stdout=log, stderr=log, cwd=work
            )
            if name == "collector":
                # Its first session starts when it subscribes: let it, so it hears the first poll.
                await wait_for_log(work / "collector.log", "collector subscribed", children[name])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=duration)
    finally:
        print("\nstopping ...", flush=True)
        for name in ("gateway", "collector"):  # the gateway first, so the collector stores its last words
            if name in children:
                exit_codes[name] = await stop_process(children[name])
        if watcher is not None:
            await watcher.stop()
        sim_stop.set()
        if simulators is not None:
            with contextlib.suppress(Exception):
                await simulators
        await the_broker.stop()

    stored = count_stored(work / "var" / "history.sqlite")
    errors = sum(count_errors(work / f"{name}.log") for name in children)
    errors += sum(1 for code in exit_codes.values() if code not in (0, -signal.SIGTERM))
    print("\nsummary")
    print(f"  devices seen      {len(view.devices)} of {len(room.devices)}")
    print(f"  readings published {view.readings} (in {view.messages} telemetry messages)")
    print(f"  readings stored    {stored}  ({work / 'var' / 'history.sqlite'})")
    print(f"  errors             {errors}" + (f"  (see {work}/*.log)" if errors else ""))
    if own_tmp and not errors:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if stored > 0 and errors == 0 else 1


def _subscribe_view(link: Any) -> Any:
    async def on_connected() -> None:
        link().subscribe(["lvgate/+/+/telemetry", "lvgate/+/+/availability"])

    return on_connected

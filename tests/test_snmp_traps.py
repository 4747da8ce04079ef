"""Traps and informs sent with net-snmp's snmptrap/snmpinform reach MQTT as events, through a
real Mosquitto and the gateway runtime."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from lvgate.drivers.snmp.traps import to_event
from lvgate.gateway.config import load_gateway_config
from lvgate.gateway.runtime import Gateway
from tests.gateway_harness import running
from tests.services import LOOPBACK, MosquittoBroker, MqttProbe, free_port, wait_for_async
from tests.snmp_peers import V3_AUTH, V3_PRIV, V3_USER

ENGINE_ID = "8000000001020304"


def net_snmp(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"net-snmp's {tool} is not installed (apt-get install snmp)")
    return path


def send(argv: list[str]) -> float:
    """Run snmptrap/snmpinform; returns when it was sent (epoch s)."""
    sent = time.time()
    subprocess.run(argv, check=True, capture_output=True, timeout=15)
    return sent


def config_text(tmp: Path, broker: int, switch_traps: int, ups_traps: int, dead: int) -> str:
    return f"""site: s1
room: r1
gateway_id: gw
mqtt: {{host: 127.0.0.1, port: {broker}, keepalive: 5}}
state_dir: {tmp / "state"}
devices:
  - id: switch-1
    driver: snmp
    profile: generic-switch
    host: 127.0.0.1
    port: {dead}
    timeout: 0.2
    retries: 0
    poll_interval: 3600
    traps: {{address: 127.0.0.1, port: {switch_traps}, community: public}}
  - id: ups-1
    driver: snmp
    profile: apc-ups
    host: 127.0.0.1
    port: {dead}
    version: "3"
    v3: {{user: {V3_USER}, auth_protocol: SHA, auth_key: {V3_AUTH}, priv_protocol: AES, priv_key: {V3_PRIV}}}
    timeout: 0.2
    retries: 0
    poll_interval: 3600
    traps: {{address: 127.0.0.1, port: {ups_traps}, engine_id: "{ENGINE_ID}"}}
"""


AVAILABILITY_EVENTS = {"device_online", "device_offline"}


def events(probe: MqttProbe, device: str) -> list[tuple[dict[str, Any], float]]:
    """The trap events of a device. Its agent port is dead on purpose, so a poll also reports
    device_offline, at a moment that depends on the poll's timeout: not what this test is about."""
    found = [(json.loads(m.payload), m.received_at) for m in probe.received(f"lvgate/gw/{device}/events")]
    return [(e, t) for e, t in found if e["event"] not in AVAILABILITY_EVENTS]


async def test_traps_and_informs_become_events_on_mqtt(
    tmp_path: Path, mqtt_broker: MosquittoBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    snmptrap, snmpinform = net_snmp("snmptrap"), net_snmp("snmpinform")
    switch_port, ups_port, dead = free_port("udp"), free_port("udp"), free_port("udp")
    path = tmp_path / "gateway.yaml"
    path.write_text(config_text(tmp_path, mqtt_broker.port, switch_port, ups_port, dead), encoding="utf-8")
    gateway = Gateway(load_gateway_config(path))
    probe = MqttProbe(mqtt_broker.port).connect()
    probe.subscribe("lvgate/gw/#")
    latencies: list[float] = []
    async with running(gateway):
        await asyncio.sleep(0.5)  # the listeners bind as the gateway starts
        v2c = [snmptrap, "-v2c", "-c", "public", "-m", "", f"{LOOPBACK}:{switch_port}", ""]
        sent = await asyncio.to_thread(send, [*v2c, "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.7", "i", "7"])
        await wait_for_async(lambda: events(probe, "switch-1"), 10, what="linkDown event")
        latencies.append(events(probe, "switch-1")[0][1] - sent)
        await asyncio.to_thread(send, [*v2c, "1.3.6.1.6.3.1.1.5.4", "1.3.6.1.2.1.2.2.1.1.7", "i", "7"])
        inform = [snmpinform, "-v2c", "-c", "public", "-m", "", "-t", "2", f"{LOOPBACK}:{switch_port}", ""]
        await asyncio.to_thread(send, [*inform, "1.3.6.1.6.3.1.1.5.1"])  # returns once acknowledged
        await wait_for_async(lambda: len(events(probe, "switch-1")) == 3, 10, what="linkUp and coldStart")
        v3 = [snmptrap, "-v3", "-e", f"0x{ENGINE_ID}", "-u", V3_USER, "-l", "authPriv", "-a", "SHA", "-A", V3_AUTH]
        v3 += ["-x", "AES", "-X", V3_PRIV, "-m", "", f"{LOOPBACK}:{ups_port}", ""]
        sent = await asyncio.to_thread(send, [*v3, "1.3.6.1.4.1.318.0.5"])  # PowerNet upsOnBattery
        await wait_for_async(lambda: events(probe, "ups-1"), 10, what="upsOnBattery event")
        latencies.append(events(probe, "ups-1")[0][1] - sent)
        await asyncio.to_thread(send, [*v3, "1.3.6.1.2.1.33.2.3"])  # UPS-MIB upsTrapAlarmEntryAdded
        await wait_for_async(lambda: len(events(probe, "ups-1")) == 2, 10, what="UPS-MIB alarm")
    probe.close()

    switch = [e for e, _ in events(probe, "switch-1")]
    assert [e["event"] for e in switch] == ["link_down", "link_up", "cold_start"]
    assert switch[0]["data"]["if_index"] == "7" and switch[0]["severity"] == "warning"
    assert switch[0]["data"]["trap_oid"] == "1.3.6.1.6.3.1.1.5.3"
    ups = [e for e, _ in events(probe, "ups-1")]
    assert [(e["event"], e["severity"]) for e in ups] == [("on_battery", "critical"), ("alarm", "critical")]
    assert all(e["device_class"] == "ups" for e in ups)
    with capsys.disabled():
        print(f"\ntrap -> MQTT latency (s): {', '.join(f'{x:.3f}' for x in latencies)}")


def test_unknown_trap_is_published_as_trap_with_its_varbinds() -> None:
    event = to_event(
        "sw", "switch", [("1.3.6.1.6.3.1.1.4.1.0", "1.3.6.1.4.1.9.9.41.2.0.1"), ("1.3.6.1.2.1.1.3.0", 42)], None
    )
    assert event.kind == "trap" and event.data["trap_oid"] == "1.3.6.1.4.1.9.9.41.2.0.1"
    assert event.data["uptime_ticks"] == "42"

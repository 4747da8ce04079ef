"""The gateway against a real Mosquitto: outages, crashes, queue bounds, requests, TLS, names."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lvgate.mqtt_schema.validate import validate_message
from tests.gateway_harness import (
    CountingSensor,
    collector_yaml,
    gateway_yaml,
    load_collector,
    load_gateway,
    running,
    stored_temperatures,
)
from tests.services import (
    BrokerFactory,
    MosquittoBroker,
    MqttProbe,
    ProcessGuard,
    free_port,
    make_test_certificates,
    wait_for_async,
)


@pytest.fixture
async def sensor() -> AsyncIterator[CountingSensor]:
    device = CountingSensor(free_port())
    await device.start()
    yield device
    await device.stop()


def assert_each_served_value_stored_once_with_its_time(sensor: CountingSensor, history: Path, upto: int) -> None:
    stored = stored_temperatures(history)
    served = sensor.served_values()
    values = [v for v, _ in stored]
    assert len(values) == len(set(values)), "a reading was stored twice"
    expected = [round(raw * 0.1, 1) for raw in range(1, upto + 1)]
    assert values[: len(expected)] == expected, "readings missing or out of order"
    for value, ts in stored:
        # The measurement time, not the time of sending: off by no more than one poll.
        assert abs(ts - served[value]) < 100, (value, ts, served[value])


async def test_broker_restart_loses_and_duplicates_nothing(
    tmp_path: Path, mqtt_broker_factory: BrokerFactory, sensor: CountingSensor
) -> None:
    """One reading every 100 ms for 60 s with Mosquitto stopped for 20 s in the middle."""
    broker = mqtt_broker_factory(persistence=True)
    history = tmp_path / "history.sqlite"
    collector = load_collector(tmp_path, collector_yaml(broker.port, history))
    gateway = load_gateway(tmp_path, gateway_yaml(broker.port, sensor.port))
    async with running(collector):
        await wait_for_async(lambda: collector.link.connected.is_set(), timeout=10, what="collector connected")
        await asyncio.sleep(0.5)
        async with running(gateway):
            await asyncio.sleep(20)
            await asyncio.to_thread(broker.stop)
            stopped_at = time.time()
            await asyncio.sleep(20)
            queued_during_outage = len(gateway.queue)
            await asyncio.to_thread(broker.start)
            await asyncio.sleep(20)
        upto = len(sensor.served)
        await wait_for_async(lambda: len(stored_temperatures(history)) >= upto, timeout=30, what="every reading stored")
    assert queued_during_outage > 150  # about 200 polls waited on disk
    assert_each_served_value_stored_once_with_its_time(sensor, history, upto)
    # Retained topics came back, re-sent by the gateway after the restart (their time says so).
    with MqttProbe(broker.port) as probe:
        probe.subscribe("lvgate/gw/#")
        availability = probe.wait_for_message("lvgate/gw/sensor-1/availability", timeout=5)
        state = probe.wait_for_message("lvgate/gw/sensor-1/state", timeout=5)
        bridge = probe.wait_for_message("lvgate/gw/bridge/state", timeout=5)
    assert availability.retain and state.retain and bridge.retain
    assert json.loads(bridge.payload)["state"] == "offline"  # the gateway said goodbye when it stopped
    published_at = json.loads(availability.payload)["ts"]
    assert published_at > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stopped_at))


async def test_sigkill_while_broker_down_loses_nothing(
    tmp_path: Path, mqtt_broker_factory: BrokerFactory, sensor: CountingSensor, process_guard: ProcessGuard
) -> None:
    broker = mqtt_broker_factory(persistence=True)
    history = tmp_path / "history.sqlite"
    (tmp_path / "gateway.yaml").write_text(gateway_yaml(broker.port, sensor.port), encoding="utf-8")
    collector = load_collector(tmp_path, collector_yaml(broker.port, history))
    argv = [sys.executable, "-m", "lvgate.cli", "run", "-c", str(tmp_path / "gateway.yaml")]
    async with running(collector):
        await wait_for_async(lambda: collector.link.connected.is_set(), timeout=10, what="collector connected")
        gateway = process_guard.start(argv, name="gateway-1")
        await asyncio.sleep(3)
        await asyncio.to_thread(broker.stop)
        await asyncio.sleep(3)
        gateway.send_signal(signal.SIGKILL)
        await asyncio.to_thread(gateway.wait, 10)
        served_before_kill = len(sensor.served)
        await asyncio.to_thread(broker.start)
        restarted = process_guard.start(argv, name="gateway-2")
        await asyncio.sleep(3)
        restarted.terminate()
        upto = len(sensor.served)
        await wait_for_async(lambda: len(stored_temperatures(history)) >= upto - 1, timeout=30, what="readings stored")
    stored = {v for v, _ in stored_temperatures(history)}
    # A value served in the instant of the kill (read, not yet decoded) was never measured by
    # the gateway; every other one arrives.
    missing = {round(raw * 0.1, 1) for raw in range(1, upto + 1)} - stored
    assert missing <= {round(served_before_kill * 0.1, 1)}, sorted(missing)
    assert served_before_kill > 40


async def test_queue_bound_drops_history_first_and_counts(
    tmp_path: Path, mqtt_broker_factory: BrokerFactory, sensor: CountingSensor
) -> None:
    broker = mqtt_broker_factory(persistence=True)
    history = tmp_path / "history.sqlite"
    collector = load_collector(tmp_path, collector_yaml(broker.port, history))
    gateway = load_gateway(tmp_path, gateway_yaml(broker.port, sensor.port, extra="queue: {max_messages: 30}"))
    events: list[dict[str, object]] = []
    async with running(collector):
        await wait_for_async(lambda: collector.link.connected.is_set(), timeout=10, what="collector connected")
        async with running(gateway):
            await wait_for_async(lambda: len(sensor.served) >= 5, timeout=10, what="first polls")
            await asyncio.to_thread(broker.stop)
            await asyncio.sleep(2)
            await sensor.stop()  # the device goes away during the outage: an event to keep
            await wait_for_async(
                lambda: gateway.devices["sensor-1"].stats.online is False, timeout=10, what="device offline"
            )
            await sensor.start()
            await asyncio.sleep(4)
            await asyncio.to_thread(broker.start)
            with MqttProbe(broker.port) as probe:
                probe.subscribe("lvgate/gw/sensor-1/events")
                await wait_for_async(lambda: len(gateway.queue) == 0, timeout=20, what="queue replayed")
                await asyncio.sleep(1)
                events = [json.loads(m.payload) for m in probe.received("lvgate/gw/sensor-1/events")]
            await sensor.stop()  # no more polls: what was measured is now fixed
            await asyncio.sleep(0.5)
            dropped = gateway.queue.dropped()
        upto = len(sensor.served)
        await asyncio.sleep(2)
    stored = {v for v, _ in stored_temperatures(history)}
    lost = {round(raw * 0.1, 1) for raw in range(1, upto + 1)} - stored
    assert dropped.get("dropped_history", 0) > 0
    assert dropped.get("dropped_events", 0) == 0
    # Every telemetry message carries one new temperature, so the counter equals what is missing.
    assert len(lost) == dropped["dropped_history"], (sorted(lost), dropped)
    assert [e["event"] for e in events if e["event"] == "device_offline"], events


async def test_bridge_requests_answer_with_the_transaction(
    tmp_path: Path, mqtt_broker: MosquittoBroker, sensor: CountingSensor
) -> None:
    os.environ["LVGATE_TEST_MQTT_PASSWORD"] = "s3cret-pw"
    text = gateway_yaml(mqtt_broker.port, sensor.port, interval=3600).replace(
        "keepalive: 5}", "keepalive: 5, password: '${LVGATE_TEST_MQTT_PASSWORD}'}"
    )
    gateway = load_gateway(tmp_path, text)
    async with running(gateway):
        await wait_for_async(lambda: gateway.link.connected.is_set(), timeout=10, what="gateway connected")
        with MqttProbe(mqtt_broker.port) as probe:
            probe.subscribe("lvgate/gw/bridge/response/#")

            def ask(command: str, body: bytes) -> dict[str, object]:
                probe.publish(f"lvgate/gw/bridge/request/{command}", body)
                message = probe.wait_for_message(
                    f"lvgate/gw/bridge/response/{command}",
                    timeout=10,
                    predicate=lambda m: m.payload not in seen,
                )
                seen.add(message.payload)
                if command != "explode":  # an unknown command has no schema of its own
                    assert validate_message("lvgate", message.topic, message.payload) == []
                return dict(json.loads(message.payload))

            seen: set[bytes] = set()
            before = len(sensor.served)
            polled = await asyncio.to_thread(ask, "poll_now", b'{"transaction": "t1"}')
            assert polled["transaction"] == "t1" and polled["status"] == "ok"
            assert polled["data"] == {"devices": {"sensor-1": {"readings": 2, "online": True}}}
            assert len(sensor.served) == before + 1

            devices = await asyncio.to_thread(ask, "list_devices", b'{"transaction": 7}')
            assert devices["transaction"] == 7
            listed: Any = devices["data"]
            assert [d["id"] for d in listed["devices"]] == ["sensor-1"]

            config = await asyncio.to_thread(ask, "get_config", b'{"transaction": "c"}')
            text_of_config = json.dumps(config)
            assert "s3cret-pw" not in text_of_config
            assert config["data"]["config"]["mqtt"]["password"] == "***"  # type: ignore[index]

            garbage = await asyncio.to_thread(ask, "list_devices", b"\x00not json")
            assert garbage["status"] == "error" and "not JSON" in str(garbage["error"])
            unknown = await asyncio.to_thread(ask, "explode", b'{"transaction": "u"}')
            assert unknown["status"] == "error" and unknown["transaction"] == "u"

            # reload: a second device appears, a broken file is refused and the old config stays.
            (tmp_path / "gateway.yaml").write_text(
                text + text[text.index("  - id: sensor-1") :].replace("sensor-1", "sensor-2"), encoding="utf-8"
            )
            reloaded = await asyncio.to_thread(ask, "reload_config", b'{"transaction": "r"}')
            reload_data: Any = reloaded["data"]
            assert (reload_data["added"], reload_data["removed"], reload_data["changed"]) == (["sensor-2"], [], [])
            assert sorted(gateway.devices) == ["sensor-1", "sensor-2"]
            (tmp_path / "gateway.yaml").write_text(text.replace("profile:", "profil:"), encoding="utf-8")
            refused = await asyncio.to_thread(ask, "reload_config", b'{"transaction": "r2"}')
            assert refused["status"] == "error" and "unknown key 'profil'" in str(refused["error"])
            assert sorted(gateway.devices) == ["sensor-1", "sensor-2"]
    del os.environ["LVGATE_TEST_MQTT_PASSWORD"]


async def test_tls_with_client_certificate_and_a_wrong_ca(
    tmp_path: Path, mqtt_broker_factory: BrokerFactory, sensor: CountingSensor, caplog: pytest.LogCaptureFixture
) -> None:
    tls = dataclasses.replace(make_test_certificates(tmp_path / "pki"), require_certificate=True)
    broker = mqtt_broker_factory(tls=tls)
    assert broker.tls_port is not None
    client_files = f"ca_file: '{tls.cafile}', cert_file: '{tmp_path / 'pki' / 'client.crt'}', key_file: '{tmp_path / 'pki' / 'client.key'}'"
    text = gateway_yaml(broker.tls_port, sensor.port).replace(
        "keepalive: 5}", "keepalive: 5, tls: {" + client_files + "}}"
    )
    gateway = load_gateway(tmp_path, text)
    async with running(gateway):
        await wait_for_async(lambda: gateway.link.connected.is_set(), timeout=10, what="TLS connection")

    other = make_test_certificates(tmp_path / "other-pki")
    wrong = text.replace(str(tls.cafile), str(other.cafile))
    gateway = load_gateway(tmp_path, wrong)
    async with running(gateway):
        await wait_for_async(lambda: gateway.link.last_error is not None, timeout=10, what="a refused handshake")
        await asyncio.sleep(0.5)
        assert not gateway.link.connected.is_set()
    assert "certificate verify failed" in str(gateway.link.last_error)
    assert any("certificate verify failed" in r.getMessage() for r in caplog.records)


async def test_awkward_names_get_safe_topics_and_keep_their_display_name(
    tmp_path: Path, mqtt_broker: MosquittoBroker, sensor: CountingSensor
) -> None:
    name = "UPS #1 / 机房 A+"
    gateway = load_gateway(tmp_path, gateway_yaml(mqtt_broker.port, sensor.port, name=name))
    with MqttProbe(mqtt_broker.port) as probe:
        probe.subscribe("#")
        async with running(gateway):
            info = await asyncio.to_thread(probe.wait_for_message, "lvgate/gw/bridge/info", 10)
    assert json.loads(info.payload)["devices"][0]["name"] == name
    topics = {m.topic for m in probe.received("#")}
    assert "lvgate/gw/sensor-1/telemetry" in topics
    assert all(not set(t.split("/")[2]) & {"#", "+", " "} for t in topics if t.startswith("lvgate/"))


async def test_the_collector_uses_its_tls_settings_too(tmp_path: Path, mqtt_broker_factory: BrokerFactory) -> None:
    tls = dataclasses.replace(make_test_certificates(tmp_path / "pki"), require_certificate=True)
    broker = mqtt_broker_factory(tls=tls)
    assert broker.tls_port is not None
    # Paths relative to the collector's config file, as a technician would write them.
    files = "tls: {ca_file: pki/ca.crt, cert_file: pki/client.crt, key_file: pki/client.key}"
    text = collector_yaml(broker.tls_port, tmp_path / "history.sqlite").replace(
        "keepalive: 5}", f"keepalive: 5, {files}}}"
    )
    collector = load_collector(tmp_path, text)
    async with running(collector):
        await wait_for_async(lambda: collector.link.connected.is_set(), timeout=10, what="collector over TLS")

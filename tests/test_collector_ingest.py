"""Ingest through a real Mosquitto: dead letters, duplicates, and two collectors on one shared subscription."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from lvgate.collector.service import Collector
from tests.collector_peers import Publisher, iso, running_collector, telemetry, write_collector_config
from tests.services import MosquittoBroker, wait_for_async

T0 = 1_790_000_000_000
TOPIC = "lvgate/gw-1/env-1/telemetry"


def history_rows(path: Path) -> list[tuple[str, str, int, float]]:
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        try:
            return db.execute("SELECT device, entity, ts_ms, value FROM readings ORDER BY ts_ms, entity").fetchall()
        except sqlite3.OperationalError:
            return []


def dead_letters(collector: Collector) -> list[tuple[str, str, int]]:
    return collector.central.db.execute("SELECT topic, reason, size FROM dead_letters ORDER BY id").fetchall()


async def test_malformed_payloads_become_dead_letters_and_the_next_good_one_is_stored(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    history = tmp_path / "history.sqlite"
    config = write_collector_config(tmp_path / "c.yaml", mqtt_broker.port,
                                    extra=f"storage: {{sqlite: {{path: '{history}'}}}}\napi: {{enabled: false}}\n")  # fmt: skip
    good = json.loads(telemetry("env-1", "env_sensor", iso(T0), {"temperature": 21.5, "humidity": 40.0}))
    wrong_type = {**good, "readings": {"temperature": {"v": "hot", "q": "good"}}}
    schema_violation = {k: v for k, v in good.items() if k != "readings"}
    bad = [
        b"{not json",
        json.dumps(schema_violation).encode(),
        b"\x00" * (10 * 1024 * 1024),  # a 10 MB blob
        json.dumps(wrong_type).encode(),
    ]
    publisher = Publisher(mqtt_broker.port)
    try:
        async with running_collector(config) as collector:
            await publisher.send([(TOPIC, payload) for payload in bad])
            await publisher.send([(TOPIC, json.dumps(good).encode())])
            await wait_for_async(lambda: len(history_rows(history)) == 2, timeout=20, what="the good message stored")
            letters = dead_letters(collector)
            assert collector.stats.rejected == 4
    finally:
        publisher.close()
    assert [t for t, _, _ in letters] == [TOPIC] * 4
    reasons = [r for _, r, _ in letters]
    assert "JSON" in reasons[0]
    assert "readings" in reasons[1]
    assert "10485760 bytes" in reasons[2] and letters[2][2] == 10 * 1024 * 1024
    assert "temperature" in reasons[3]
    assert history_rows(history) == [("env-1", "humidity", T0, 40.0), ("env-1", "temperature", T0, 21.5)]


async def test_duplicate_messages_store_one_point_and_one_event(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    history = tmp_path / "history.sqlite"
    config = write_collector_config(tmp_path / "c.yaml", mqtt_broker.port,
                                    extra=f"storage: {{sqlite: {{path: '{history}'}}}}\napi: {{enabled: false}}\n")  # fmt: skip
    event = json.dumps(
        {"schema_version": 1, "ts": iso(T0), "site": "HQ", "room": "B1", "gateway": "gw-1", "device": "door-1",
         "device_class": "access_controller", "event": "door_forced", "severity": "critical", "data": {}}
    ).encode()  # fmt: skip
    reading = telemetry("env-1", "env_sensor", iso(T0), {"temperature": 22.0})
    publisher = Publisher(mqtt_broker.port)
    try:
        async with running_collector(config) as collector:
            # What a QoS 1 redelivery looks like to the collector: the same message again.
            await publisher.send([(TOPIC, reading), ("lvgate/gw-1/door-1/events", event)] * 3)
            await wait_for_async(lambda: collector.stats.received >= 6 and len(collector.inbox) == 0, timeout=20)
            events = collector.central.db.execute("SELECT device, event, ts_ms FROM events").fetchall()
            alarms = collector.book.query()
    finally:
        publisher.close()
    assert history_rows(history) == [("env-1", "temperature", T0, 22.0)]
    assert events == [("door-1", "door_forced", T0)]
    assert [(a["device"], a["rule"]) for a in alarms] == [("door-1", "door_forced")]


async def test_two_collectors_split_a_shared_subscription(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    """Every message stored once, both collectors worked, the alarm raised once (shared alarm book)."""
    history = tmp_path / "history.sqlite"
    database = tmp_path / "central.sqlite"
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {id: hot, kind: threshold, device_class: env_sensor, entity: temperature, above: 35,"
        " clear_below: 33, level: II, message: hot}\n",
        encoding="utf-8",
    )
    extra = (f"storage: {{sqlite: {{path: '{history}'}}}}\ndatabase: '{database}'\napi: {{enabled: false}}\n"
             f"alarms: {{rules: ['{rules}']}}\nflush_interval: 0.05\n")  # fmt: skip
    first = write_collector_config(tmp_path / "c1.yaml", mqtt_broker.port, extra=extra, collector_id="c1")
    second = write_collector_config(tmp_path / "c2.yaml", mqtt_broker.port, extra=extra, collector_id="c2")
    count = 400
    messages = [
        (f"lvgate/gw-1/env-{i % 4}/telemetry",
         telemetry(f"env-{i % 4}", "env_sensor", iso(T0 + i * 1000), {"temperature": 36.0 + (i % 3), "humidity": 50.0}))
        for i in range(count)
    ]  # fmt: skip
    publisher = Publisher(mqtt_broker.port)
    try:
        async with running_collector(first) as one, running_collector(second) as two:
            await publisher.send(messages)
            await wait_for_async(lambda: len(history_rows(history)) >= 2 * count, timeout=30, what="all points")
            await wait_for_async(lambda: len(one.inbox) == 0 and len(two.inbox) == 0, timeout=10)
            received = (one.stats.received, two.stats.received)
            alarms = one.book.query()
    finally:
        publisher.close()
    rows = history_rows(history)
    assert len(rows) == 2 * count and len(set(rows)) == 2 * count
    assert sum(received) == count, received  # each message reached exactly one collector
    assert min(received) > count // 10, f"load not split: {received}"
    assert sorted(a["device"] for a in alarms) == ["env-0", "env-1", "env-2", "env-3"]  # one per device


def test_latest_values_are_written_as_json_exactly_as_json_dumps_writes_them() -> None:
    from lvgate.collector.ingest import _json

    # Written out by hand: floats keep their shortest repr (exponents as Python writes them).
    cases = [(1.5, "1.5"), (100.0, "100.0"), (1e16, "1e+16"), (-0.0, "-0.0"), (True, "true"), (False, "false")]
    for value, text in [*cases, (None, "null")]:
        assert _json(value) == text == json.dumps(value)
    assert _json("on_battery") == '"on_battery"' and _json("°C") == '"\\u00b0C"'

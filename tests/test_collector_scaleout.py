"""Collectors on several hosts: 'history' collectors split a shared subscription and write to one
InfluxDB; one 'book' collector receives every message and keeps the only alarm book.

Each collector here has its own state directory and database file, as it would on its own host.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from lvgate.collector.config import load_collector_config
from lvgate.gateway.yaml_source import ConfigError
from tests.collector_peers import Publisher, iso, running_collector, telemetry
from tests.services import InfluxDB1, MosquittoBroker, MqttProbe, wait_for_async

T0 = 1_790_000_000_000
RULES = (
    "rules:\n  - {id: hot, kind: threshold, device_class: env_sensor, entity: temperature, above: 35,"
    " clear_below: 33, level: II, message: hot}\n"
)


def collector_yaml(
    path: Path, *, role: str, collector_id: str, broker: int, group: str | None, extra: str = ""
) -> Path:
    shared = f", shared_group: {group}" if group else ""
    path.write_text(
        f"collector_id: {collector_id}\nrole: {role}\n"
        f"mqtt: {{host: 127.0.0.1, port: {broker}{shared}}}\n"
        f"state_dir: '{path.parent / ('host-' + collector_id)}'\n"  # one state dir (and database) per host
        f"api: {{enabled: false}}\nflush_interval: 0.05\n{extra}",
        encoding="utf-8",
    )
    return path


def alarm_rows(database: Path) -> list[tuple[str, str, int | None]]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT device, rule, cleared_ms FROM alarms ORDER BY device, raised_ms").fetchall()


def readings(device: str, i: int, temperature: float) -> tuple[str, bytes]:
    body = telemetry(device, "env_sensor", iso(T0 + i * 1000), {"temperature": temperature, "humidity": 50.0})
    return f"lvgate/gw-1/{device}/telemetry", body


async def test_history_collectors_split_the_stream_and_one_book_keeps_the_alarms(
    tmp_path: Path, mqtt_broker: MosquittoBroker, influxdb: InfluxDB1, influxdb_database: str
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    influx = f"storage: {{influxdb: {{url: '{influxdb.url}', database: {influxdb_database}}}}}\n"
    history = [
        collector_yaml(tmp_path / f"h{n}.yaml", role="history", collector_id=f"h{n}", broker=mqtt_broker.port,
                       group="history", extra=influx)
        for n in (1, 2)
    ]  # fmt: skip
    # The book is pointed at a database of its own: it only reads, so that one must stay empty.
    book_database = influxdb_database + "_book"
    influxdb.create_database(book_database)
    book_storage = f"storage: {{influxdb: {{url: '{influxdb.url}', database: {book_database}}}}}\n"
    book = collector_yaml(tmp_path / "book.yaml", role="book", collector_id="book", broker=mqtt_broker.port,
                          group=None, extra=book_storage + f"alarms: {{rules: ['{tmp_path / 'rules.yaml'}']}}\n")  # fmt: skip
    count = 400
    # Devices env-0..env-3 in turn; temperatures 36, 37, 38 (all above 35): one alarm per device.
    messages = [readings(f"env-{i % 4}", i, 36.0 + (i % 3)) for i in range(count)]
    publisher = Publisher(mqtt_broker.port)
    probe = MqttProbe(mqtt_broker.port).connect()
    probe.subscribe("lvgate/+/+/alarms")
    try:
        async with running_collector(history[0]) as h1, running_collector(history[1]) as h2, \
                running_collector(book) as keeper:  # fmt: skip
            await publisher.send(messages)
            await wait_for_async(lambda: h1.stats.stored_points + h2.stats.stored_points >= 2 * count,
                                 timeout=30, what="every point stored")  # fmt: skip
            await wait_for_async(lambda: keeper.stats.received >= count and len(keeper.inbox) == 0, timeout=30,
                                 what="the book saw every message")  # fmt: skip
            split = (h1.stats.received, h2.stats.received)
            stored = (h1.stats.stored_points, h2.stats.stored_points, keeper.stats.stored_points)
            health = (h1.health()["role"], keeper.health()["role"], keeper.health()["other_alarm_books"])
            await wait_for_async(lambda: len(probe.messages) >= 4, timeout=10, what="alarm lists published")
    finally:
        publisher.close()
        probe.close()
    assert health == ("history", "book", {})  # the only book saw no other
    assert sum(split) == count and min(split) > count // 10, f"the history collectors did not split: {split}"
    assert stored == (split[0] * 2, split[1] * 2, 0)  # two points a message; the book writes none
    rows = influxdb.rows(influxdb_database, "SELECT count(value) FROM env_sensor GROUP BY device")
    assert sorted((r["device"], r["count"]) for r in rows) == [(f"env-{d}", 2 * count // 4) for d in range(4)]
    assert influxdb.rows(book_database, "SELECT count(value) FROM env_sensor") == []  # the book wrote nothing
    influxdb.drop_database(book_database)
    assert alarm_rows(tmp_path / "host-book" / "central.sqlite") == [(f"env-{d}", "hot", None) for d in range(4)]
    for n in (1, 2):  # no alarm book on the history hosts: no alarms and no rule state at all
        central = tmp_path / f"host-h{n}" / "central.sqlite"
        assert alarm_rows(central) == []
        with sqlite3.connect(central) as db:
            assert db.execute("SELECT count(*) FROM conditions").fetchone() == (0,)
    latest = {m.topic: json.loads(m.payload) for m in probe.messages}  # the last list per device
    assert sorted(latest) == [f"lvgate/gw-1/env-{d}/alarms" for d in range(4)]
    for topic, body in latest.items():
        assert [(a["rule"], a["level"]) for a in body["alarms"]] == [("hot", "II")], (topic, body)
        assert body["collector"] == "book"


async def test_a_second_book_is_noticed_by_the_first(
    tmp_path: Path,
    mqtt_broker: MosquittoBroker,
    influxdb: InfluxDB1,
    influxdb_database: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two books by mistake: each sees the other's live alarm lists; a retained list left by a book
    that ran before (here 'old-book') is not taken for a running one."""
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    extra = (f"storage: {{influxdb: {{url: '{influxdb.url}', database: {influxdb_database}}}}}\n"
             f"alarms: {{rules: ['{tmp_path / 'rules.yaml'}']}}\n")  # fmt: skip
    books = [
        collector_yaml(tmp_path / f"{name}.yaml", role="book", collector_id=name, broker=mqtt_broker.port,
                       group=None, extra=extra)
        for name in ("book-a", "book-b")
    ]  # fmt: skip
    old_list = {"schema_version": 1, "ts": iso(T0), "device": "env-9", "collector": "old-book", "alarms": []}
    probe = MqttProbe(mqtt_broker.port).connect()
    probe.publish("lvgate/gw-1/env-9/alarms", json.dumps(old_list).encode(), retain=True)
    publisher = Publisher(mqtt_broker.port)
    try:
        async with running_collector(books[0]) as a, running_collector(books[1]) as b:
            await publisher.send([readings("env-1", i, 40.0) for i in range(3)])
            await wait_for_async(lambda: bool(a.other_books) and bool(b.other_books), timeout=15,
                                 what="each book noticing the other")  # fmt: skip
            seen = (sorted(a.health()["other_alarm_books"]), sorted(b.health()["other_alarm_books"]))
    finally:
        publisher.close()
        probe.publish("lvgate/gw-1/env-9/alarms", b"", retain=True)
        probe.close()
    assert seen == (["book-b"], ["book-a"])
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and "alarm lists" in r.getMessage()]
    assert any(m.startswith("collector 'book-b' publishes alarm lists too") for m in errors), errors
    assert any(m.startswith("collector 'book-a' publishes alarm lists too") for m in errors), errors
    assert len(errors) == 2  # once each, not once per list


async def test_the_book_collector_catches_up_after_a_restart(
    tmp_path: Path, mqtt_broker: MosquittoBroker, influxdb: InfluxDB1, influxdb_database: str
) -> None:
    """Messages sent while the book is down wait in its persistent session; the alarm clears, once."""
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    extra = (f"storage: {{influxdb: {{url: '{influxdb.url}', database: {influxdb_database}}}}}\n"
             f"alarms: {{rules: ['{tmp_path / 'rules.yaml'}']}}\n")  # fmt: skip
    book = collector_yaml(tmp_path / "book.yaml", role="book", collector_id="book", broker=mqtt_broker.port,
                          group=None, extra=extra)  # fmt: skip
    database = tmp_path / "host-book" / "central.sqlite"
    publisher = Publisher(mqtt_broker.port)
    try:
        async with running_collector(book) as keeper:
            await publisher.send([readings("env-1", i, 40.0) for i in range(5)])
            await wait_for_async(lambda: keeper.stats.received >= 5 and len(keeper.inbox) == 0, timeout=10)
        assert alarm_rows(database) == [("env-1", "hot", None)]
        # While the book is stopped: still hot, then back to 30 C (below clear_below 33).
        await publisher.send([readings("env-1", 5 + i, 40.0 if i < 3 else 30.0) for i in range(6)])
        async with running_collector(book) as keeper:
            await wait_for_async(lambda: keeper.stats.received >= 6 and len(keeper.inbox) == 0, timeout=10,
                                 what="the queued messages")  # fmt: skip
    finally:
        publisher.close()
    # One alarm in all (not raised again by the replay), cleared at the first reading below 33 C.
    assert alarm_rows(database) == [("env-1", "hot", T0 + 8 * 1000)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("role: history\nstorage: {influxdb: {url: 'http://127.0.0.1:1'}}\nalarms: {rules: [rules.yaml]}\n",
         "c.yaml:3:9: bad value for 'alarms': role 'history' runs no alarm book: remove 'alarms' (or set "
         "enabled: false), or use role 'full' or 'book'"),
        ("role: history\nmqtt: {shared_group: history}\n",
         "c.yaml:1:1: bad value for 'storage': role 'history' needs storage.influxdb, the history store the "
         "collectors share (an SQLite history would stay on this host); one collector alone: use role 'full'"),
        ("role: book\nmqtt: {shared_group: history}\nstorage: {influxdb: {url: 'http://127.0.0.1:1'}}\n",
         "c.yaml:2:7: bad value for 'mqtt': a 'book' collector must receive every message: remove shared_group "
         "(in a group it would see only its share, and what it does not store nobody stores)"),
        ("role: book\nstorage: {influxdb: {url: 'http://127.0.0.1:1'}}\nalarms: {enabled: false}\n",
         "c.yaml:3:9: bad value for 'alarms': a 'book' collector is the alarm book: alarms.enabled must stay true"),
    ],
)  # fmt: skip
def test_role_mistakes_are_refused_where_they_are_written(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_collector_config(path)
    assert [str(p).replace(str(tmp_path) + "/", "") for p in caught.value.problems] == [expected]

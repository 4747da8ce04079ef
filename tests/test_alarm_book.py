"""The alarm book with a simulated clock: every time below is chosen by the test, never read."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvgate.collector.alarms.book import (
    AlarmBook,
    AlarmError,
    AvailabilityInput,
    DeviceContext,
    EventInput,
    ValueInput,
    describe,
)
from lvgate.collector.alarms.rules import RuleFile, load_rules
from lvgate.collector.central import CentralDb
from lvgate.gateway.yaml_source import ConfigError

T0 = 1_800_000_000_000  # an arbitrary epoch-ms origin for the simulated clock
MIN = 60_000
ENV = DeviceContext("gw-1", "env-1", "env_sensor", "HQ", "B1")
UPS = DeviceContext("gw-1", "ups-1", "ups", "HQ", "B1")
DOOR = DeviceContext("gw-1", "door-1", "access_controller", "HQ", "B1")

RULES = """
flapping: {changes: 4, window_s: 600}
rules:
  - {id: hot, kind: threshold, device_class: env_sensor, entity: temperature, above: 35, clear_below: 33,
     for_s: 300, level: II, message: too hot}
  - {id: on_battery, kind: state, device_class: ups, entity: on_battery, values: [true], level: I, message: on battery}
  - {id: offline, kind: offline, for_s: 120, level: II, message: offline}
  - {id: rising, kind: rate, device_class: env_sensor, entity: humidity, per_s: 60, rise_above: 5, level: III,
     message: humidity rising}
  - {id: forced, kind: event, device_class: access_controller, event: door_forced, level: II, message: forced}
  - {id: held, kind: event, device_class: access_controller, event: door_held, clear_event: door_closed,
     level: III, message: held}
"""


@pytest.fixture
def rules(tmp_path: Path) -> RuleFile:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    return load_rules([path])


def open_book(tmp_path: Path, rules: RuleFile) -> AlarmBook:
    return AlarmBook(CentralDb(tmp_path / "central.sqlite"), rules)


def feed(book: AlarmBook, *inputs: ValueInput | AvailabilityInput | EventInput) -> set[tuple[str, str]]:
    with book.central.transaction():
        return book.apply(inputs)


def tick(book: AlarmBook, now_ms: int) -> set[tuple[str, str]]:
    with book.central.transaction():
        return book.tick(now_ms)


def temp(value: float, ts: int) -> ValueInput:
    return ValueInput(ENV, "temperature", value, ts)


def test_threshold_waits_for_the_duration_then_raises_once(tmp_path: Path, rules: RuleFile) -> None:
    book = open_book(tmp_path, rules)
    feed(book, temp(36.0, T0), temp(36.5, T0 + 4 * MIN))
    assert book.query(active=True) == []
    assert tick(book, T0 + 5 * MIN - 1) == set()
    assert tick(book, T0 + 5 * MIN) == {("gw-1", "env-1")}
    feed(book, temp(37.0, T0 + 6 * MIN))
    tick(book, T0 + 7 * MIN)
    alarms = book.query(active=True)
    assert len(alarms) == 1
    assert alarms[0]["rule"] == "hot" and alarms[0]["level"] == "II" and alarms[0]["raised_ms"] == T0 + 5 * MIN
    assert alarms[0]["value"] == 36.5 and alarms[0]["room"] == "B1"


def test_a_dip_before_the_duration_restarts_it(tmp_path: Path, rules: RuleFile) -> None:
    book = open_book(tmp_path, rules)
    feed(book, temp(36.0, T0), temp(30.0, T0 + 3 * MIN), temp(36.0, T0 + 4 * MIN))
    tick(book, T0 + 8 * MIN)  # 4 minutes since it went above again
    assert book.query() == []
    tick(book, T0 + 9 * MIN)
    assert len(book.query()) == 1


def test_hysteresis_clears_only_below_the_clear_limit(tmp_path: Path, rules: RuleFile) -> None:
    book = open_book(tmp_path, rules)
    feed(book, temp(36.0, T0), temp(36.0, T0 + 5 * MIN))
    assert book.query()[0]["cleared_ms"] is None
    feed(book, temp(34.0, T0 + 6 * MIN))  # below 35 but above 33: still an alarm
    assert book.query()[0]["cleared_ms"] is None
    feed(book, temp(32.9, T0 + 7 * MIN))
    row = book.query()[0]
    assert row["cleared_ms"] == T0 + 7 * MIN
    assert describe(row, T0 + 8 * MIN)["state"] == "cleared"


def test_redelivered_input_is_ignored(tmp_path: Path, rules: RuleFile) -> None:
    book = open_book(tmp_path, rules)
    feed(book, ValueInput(UPS, "on_battery", True, T0))
    feed(book, ValueInput(UPS, "on_battery", False, T0 + MIN))
    # QoS 1 redelivery of the first message, after the second: must not raise again.
    feed(book, ValueInput(UPS, "on_battery", True, T0))
    rows = book.query()
    assert len(rows) == 1 and rows[0]["cleared_ms"] == T0 + MIN


def test_flapping_keeps_one_alarm_up_until_quiet(tmp_path: Path, rules: RuleFile) -> None:
    book = open_book(tmp_path, rules)
    for i in range(6):  # on battery / mains every 30 s
        feed(book, ValueInput(UPS, "on_battery", i % 2 == 0, T0 + i * 30_000))
    rows = book.query()
    # raise, clear, raise (3 changes); the 4th change would clear: flapping instead.
    assert len(rows) == 2
    assert rows[0]["cleared_ms"] == T0 + 30_000
    assert rows[1]["cleared_ms"] is None and rows[1]["flapping"] is True
    last_change = T0 + 5 * 30_000
    tick(book, last_change + 600_000 - 1)
    assert book.get(rows[1]["id"])["cleared_ms"] is None  # type: ignore[index]
    tick(book, last_change + 600_000)
    row = book.get(rows[1]["id"])
    assert row is not None and row["cleared_ms"] == last_change + 600_000 and row["flapping"] is False


def test_offline_rule_and_maintenance_window(tmp_path: Path, rules: RuleFile) -> None:
    book = open_book(tmp_path, rules)
    book.add_maintenance(gateway="gw-1", device="ups-1", start_ms=T0, end_ms=T0 + 10 * MIN, reason="battery swap",
                         who="tech")  # fmt: skip
    feed(book, AvailabilityInput(UPS, False, "timeout", T0 + MIN))
    tick(book, T0 + 5 * MIN)
    assert book.query() == [], "silenced by the maintenance window"
    tick(book, T0 + 10 * MIN)  # window over, still offline: raised now
    rows = book.query()
    assert [r["rule"] for r in rows] == ["offline"] and rows[0]["raised_ms"] == T0 + 10 * MIN
    assert rows[0]["value"] == "timeout"
    feed(book, AvailabilityInput(UPS, True, None, T0 + 11 * MIN))
    assert book.query()[0]["cleared_ms"] == T0 + 11 * MIN


def test_rate_rule(tmp_path: Path, rules: RuleFile) -> None:
    book = open_book(tmp_path, rules)
    feed(book, ValueInput(ENV, "humidity", 40.0, T0), ValueInput(ENV, "humidity", 44.0, T0 + MIN))
    assert book.query() == []  # 4 %/min
    feed(book, ValueInput(ENV, "humidity", 47.0, T0 + MIN + 30_000))  # 3 % in 30 s = 6 %/min
    assert [r["rule"] for r in book.query()] == ["rising"]


def test_event_rules(tmp_path: Path, rules: RuleFile) -> None:
    book = open_book(tmp_path, rules)
    feed(book, EventInput(DOOR, "door_forced", T0), EventInput(DOOR, "door_held", T0 + 1))
    assert sorted(r["rule"] for r in book.query(active=True)) == ["forced", "held"]
    feed(book, EventInput(DOOR, "door_closed", T0 + MIN))
    held = book.query(device="door-1")
    assert {r["rule"]: r["cleared_ms"] for r in held} == {"forced": None, "held": T0 + MIN}
    tick(book, T0 + 600 * MIN)  # nothing clears a forced door but the duty staff
    forced = next(r for r in book.query() if r["rule"] == "forced")
    assert forced["cleared_ms"] is None
    book.close(forced["id"], "duty", "door inspected", T0 + 601 * MIN, force=True)
    assert book.get(forced["id"])["closed_by"] == "duty"  # type: ignore[index]


def test_lifecycle_and_contract_clocks(tmp_path: Path, rules: RuleFile) -> None:
    book = open_book(tmp_path, rules)
    feed(book, ValueInput(UPS, "on_battery", True, T0))
    alarm_id = book.query()[0]["id"]
    view = describe(book.get(alarm_id), T0 + 20 * MIN)  # type: ignore[arg-type]
    assert view["state"] == "raised"
    assert view["clocks"]["response"] == {"due_ms": T0 + 30 * MIN, "met_ms": None, "status": "running",
                                          "left_ms": 10 * MIN}  # fmt: skip
    assert view["clocks"]["fix"]["due_ms"] == T0 + 4 * 60 * MIN  # level I: 4 hours
    late = describe(book.get(alarm_id), T0 + 31 * MIN)  # type: ignore[arg-type]
    assert late["clocks"]["response"]["status"] == "overdue" and late["clocks"]["response"]["left_ms"] == -MIN

    book.acknowledge(alarm_id, "alice", "on my way", T0 + 25 * MIN)
    with pytest.raises(AlarmError) as twice:
        book.acknowledge(alarm_id, "bob", "me too", T0 + 26 * MIN)
    assert twice.value.status == 409
    with pytest.raises(AlarmError):
        book.close(alarm_id, "alice", "done?", T0 + 27 * MIN)  # not cleared yet
    book.comment(alarm_id, "alice", "replace the mains breaker", T0 + 3 * 60 * MIN, plan=True)
    view = describe(book.get(alarm_id), T0 + 3 * 60 * MIN)  # type: ignore[arg-type]
    assert view["state"] == "acknowledged" and view["acknowledged_by"] == "alice"
    assert view["clocks"]["response"]["status"] == "met"
    assert view["clocks"]["plan"]["status"] == "met_late"  # plan came after 3 h, due at 2 h
    feed(book, ValueInput(UPS, "on_battery", False, T0 + 5 * 60 * MIN))
    view = describe(book.get(alarm_id), T0 + 5 * 60 * MIN)  # type: ignore[arg-type]
    assert view["state"] == "cleared" and view["clocks"]["fix"]["status"] == "met_late"
    book.close(alarm_id, "alice", "breaker replaced", T0 + 5 * 60 * MIN + 1)
    assert describe(book.get(alarm_id), T0 + 6 * 60 * MIN)["state"] == "closed"  # type: ignore[arg-type]
    assert [n["kind"] for n in book.notes(alarm_id)] == ["acknowledge", "plan", "close"]
    level_ii = describe({**book.get(alarm_id), "level": "II"}, T0)  # type: ignore[dict-item]
    assert level_ii["clocks"]["fix"]["due_ms"] == T0 + 12 * 60 * MIN


def test_alarm_state_survives_a_restart(tmp_path: Path, rules: RuleFile) -> None:
    book = open_book(tmp_path, rules)
    feed(book, temp(36.0, T0))  # pending: the duration has not run out
    book.central.close()
    book = open_book(tmp_path, rules)
    tick(book, T0 + 5 * MIN)
    assert len(book.query(active=True)) == 1, "the pending duration was remembered"
    alarm_id = book.query()[0]["id"]
    book.acknowledge(alarm_id, "alice", "", T0 + 6 * MIN)
    book.central.close()
    book = open_book(tmp_path, rules)
    row = book.get(alarm_id)
    assert row is not None and row["acknowledged_by"] == "alice"
    feed(book, temp(34.0, T0 + 7 * MIN))  # hysteresis state survived too: still up
    assert book.get(alarm_id)["cleared_ms"] is None  # type: ignore[index]


def test_two_books_on_one_database_raise_once(tmp_path: Path, rules: RuleFile) -> None:
    first, second = open_book(tmp_path, rules), open_book(tmp_path, rules)
    feed(first, temp(36.0, T0))
    feed(second, temp(36.2, T0 + 5 * MIN))  # the other collector got the next message
    tick(first, T0 + 6 * MIN)
    tick(second, T0 + 6 * MIN)
    assert len(first.query()) == 1 and len(second.query()) == 1


def test_bad_rule_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - {id: x, kind: threshold, entity: t, level: V, message: m, above: 1}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as err:
        load_rules([path])
    assert "rules.yaml:2" in str(err.value)


def test_default_rules_load() -> None:
    rules = load_rules([Path(__file__).parent.parent / "edge_config" / "rules"])
    assert {"room_temperature_high", "ups_on_battery", "device_offline", "door_forced"} <= {r.id for r in rules.rules}

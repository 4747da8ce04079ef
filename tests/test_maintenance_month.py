"""A simulated month (November 2026, UTC) on a time-travel clock: faults of each level, responses and
fixes at known times, devices offline for known spans, one firmware change. Every figure of the
monthly report is compared with a value this test works out from the schedule itself."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from lvgate.collector.maintenance.alarm_link import BookAlarms
from lvgate.collector.maintenance.assets import AssetFile, AssetRegister
from lvgate.collector.maintenance.checklists import load_checklists
from lvgate.collector.maintenance.clock import ManualClock
from lvgate.collector.maintenance.inspection import Inspections
from lvgate.collector.maintenance.report import MonthlyReport, compute, figures_rows
from lvgate.collector.maintenance.state import CentralState
from tests.maintenance_room import DAY, HOUR, MIN, ROOM, SITE, Room

T0 = int(dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp() * 1000)
END = int(dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp() * 1000)


def at(day: int, hour: int, minute: int = 0) -> int:
    """Epoch ms of 2026-11-<day> hour:minute UTC, written out by hand."""
    return T0 + (day - 1) * DAY + hour * HOUR + minute * MIN


@dataclass(frozen=True)
class Fault:
    device: str
    level: str
    raised: int
    ack: int | None  # minutes after the raise
    plan: int | None
    fixed: int | None


# The injected schedule. Response due 30 min, plan 2 h, fix 4 h (I, IV) or 12 h (II, III).
FAULTS = [
    Fault("leak-1", "I", at(3, 10), 20, 60, 180),
    Fault("ups-1", "II", at(5, 8), 45, 90, 600),
    Fault("cam-1", "II", at(7, 2), None, None, 240),  # offline 4 h, nobody answered
    Fault("env-1", "III", at(10, 20), 10, None, 780),  # humidity, 13 h
    Fault("ups-1", "II", at(12, 9), 25, 180, 120),
    Fault("door-1", "II", at(15, 0), 30, None, 1440),  # offline 24 h
    Fault("cam-1", "IV", at(20, 12), 5, None, 30),  # firmware change, closed by hand
    Fault("env-1", "III", at(30, 23), None, None, None),  # still open at the end of the month
]
OFFLINE = {"cam-1": 4 * HOUR, "door-1": 24 * HOUR}
SIGNED_DAYS = range(1, 26)  # inspections signed on days 1-25; 26-30 run but not signed


def expected_clock(level: str, fault: Fault, name: str, now: int) -> str:
    due_min = {"response": 30, "plan": 120, "fix": 240 if level in ("I", "IV") else 720}[name]
    done = {"response": fault.ack, "plan": fault.plan, "fix": fault.fixed}[name]
    if done is not None:
        return "met" if done <= due_min else "missed"
    return "missed" if now > fault.raised + due_min * MIN else "running"


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[MonthlyReport, Room]:
    tmp: Path = tmp_path_factory.mktemp("month")
    room = Room(tmp)
    clock = ManualClock(T0)
    room.info("sw-1", "switch", {"manufacturer": "MikroTik", "model": "CRS317-1G-16S+", "serial": "8ED5087EB201",
                                 "firmware": "6.44.2"}, T0)  # fmt: skip
    room.info("ups-1", "ups", {"manufacturer": "Huawei", "model": "UPS2000-G-3KRTS", "serial": "2102311QNT10"}, T0)
    room.info("ups-2", "ups", {"manufacturer": "APC", "model": "SMX750I", "serial": "AS1234567890"}, T0)
    room.info("env-1", "env_sensor", {"manufacturer": "Renke", "model": "RS-WS-N01-8"}, T0)
    room.info("leak-1", "leak_sensor", {"manufacturer": "Renke", "model": "RS-SJ-N01"}, T0)
    room.info("cam-1", "camera", {"manufacturer": "AXIS", "model": "P3245-V", "serial": "ACCC8E000001",
                                  "firmware": "10.12.114"}, T0)  # fmt: skip
    room.info("door-1", "access_controller", {"manufacturer": "Seeed", "model": "RFID UART"}, T0)
    room.bridge(T0)
    register = AssetRegister(room.central, room.book)
    register.sync_from_collector(T0)
    register.complete(AssetFile.model_validate({"assets": [
        {"device": "ups-1", "battery_install_date": "2022-03-01", "rack": "A01"},
        {"device": "ups-2", "battery_install_date": "2024-01-10", "rack": "A02"},
    ]}))  # fmt: skip
    for device in room.classes:
        room.availability(device, True, T0)
    room.telemetry("ups-1", T0, {"on_battery": False})
    room.telemetry("leak-1", T0, {"leak": False})
    room.telemetry("env-1", T0, {"humidity": 45.0, "temperature": 22.0})

    inspections = Inspections(room.central, load_checklists(), CentralState(room.central.db), BookAlarms(room.book))
    actions: list[tuple[int, int, Callable[[], object]]] = []  # (time, order, action)

    def later(ts: int, fn: Callable[[], object], order: int = 1) -> None:
        actions.append((ts, order, fn))

    entity: dict[str, tuple[str, object, object]] = {"leak-1": ("leak", True, False), "ups-1": ("on_battery", True, False),
              "env-1": ("humidity", 85.0, 50.0)}  # fmt: skip

    def ack(f: Fault) -> None:
        assert f.ack is not None
        room.book.acknowledge(room.alarm_raised_at(f.device, f.raised), "wang", "on my way", f.raised + f.ack * MIN)

    def plan(f: Fault) -> None:
        assert f.plan is not None
        ts = f.raised + f.plan * MIN
        room.book.comment(room.alarm_raised_at(f.device, f.raised), "wang", "replace part", ts, plan=True)

    def firmware(f: Fault) -> None:
        room.info("cam-1", "camera", {"manufacturer": "AXIS", "model": "P3245-V", "serial": "ACCC8E000001",
                                      "firmware": "10.12.130"}, f.raised)  # fmt: skip
        assert register.sync_from_collector(f.raised) == 7

    def close(f: Fault) -> None:
        assert f.fixed is not None
        ts = f.raised + f.fixed * MIN
        room.book.close(room.alarm_raised_at(f.device, f.raised), "li", "planned upgrade", ts, force=True)

    for f in FAULTS:
        if f.device in entity:
            key, bad, good = entity[f.device]
            later(f.raised, partial(room.telemetry, f.device, f.raised, {key: bad}), 0)
            if f.fixed is not None:
                fix_ts = f.raised + f.fixed * MIN
                later(fix_ts, partial(room.telemetry, f.device, fix_ts, {key: good}), 0)
        elif f.level == "IV":
            assert f.fixed is not None
            later(f.raised, partial(firmware, f), 0)
            later(f.raised + f.fixed * MIN, partial(close, f))
        else:
            later(f.raised, partial(room.availability, f.device, False, f.raised), 0)
            back = f.raised + OFFLINE[f.device]
            later(back, partial(room.availability, f.device, True, back), 0)
        if f.ack is not None:
            later(f.raised + f.ack * MIN, partial(ack, f))
        if f.plan is not None:
            later(f.raised + f.plan * MIN, partial(plan, f))

    def inspect(day: int) -> None:
        record_id = inspections.run(SITE, ROOM, at(day, 7), trigger="daily")
        if day in SIGNED_DAYS:
            for item in inspections.get(record_id)["items"]:
                if item["result"] is None:
                    inspections.complete(record_id, item["seq"], result="normal", who="zhao", now_ms=at(day, 9))
            inspections.sign(record_id, who="zhao", now_ms=at(day, 9, 30))

    for day in range(1, 31):
        later(at(day, 7), partial(inspect, day), 2)
    for ts, _, action in sorted(actions, key=lambda a: (a[0], a[1])):
        clock.set(ts)
        action()
        with room.central.transaction():
            room.book.tick(ts)
    clock.set(END)
    report = compute(room.central, load_checklists(), site=SITE, month=(2026, 11), now_ms=clock.now_ms(),
                     battery_years=4)  # fmt: skip
    return report, room


def test_availability_per_device_and_system(month: tuple[MonthlyReport, Room]) -> None:
    report, _ = month
    window = 30 * DAY
    by_device = {d["device"]: d for d in report.devices}
    assert set(by_device) == {"sw-1", "ups-1", "ups-2", "env-1", "leak-1", "cam-1", "door-1"}
    for device, d in by_device.items():
        assert d["availability"] == pytest.approx(1 - OFFLINE.get(device, 0) / window), device
    assert report.systems == pytest.approx({
        "network": 1.0, "power": 1.0, "environment": 1.0,
        "video": 1 - 4 / 720, "access": 1 - 24 / 720,
    })  # fmt: skip


def test_alarms_by_level_times_and_compliance(month: tuple[MonthlyReport, Room]) -> None:
    report, _ = month
    for level in ("I", "II", "III", "IV"):
        faults = [f for f in FAULTS if f.level == level]
        figures = report.levels[level]
        assert figures.alarms == len(faults), level
        acks = [f.ack * 60 for f in faults if f.ack is not None]
        fixes = [f.fixed * 60 for f in faults if f.fixed is not None]
        assert figures.response.mean_s == (pytest.approx(sum(acks) / len(acks)) if acks else None), level
        assert figures.response.worst_s == (max(acks) if acks else None), level
        assert figures.fix.mean_s == (pytest.approx(sum(fixes) / len(fixes)) if fixes else None), level
        assert figures.fix.worst_s == (max(fixes) if fixes else None), level
        for clock in ("response", "plan", "fix"):
            verdicts = [expected_clock(level, f, clock, END) for f in faults]
            decided = [v for v in verdicts if v != "running"]
            share = figures.share(clock)
            expected = decided.count("met") / len(decided) if decided else None
            assert share == (pytest.approx(expected) if expected is not None else None), (level, clock)
    assert report.total.alarms == len(FAULTS)
    # by hand: met = leak(20), hum(10), ups#2(25), door(30), fw(5); missed = ups#1(45), cam offline (none),
    # hum on the 30th (none, overdue at 23:30) -> 5 of 8. Plans: met leak(60), ups#1(90); ups#2(180) missed;
    # the others never planned and overdue, except the 30th's (due 01:00 on Dec 1: still running) -> 2 of 7.
    assert report.total.share("response") == pytest.approx(5 / 8)
    assert report.total.share("plan") == pytest.approx(2 / 7)


def test_inspections_abnormal_items_and_top_faults(month: tuple[MonthlyReport, Room]) -> None:
    report, _ = month
    assert report.inspections_due == 30
    assert report.inspections_completed == len(SIGNED_DAYS)
    # Only the 11th at 07:00 sees a fresh bad reading: humidity 85 % since 20:00 the day before.
    assert [(a["day"], a["item_id"], a["device"]) for a in report.abnormal_items] == [
        ("2026-11-11", "env_humidity", "env-1")
    ]
    assert report.top_faults[0]["device"] == "ups-1" and report.top_faults[0]["count"] == 2


def test_abnormal_item_links_the_open_alarm(month: tuple[MonthlyReport, Room]) -> None:
    _, room = month
    row = room.central.db.execute(
        "SELECT i.alarm_id FROM mnt_inspection_items i JOIN mnt_inspections r ON r.id = i.record_id "
        "WHERE r.day = '2026-11-11' AND i.result = 'abnormal'"
    ).fetchone()
    assert row[0] == room.alarm_raised_at("env-1", at(10, 20))
    assert not [a for a in room.book.query(limit=1000) if a["rule"] == "inspection_abnormal"]


def test_assets_changed_and_old_batteries(month: tuple[MonthlyReport, Room]) -> None:
    report, room = month
    assert [(c["device"], c["change"], c["old"], c["new"]) for c in report.assets_changed] == [
        ("cam-1", "firmware_changed", "10.12.114", "10.12.130")
    ]
    assert report.assets_changed[0]["alarm_id"] == room.alarm_raised_at("cam-1", at(20, 12))
    # 2022-03-01 is more than 4 years before 2026-11-30; 2024-01-10 is not.
    assert [b["device"] for b in report.old_batteries] == ["ups-1"]


def test_csv_figures_hold_the_same_values(month: tuple[MonthlyReport, Room]) -> None:
    report, _ = month
    rows = {(s, subj, fig): v for s, subj, fig, v in figures_rows(report)}
    assert rows[("availability", "door-1", "offline_s")] == 24 * 3600
    assert rows[("alarms", "II", "count")] == 4
    assert rows[("inspections", "all", "due")] == 30

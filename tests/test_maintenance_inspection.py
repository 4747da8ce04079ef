"""Inspection on a demo-like room: one UPS on battery, and a switch whose second power supply has
failed, with the switch's values taken from a real recording (MikroTik CRS317, LibreNMS snmpsim)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from lvgate.collector.maintenance.alarm_link import BookAlarms
from lvgate.collector.maintenance.checklists import load_checklists
from lvgate.collector.maintenance.inspection import InspectionError, Inspections
from lvgate.collector.maintenance.state import CentralState
from tests.maintenance_room import HOUR, MIN, ROOM, SITE, Room
from tests.shared_fixtures import fixture_path

NOW = int(dt.datetime(2026, 11, 16, 7, 0, tzinfo=dt.UTC).timestamp() * 1000)
GAUGE = "1.3.6.1.4.1.14988.1.1.3.100.1"  # MIKROTIK-MIB mtxrGaugeTable: .2 name, .3 value, .4 unit (6 = status)


def mikrotik_psu_states() -> dict[str, str]:
    """psu_status.<row> from the recording: unit column 6 marks a power supply; value 0 ok, 1 fail (MIB)."""
    rows: dict[str, dict[str, str]] = {}
    for line in fixture_path("snmp", "mikrotik_crs317-1g-16s.snmprec").read_text().splitlines():
        oid, _, value = line.split("|", 2)
        if oid.startswith(GAUGE + "."):
            column, index = oid[len(GAUGE) + 1 :].split(".", 1)
            rows.setdefault(index, {})[column] = value
    return {
        f"psu_status.{index}": {"0": "normal", "1": "critical"}[row["3"]]
        for index, row in rows.items()
        if row.get("4") == "6"
    }


@pytest.fixture
def room(tmp_path: Path) -> Room:
    room = Room(tmp_path)
    t = NOW - 2 * HOUR
    room.info("ups-1", "ups", {"manufacturer": "Huawei", "model": "UPS2000-G-3KRTS"}, t)
    room.info("env-1", "env_sensor", {"manufacturer": "Renke"}, t)
    room.info("sw-1", "switch", {"manufacturer": "MikroTik", "model": "CRS317-1G-16S+"}, t)
    room.bridge(t)
    for device in ("ups-1", "env-1", "sw-1"):
        room.availability(device, True, t)
    room.telemetry("env-1", NOW - 5 * MIN, {"temperature": 23.5, "humidity": 41.0})
    room.telemetry("ups-1", NOW - 3 * MIN, {"output_voltage": 219.8, "load": 34.0, "battery_charge": 97.0,
                                            "battery_runtime": 1860.0, "on_battery": True})  # fmt: skip
    room.latest("sw-1", NOW - 2 * MIN, mikrotik_psu_states())
    return room


def test_psu_states_read_off_the_recording() -> None:
    # By hand from the .snmprec: rows 7401 (psu1-state) = 0, 7402 (psu2-state) = 1, both unit 6.
    assert mikrotik_psu_states() == {"psu_status.7401": "normal", "psu_status.7402": "critical"}


def test_exactly_the_bad_items_are_abnormal_with_their_evidence(room: Room) -> None:
    inspections = Inspections(room.central, load_checklists(), CentralState(room.central.db), BookAlarms(room.book))
    record = inspections.get(inspections.run(SITE, ROOM, NOW))
    abnormal = [(i["device"], i["item_id"], i["evidence"]) for i in record["items"] if i["result"] == "abnormal"]
    assert abnormal == [
        ("sw-1", "switch_psu", [{"entity": "psu_status.7402", "value": "critical", "ts_ms": NOW - 2 * MIN}]),
        ("ups-1", "ups_on_battery", [{"entity": "on_battery", "value": True, "ts_ms": NOW - 3 * MIN}]),
    ]
    normal = {(i["device"], i["item_id"]) for i in record["items"] if i["result"] == "normal"}
    assert normal == {
        ("env-1", "env_online"), ("env-1", "env_temperature"), ("env-1", "env_humidity"),
        ("ups-1", "ups_online"), ("ups-1", "ups_output_voltage"), ("ups-1", "ups_load"),
        ("ups-1", "ups_battery_charge"), ("ups-1", "ups_battery_runtime"), ("sw-1", "switch_online"),
    }  # fmt: skip
    # Nothing reports fans, modules, VLANs, OSPF or a self-test here: not checked, never "normal".
    assert {i["item_id"] for i in record["items"] if i["result"] == "not_checked"} == {
        "switch_fans", "switch_modules", "switch_temperature", "switch_vlans", "switch_ospf", "ups_self_test",
    }  # fmt: skip
    manual = {i["item_id"] for i in record["items"] if i["manual"]}
    assert {"room_fire_extinguisher", "room_grounding", "room_dust_filters", "room_cleaning"} <= manual
    assert all(i["result"] is None for i in record["items"] if i["manual"])


def test_abnormal_items_link_or_open_alarms(room: Room) -> None:
    inspections = Inspections(room.central, load_checklists(), CentralState(room.central.db), BookAlarms(room.book))
    record = inspections.get(inspections.run(SITE, ROOM, NOW))
    by_item = {i["item_id"]: i for i in record["items"]}
    on_battery = room.book.get(by_item["ups_on_battery"]["alarm_id"])
    assert on_battery is not None and on_battery["rule"] == "ups_on_battery"  # the alarm the book had raised
    psu = room.book.get(by_item["switch_psu"]["alarm_id"])
    assert psu is not None and psu["rule"] == "inspection_abnormal" and psu["device"] == "sw-1"
    assert psu["level"] == "III" and psu["raised_ms"] == NOW


def test_sign_then_immutable_and_corrections_are_versions(room: Room) -> None:
    inspections = Inspections(room.central, load_checklists(), CentralState(room.central.db), BookAlarms(room.book))
    record_id = inspections.run(SITE, ROOM, NOW)
    record = inspections.get(record_id)
    with pytest.raises(InspectionError, match="complete the manual items first"):
        inspections.sign(record_id, who="Zhao Lei", now_ms=NOW + HOUR)
    for item in record["items"]:
        if item["result"] is None:
            inspections.complete(record_id, item["seq"], result="normal", who="Zhao Lei", now_ms=NOW + 30 * MIN,
                                 note="checked on site")  # fmt: skip
    inspections.sign(record_id, who="Zhao Lei", now_ms=NOW + HOUR, comment="PSU 2 to be replaced")
    signed = inspections.get(record_id)
    assert (signed["signed_by"], signed["signed_ms"], signed["comment"]) == ("Zhao Lei", NOW + HOUR,
                                                                             "PSU 2 to be replaced")  # fmt: skip
    with pytest.raises(InspectionError, match="signed"):
        inspections.complete(record_id, 1, result="abnormal", who="x", now_ms=NOW + 2 * HOUR)
    with pytest.raises(InspectionError, match="signed"):
        inspections.sign(record_id, who="x", now_ms=NOW + 2 * HOUR)
    # The database itself refuses, whoever writes.
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        room.central.db.execute("UPDATE mnt_inspection_items SET result = 'normal' WHERE record_id = ?", (record_id,))
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        room.central.db.execute("DELETE FROM mnt_inspections WHERE id = ?", (record_id,))
    correction = inspections.correct(record_id, now_ms=NOW + 3 * HOUR)
    seq = next(i["seq"] for i in signed["items"] if i["item_id"] == "room_cleaning")
    inspections.amend(correction, seq, result="abnormal", who="Zhao Lei", now_ms=NOW + 3 * HOUR,
                      note="cable boxes left behind rack A02")  # fmt: skip
    inspections.sign(correction, who="Zhao Lei", now_ms=NOW + 4 * HOUR)
    assert inspections.get(record_id) == signed | {"superseded_by": correction}
    new = inspections.get(correction)
    assert (new["version"], new["supersedes"]) == (2, record_id)
    assert [r["id"] for r in inspections.find(site=SITE, room=ROOM)] == [correction]

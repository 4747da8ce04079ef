"""Asset register exports (CSV, XLSX) and the printable PDFs, checked by opening them: openpyxl for the
workbook, poppler's pdftoppm (renders) and pdftotext (text) for the PDFs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from lvgate.collector.maintenance.alarm_link import BookAlarms
from lvgate.collector.maintenance.assets import (
    AssetFile,
    AssetRegister,
    export_csv,
    export_xlsx,
)
from lvgate.collector.maintenance.charts import alarms_chart, availability_chart
from lvgate.collector.maintenance.checklists import load_checklists
from lvgate.collector.maintenance.faults import FaultError, FaultRecords, Part
from lvgate.collector.maintenance.inspection import Inspections
from lvgate.collector.maintenance.pdf import fault_pdf, inspection_pdf, monthly_html, monthly_pdf
from lvgate.collector.maintenance.report import compute, to_csv
from lvgate.collector.maintenance.state import CentralState
from lvgate.drivers.onvif.media import parse_identity
from lvgate.drivers.onvif.safexml import parse
from tests.maintenance_room import HOUR, MIN, ROOM, SITE, Room
from tests.shared_fixtures import fixture_path

NOW = int(dt.datetime(2026, 11, 16, 7, 0, tzinfo=dt.UTC).timestamp() * 1000)


def onvif_identity() -> dict[str, Any]:
    data = fixture_path("onvif", "onvif-nvt_hikvision-ds-2df7276-ael", "GetDeviceInformation.xml").read_bytes()
    root = parse(data, device="cam-1", operation="GetDeviceInformation").root
    response = next(el for el in root.iter() if el.tag.endswith("GetDeviceInformationResponse"))
    return dict(parse_identity(response).as_dict())


def snmp_sys_descr(name: str) -> str:
    for line in fixture_path("snmp", name).read_text().splitlines():
        if line.startswith("1.3.6.1.2.1.1.1.0|"):
            return line.split("|", 2)[2]
    raise AssertionError("no sysDescr in the recording")


@pytest.fixture
def room(tmp_path: Path) -> Room:
    room = Room(tmp_path)
    t = NOW - 2 * HOUR
    room.info("cam-1", "camera", onvif_identity(), t, name="Camera, door B1")
    room.info("sw-1", "switch", {"description": snmp_sys_descr("mikrotik_crs317-1g-16s.snmprec"),
                                 "manufacturer": "MikroTik", "sys_name": "<private>"}, t)  # fmt: skip
    # Modbus Read Device Identification (0x2B/0x0E) object names, as a Modbus identity would carry them.
    room.info("ups-1", "ups", {"VendorName": "Huawei", "ProductCode": "UPS2000-G-3KRTS",
                               "MajorMinorRevision": "V100R001C01"}, t, name="UPS 1 (机房 B1)")  # fmt: skip
    room.bridge(t)
    for device in ("cam-1", "sw-1", "ups-1"):
        room.availability(device, True, t)
    room.telemetry("ups-1", NOW - 3 * MIN, {"on_battery": True, "output_voltage": 219.8})
    return room


def test_asset_exports_hold_every_device_with_identity(room: Room, tmp_path: Path) -> None:
    register = AssetRegister(room.central, room.book)
    assert register.sync_from_collector(NOW) == 3
    assert register.complete(AssetFile.model_validate({"assets": [
        {"device": "ups-1", "rack": "A01", "battery_install_date": "2022-03-01", "ip": "127.0.0.1"},
        {"device": "nvr-9", "rack": "A03"},
    ]})) == ["nvr-9"]  # fmt: skip
    expected = {  # by hand from the recordings and the payloads above
        "cam-1": ("camera", "HIKVISION", "DS-2DF7276-AEL", "DS-2DF7276-AEL20140613CCWR468714298B",
                  "V5.1.6 build 140401"),
        "sw-1": ("switch", "MikroTik", "RouterOS CRS317-1G-16S+", "", ""),
        "ups-1": ("ups", "Huawei", "UPS2000-G-3KRTS", "", "V100R001C01"),
    }  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(export_csv(register.rows()).decode("utf-8-sig"))))
    got = {r["device"]: (r["device_class"], r["manufacturer"], r["model"], r["serial"], r["firmware"]) for r in rows}
    assert got == expected
    assert {r["device"]: (r["site"], r["room"]) for r in rows} == {d: (SITE, ROOM) for d in expected}
    ups = next(r for r in rows if r["device"] == "ups-1")
    assert (ups["rack"], ups["battery_install_date"], ups["ip"]) == ("A01", "2022-03-01", "127.0.0.1")

    path = tmp_path / "assets.xlsx"
    path.write_bytes(export_xlsx(register.rows()))
    sheet = load_workbook(path, read_only=True).active
    assert sheet is not None
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = table[0]
    xrows = {r[header.index("device")]: r for r in table[1:]}
    assert {d: (r[header.index("device_class")], r[header.index("manufacturer")], r[header.index("model")],
                r[header.index("serial")] or "", r[header.index("firmware")] or "")
            for d, r in xrows.items()} == expected  # fmt: skip
    assert xrows["ups-1"][header.index("name")] == "UPS 1 (机房 B1)"


def test_serial_change_is_a_replacement_at_level_iv(room: Room) -> None:
    register = AssetRegister(room.central, room.book)
    register.sync_from_collector(NOW)
    identity = onvif_identity() | {"serial": "DS-2DF7276-AEL20990101CCWR000000001"}
    room.info("cam-1", "camera", identity, NOW + HOUR)
    register.sync_from_collector(NOW + HOUR)
    [change] = register.history(NOW, NOW + 2 * HOUR)
    assert (change["change"], change["new"]) == ("replaced", "DS-2DF7276-AEL20990101CCWR000000001")
    alarm = room.book.get(change["alarm_id"])
    assert alarm is not None and (alarm["level"], alarm["rule"], alarm["raised_ms"]) == ("IV", "asset_replaced",
                                                                                         NOW + HOUR)  # fmt: skip


def _pdf_text(pdf: bytes, tmp: Path, name: str) -> str:
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils (pdftotext, pdftoppm) is not installed")
    path = tmp / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(path), str(tmp / name)], check=True, timeout=60)
    pngs = sorted(tmp.glob(f"{name}*.png"))
    assert pngs and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 1000 for p in pngs)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, timeout=60, capture_output=True)
    return " ".join(out.stdout.decode("utf-8").split())


def test_inspection_record_pdf(room: Room, tmp_path: Path) -> None:
    inspections = Inspections(room.central, load_checklists(), CentralState(room.central.db), BookAlarms(room.book))
    record_id = inspections.run(SITE, ROOM, NOW)
    for item in inspections.get(record_id)["items"]:
        if item["result"] is None:
            inspections.complete(record_id, item["seq"], result="normal", who="Zhao Lei", now_ms=NOW + MIN)
    inspections.sign(record_id, who="Zhao Lei", now_ms=NOW + HOUR, comment="UPS on battery: mains checked")
    text = _pdf_text(inspection_pdf(inspections.get(record_id), project="HQ low-voltage O&M"), tmp_path, "insp")
    for expected in ("Equipment inspection record", "Project: HQ low-voltage O&M", "Room: B1", "Date: 2026-11-16",
                     "Not running on battery", "ABNORMAL", "on_battery = True (2026-11-16 06:57)",
                     "output_voltage = 219.8", "Fire extinguishers in place", "Zhao Lei", "2026-11-16 08:00",
                     "UPS on battery: mains checked"):  # fmt: skip
        assert expected in text, expected


def test_fault_record_pdf_and_parts_rule(room: Room, tmp_path: Path) -> None:
    faults = FaultRecords(room.book)
    alarm_id = room.alarm_raised_at("ups-1", NOW - 3 * MIN)
    room.book.acknowledge(alarm_id, "Wang Fang", "", NOW + 10 * MIN)
    with pytest.raises(ValueError, match="rated lower"):
        Part(name="battery block", old_model="12V 9Ah", new_model="12V 7Ah", old_rating="9 Ah", new_rating="7 Ah")
    faults.update(alarm_id, NOW + HOUR, cause="mains breaker tripped", method="reset breaker, replaced battery",
                  prevention="breaker on the monthly list",
                  parts=[Part(name="battery block", old_model="C&D 12V9", new_model="C&D 12V12", old_rating="9 Ah",
                              new_rating="12 Ah")])  # fmt: skip
    with pytest.raises(FaultError, match="not fixed"):
        faults.sign(alarm_id, who="Wang Fang", now_ms=NOW + HOUR)
    room.telemetry("ups-1", NOW + 5 * HOUR, {"on_battery": False})
    faults.sign(alarm_id, who="Wang Fang", now_ms=NOW + 6 * HOUR)
    record = faults.get(alarm_id, NOW + 6 * HOUR)
    # raised 06:57; answered 07:10 (13 min < 30: met); no plan (overdue: missed); fixed 12:00 (5 h 3 min < 12 h: met)
    assert {k: v["verdict"] for k, v in record["clocks"].items()} == {"response": "met", "plan": "missed",
                                                                      "fix": "met"}  # fmt: skip
    text = _pdf_text(fault_pdf(record, project="HQ low-voltage O&M"), tmp_path, "fault")
    for expected in ("Equipment failure record", "UPS on battery", "Wang Fang", "mains breaker tripped",
                     "C&D 12V9 (9 Ah) -> C&D 12V12 (12 Ah)", "2026-11-16 06:57", "2026-11-16 12:00"):  # fmt: skip
        assert expected in text, expected


def test_monthly_report_pdf_html_csv(room: Room, tmp_path: Path) -> None:
    end = int(dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp() * 1000)
    report = compute(room.central, load_checklists(), site=SITE, month=(2026, 11), now_ms=end)
    charts = [availability_chart(report), alarms_chart(report)]
    assert all(c[:8] == b"\x89PNG\r\n\x1a\n" for c in charts)
    text = _pdf_text(monthly_pdf(report, charts, project="HQ"), tmp_path, "month")
    for expected in ("Monthly maintenance report 2026-11", "Availability per system", "UPS on battery",
                     "Inspections", "cam-1"):  # fmt: skip
        assert expected in text, expected
    html = monthly_html(report, charts, project="HQ")
    assert "data:image/png;base64," in html and "UPS on battery" in html
    assert "alarms,II,count,1" in to_csv(report).decode()

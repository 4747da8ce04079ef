"""The maintenance routes mounted on a FastAPI app: run, complete, sign (then refused), PDF, assets, report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from lvgate.collector.maintenance.api import build_router
from lvgate.collector.maintenance.clock import ManualClock
from lvgate.collector.maintenance.service import Maintenance
from tests.maintenance_room import HOUR, MIN, Room

T = int(dt.datetime(2026, 11, 16, 7, tzinfo=dt.UTC).timestamp() * 1000)


def test_routes(tmp_path: Path) -> None:
    room = Room(tmp_path)
    room.info("ups-1", "ups", {"manufacturer": "Huawei", "model": "UPS2000-G-3KRTS"}, T - HOUR)
    room.bridge(T - HOUR)
    room.availability("ups-1", True, T - HOUR)
    room.telemetry("ups-1", T - MIN, {"on_battery": True})
    clock = ManualClock(T)
    app = FastAPI()
    app.include_router(build_router(Maintenance.open(room.central, room.book), now=clock.now_ms))
    client = TestClient(app)

    record = client.post("/api/maintenance/inspections", json={"site": "hq", "room": "B1"}).json()
    assert [i["item_id"] for i in record["items"] if i["result"] == "abnormal"] == ["ups_on_battery"]
    clock.advance(HOUR)
    for item in record["items"]:
        if item["result"] is None:
            answer = client.post(f"/api/maintenance/inspections/{record['id']}/items/{item['seq']}",
                                 json={"by": "Zhao", "result": "normal"})  # fmt: skip
            assert answer.status_code == 200, answer.text
    signed = client.post(f"/api/maintenance/inspections/{record['id']}/sign", json={"by": "Zhao"}).json()
    assert (signed["state"], signed["signed_ms"]) == ("signed", T + HOUR)
    again = client.post(f"/api/maintenance/inspections/{record['id']}/sign", json={"by": "Zhao"})
    assert again.status_code == 409 and "signed" in again.json()["detail"]
    pdf = client.get(f"/api/maintenance/inspections/{record['id']}/pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")

    alarm_id = room.alarm_raised_at("ups-1", T - MIN)
    bad = client.put(f"/api/maintenance/faults/{alarm_id}", json={"parts": [
        {"name": "battery", "old_model": "A", "new_model": "B", "old_rating": "9 Ah", "new_rating": "7 Ah"}]})  # fmt: skip
    assert bad.status_code == 422 and "rated lower" in bad.text
    assets = client.get("/api/maintenance/assets").json()
    assert [(a["device"], a["model"]) for a in assets] == [("ups-1", "UPS2000-G-3KRTS")]
    report = client.get("/api/maintenance/reports/monthly", params={"site": "hq", "month": "2026-11"})
    assert report.status_code == 200 and "Monthly maintenance report 2026-11" in report.text

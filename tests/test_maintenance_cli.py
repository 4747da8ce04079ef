"""The maintenance commands end to end on a collector database, in a child process like a technician runs them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

from lvgate.collector.maintenance.clock import first_working_day
from lvgate.collector.maintenance.scheduler import due_actions
from tests.maintenance_room import HOUR, Room


def lvgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lvgate.cli", *args], capture_output=True, text=True, timeout=120)


def test_report_and_assets_commands(tmp_path: Path) -> None:
    room = Room(tmp_path)
    t = int(dt.datetime(2026, 11, 3, 6, tzinfo=dt.UTC).timestamp() * 1000)
    room.info("ups-1", "ups", {"manufacturer": "Huawei", "model": "UPS2000-G-3KRTS", "serial": "S1"}, t)
    room.bridge(t)
    room.availability("ups-1", True, t)
    room.telemetry("ups-1", t + HOUR, {"on_battery": True})
    database = str(tmp_path / "central.sqlite")
    room.central.close()
    (tmp_path / "assets.yaml").write_text("assets:\n  - {device: ups-1, rack: A01, battery_install_date: 2020-05-01}\n")

    done = lvgate("report", "monthly", "--database", database, "--site", "hq", "--month", "2026-11",
                  "--out", str(tmp_path / "out"), "--assets-yaml", str(tmp_path / "assets.yaml"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "report-hq-2026-11.csv", "report-hq-2026-11.html", "report-hq-2026-11.pdf"]  # fmt: skip
    figures = list(csv.reader(io.StringIO((tmp_path / "out" / "report-hq-2026-11.csv").read_text())))
    assert ["alarms", "II", "count", "1"] in figures
    assert ["assets", "all", "batteries_older_than_4y", "1"] in figures

    done = lvgate("assets", "export", "--database", database, "--format", "xlsx", "-o", str(tmp_path / "a.xlsx"))
    assert done.returncode == 0 and "1 devices" in done.stdout, done.stderr
    done = lvgate("report", "monthly", "--database", database, "--site", "hq", "--month", "2026-13")
    assert done.returncode == 2 and "expected YYYY-MM" in done.stderr
    done = lvgate("report", "inspection", "--database", database, "--site", "hq", "--room", "B1",
                  "--date", "2026-11-03")  # fmt: skip
    assert done.returncode == 1 and "no inspection record" in done.stderr


def test_schedule_daily_inspection_and_first_working_day() -> None:
    # 1 Nov 2026 is a Sunday, 2 Nov the Monday: the October report is due then, at 07:00.
    assert first_working_day(2026, 11) == dt.date(2026, 11, 2)
    utc = dt.UTC
    got = due_actions(dt.datetime(2026, 11, 1, 6, tzinfo=utc), dt.datetime(2026, 11, 2, 8, tzinfo=utc), dt.time(7))
    assert got == [("inspection", dt.date(2026, 11, 1)), ("inspection", dt.date(2026, 11, 2)),
                   ("monthly", dt.date(2026, 10, 1))]  # fmt: skip
    assert due_actions(dt.datetime(2026, 11, 2, 7, tzinfo=utc), dt.datetime(2026, 11, 2, 9, tzinfo=utc),
                       dt.time(7)) == []  # fmt: skip

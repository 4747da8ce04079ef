"""The monthly report's figures, computed from the shared database. Pure reads; no clock of its own.

Definitions (the test computes the same from the injected schedule):
- window: the month, cut at ``now_ms`` when the month is not over.
- device availability: 1 - time offline / window; offline spans from the gateway's
  ``device_offline``/``device_online`` events (the state at the start is the last event before it;
  online when there is none). System availability: the mean over its devices.
- alarms: those raised in the window. Response time: acknowledged - raised; fix time: cleared (or
  closed) - raised. A contract clock is met when done by its due time; the share met counts decided
  clocks only (met, or missed: late or overdue), clocks still running are left out.
- inspections due: one per room and day of the window; completed: the room's current (latest
  version) record of that day is signed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lvgate.collector.alarms.levels import LEVELS, clocks
from lvgate.collector.central import CentralDb
from lvgate.collector.maintenance.assets import AssetRegister
from lvgate.collector.maintenance.checklists import Checklists
from lvgate.collector.maintenance.clock import month_bounds_ms
from lvgate.collector.maintenance.faults import clock_verdict
from lvgate.collector.maintenance.inspection import find_records
from lvgate.collector.maintenance.store import ensure_schema


@dataclass
class TimeStats:
    count: int = 0
    mean_s: float | None = None
    worst_s: float | None = None

    @classmethod
    def of(cls, durations_ms: list[int]) -> TimeStats:
        if not durations_ms:
            return cls()
        return cls(len(durations_ms), sum(durations_ms) / len(durations_ms) / 1000, max(durations_ms) / 1000)


@dataclass
class LevelFigures:
    level: str
    alarms: int = 0
    response: TimeStats = field(default_factory=TimeStats)
    fix: TimeStats = field(default_factory=TimeStats)
    met: dict[str, tuple[int, int]] = field(default_factory=dict)  # clock -> (met, decided)

    def share(self, clock: str) -> float | None:
        met, decided = self.met.get(clock, (0, 0))
        return met / decided if decided else None


@dataclass
class MonthlyReport:
    site: str
    room: str | None
    month: str
    start_ms: int
    end_ms: int
    generated_ms: int
    devices: list[dict[str, Any]]  # gateway, device, name, room, device_class, system, availability, offline_s
    systems: dict[str, float]
    levels: dict[str, LevelFigures]
    total: LevelFigures
    inspections_due: int
    inspections_completed: int
    abnormal_items: list[dict[str, Any]]
    top_faults: list[dict[str, Any]]
    assets_changed: list[dict[str, Any]]
    old_batteries: list[dict[str, Any]]
    battery_years: int


def _offline_ms(events: list[tuple[int, str]], before: str | None, start: int, end: int) -> int:
    offline_since = start if before == "device_offline" else None
    total = 0
    for ts, event in events:
        if event == "device_offline" and offline_since is None:
            offline_since = ts
        elif event == "device_online" and offline_since is not None:
            total += ts - offline_since
            offline_since = None
    if offline_since is not None:
        total += end - offline_since
    return total


def compute(
    central: CentralDb, checklists: Checklists, *, site: str, month: tuple[int, int], now_ms: int,
    room: str | None = None, tz: dt.tzinfo = dt.UTC, battery_years: int = 4, top: int = 5,
) -> MonthlyReport:  # fmt: skip
    ensure_schema(central.db)
    db = central.db
    start, month_end = month_bounds_ms(*month, tz)
    end = min(month_end, max(now_ms, start))
    where, args = "site = ?" + (" AND room = ?" if room else ""), (site, room) if room else (site,)

    # --- availability ----------------------------------------------------------------------
    devices = []
    for gateway, device, name, dev_room, device_class in db.execute(
        f"SELECT gateway, device, name, room, device_class FROM devices WHERE {where} ORDER BY room, device", args
    ).fetchall():
        before = db.execute(
            "SELECT event FROM events WHERE gateway = ? AND device = ? AND ts_ms < ? AND event IN "
            "('device_online', 'device_offline') ORDER BY ts_ms DESC LIMIT 1",
            (gateway, device, start),
        ).fetchone()
        events = db.execute(
            "SELECT ts_ms, event FROM events WHERE gateway = ? AND device = ? AND ts_ms >= ? AND ts_ms < ? AND event "
            "IN ('device_online', 'device_offline') ORDER BY ts_ms",
            (gateway, device, start, end),
        ).fetchall()
        offline = _offline_ms(events, before[0] if before else None, start, end)
        devices.append({
            "gateway": gateway, "device": device, "name": name, "room": dev_room, "device_class": device_class,
            "system": checklists.system_of(device_class), "offline_s": offline / 1000,
            "availability": 1 - offline / (end - start) if end > start else 1.0,
        })  # fmt: skip
    systems: dict[str, float] = {}
    for system in dict.fromkeys(d["system"] for d in devices):
        values = [d["availability"] for d in devices if d["system"] == system]
        systems[system] = sum(values) / len(values)

    # --- alarms and the contract's clocks ----------------------------------------------------
    cols = ("id", "gateway", "device", "rule", "level", "message", "raised_ms", "acknowledged_ms", "planned_ms",
            "cleared_ms", "closed_ms")  # fmt: skip
    alarms = [
        dict(zip(cols, r, strict=True))
        for r in db.execute(
            f"SELECT {', '.join(cols)} FROM alarms WHERE {where} AND raised_ms >= ? AND raised_ms < ? ORDER BY raised_ms",
            (*args, start, end),
        ).fetchall()
    ]
    levels: dict[str, LevelFigures] = {lv: LevelFigures(lv) for lv in LEVELS}

    def figures(rows: list[dict[str, Any]], into: LevelFigures) -> None:
        into.alarms = len(rows)
        into.response = TimeStats.of([a["acknowledged_ms"] - a["raised_ms"] for a in rows if a["acknowledged_ms"]])
        fixed = [(a["cleared_ms"] if a["cleared_ms"] is not None else a["closed_ms"]) for a in rows]
        into.fix = TimeStats.of([f - a["raised_ms"] for a, f in zip(rows, fixed, strict=True) if f is not None])
        tally: dict[str, list[int]] = {"response": [0, 0], "plan": [0, 0], "fix": [0, 0]}
        for a, f in zip(rows, fixed, strict=True):
            for c in clocks(a["level"], a["raised_ms"], a["acknowledged_ms"], a["planned_ms"], f):
                verdict = clock_verdict(c.status(now_ms))
                if verdict != "running":
                    tally[c.name][1] += 1
                    tally[c.name][0] += verdict == "met"
        into.met = {k: (v[0], v[1]) for k, v in tally.items()}

    for lv in LEVELS:
        figures([a for a in alarms if a["level"] == lv], levels[lv])
    total = LevelFigures("all")
    figures(alarms, total)
    counts = Counter((a["device"], a["rule"], a["message"]) for a in alarms)
    top_faults = [{"device": d, "rule": r, "message": m, "count": n} for (d, r, m), n in counts.most_common(top)]

    # --- inspections ----------------------------------------------------------------------------
    first = dt.datetime.fromtimestamp(start / 1000, tz).date()
    days = [first + dt.timedelta(days=i) for i in range(31)]
    days = [d for d in days if d.month == first.month and _day_start(d, tz) < end]
    rooms = [room] if room else sorted({d["room"] for d in devices if d["room"]})
    rooms = [r for r in rooms if any(d["room"] == r and d["device_class"] in checklists.by_class for d in devices)]
    records = find_records(db, site=site, room=room, start_day=first.isoformat(),
                           end_day=(first + dt.timedelta(days=31)).isoformat())  # fmt: skip
    records = [r for r in records if dt.date.fromisoformat(r["day"]) in days]
    signed = {(r["room"], r["day"]) for r in records if r["signed_ms"] is not None}
    abnormal = []
    for record in records:
        for item in db.execute(
            "SELECT item_id, title, device, evidence, ts_ms FROM mnt_inspection_items WHERE record_id = ? "
            "AND result = 'abnormal' ORDER BY seq",
            (record["id"],),
        ):
            abnormal.append({"day": record["day"], "room": record["room"], "item_id": item[0], "title": item[1],
                             "device": item[2], "evidence": item[3], "ts_ms": item[4]})  # fmt: skip

    # --- assets -----------------------------------------------------------------------------------
    register = AssetRegister(central, aliases={})
    changed = [h for h in register.history(start, month_end) if _in_scope(db, h, site, room)]
    last_day = dt.datetime.fromtimestamp((month_end - 1) / 1000, tz).date()
    limit = last_day.replace(year=last_day.year - battery_years)
    old = [
        {"device": a["device"], "name": a["name"], "battery_install_date": a["battery_install_date"]}
        for a in register.rows(site, room)
        if a["battery_install_date"] and dt.date.fromisoformat(a["battery_install_date"]) <= limit
    ]
    return MonthlyReport(
        site=site, room=room, month=f"{month[0]:04d}-{month[1]:02d}", start_ms=start, end_ms=end, generated_ms=now_ms,
        devices=devices, systems=systems, levels=levels, total=total,
        inspections_due=len(days) * len(rooms), inspections_completed=sum((r, d.isoformat()) in signed
                                                                          for r in rooms for d in days),
        abnormal_items=abnormal, top_faults=top_faults, assets_changed=changed, old_batteries=old,
        battery_years=battery_years,
    )  # fmt: skip


def _day_start(day: dt.date, tz: dt.tzinfo) -> int:
    return int(dt.datetime.combine(day, dt.time(0), tz).timestamp() * 1000)


def _in_scope(db: Any, change: dict[str, Any], site: str, room: str | None) -> bool:
    row = db.execute("SELECT site, room FROM mnt_assets WHERE gateway = ? AND device = ?",
                     (change["gateway"], change["device"])).fetchone()  # fmt: skip
    return row is not None and row[0] == site and (room is None or row[1] == room)


def figures_rows(report: MonthlyReport) -> list[tuple[str, str, str, object]]:
    """(section, subject, figure, value): the CSV of the report."""
    rows: list[tuple[str, str, str, object]] = []
    for system, value in report.systems.items():
        rows.append(("availability", system, "availability", round(value, 6)))
    for d in report.devices:
        rows.append(("availability", d["device"], "availability", round(d["availability"], 6)))
        rows.append(("availability", d["device"], "offline_s", round(d["offline_s"], 3)))
    for lv in [*report.levels.values(), report.total]:
        rows.append(("alarms", lv.level, "count", lv.alarms))
        for name, stats in (("response", lv.response), ("fix", lv.fix)):
            rows.append(
                ("alarms", lv.level, f"{name}_mean_s", None if stats.mean_s is None else round(stats.mean_s, 3))
            )
            rows.append(("alarms", lv.level, f"{name}_worst_s", stats.worst_s))
        for clock in ("response", "plan", "fix"):
            share = lv.share(clock)
            rows.append(("alarms", lv.level, f"{clock}_met_share", None if share is None else round(share, 6)))
    rows.append(("inspections", "all", "due", report.inspections_due))
    rows.append(("inspections", "all", "completed", report.inspections_completed))
    rows.append(("inspections", "all", "abnormal_items", len(report.abnormal_items)))
    for f in report.top_faults:
        rows.append(("top_faults", f"{f['device']}/{f['rule']}", "count", f["count"]))
    rows.append(("assets", "all", "changed", len(report.assets_changed)))
    rows.append(("assets", "all", f"batteries_older_than_{report.battery_years}y", len(report.old_batteries)))
    return rows


def to_csv(report: MonthlyReport) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("section", "subject", "figure", "value"))
    writer.writerows(("" if v is None else v for v in row) for row in figures_rows(report))
    return out.getvalue().encode("utf-8")

"""The daily inspection per room and the monthly report on the first working day, on a clock.

Mount in the collector's run(): ``tasks.append(asyncio.create_task(run_schedule(maint, SystemClock(),
out_dir=state_dir / "reports")))``. Tests drive :func:`due_actions` with a hand-moved clock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

from lvgate.collector.maintenance.clock import Clock, first_working_day
from lvgate.collector.maintenance.inspection import InspectionError
from lvgate.collector.maintenance.service import Maintenance

log = logging.getLogger(__name__)


def due_actions(last: dt.datetime, now: dt.datetime, at: dt.time) -> list[tuple[str, dt.date]]:
    """What fell due in (last, now]: ('inspection', day) at ``at`` each day; ('monthly', first day of the
    previous month) at ``at`` on the first working day of a month."""
    out: list[tuple[str, dt.date]] = []
    day = last.date()
    while day <= now.date():
        moment = dt.datetime.combine(day, at, now.tzinfo)
        if last < moment <= now:
            out.append(("inspection", day))
            if day == first_working_day(day.year, day.month):
                previous = (day.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
                out.append(("monthly", previous))
        day += dt.timedelta(days=1)
    return out


def rooms(maint: Maintenance) -> list[tuple[str, str]]:
    rows = maint.central.db.execute(
        "SELECT DISTINCT site, room FROM devices WHERE site IS NOT NULL AND room IS NOT NULL ORDER BY site, room"
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def perform(maint: Maintenance, action: str, day: dt.date, now_ms: int, out_dir: Path) -> None:
    for site, room in rooms(maint):
        if action == "inspection":
            try:
                maint.inspections.run(site, room, now_ms, trigger="daily")
            except InspectionError as exc:
                log.info("daily inspection of %s/%s skipped: %s", site, room, exc)
    if action == "monthly":
        for site in sorted({s for s, _ in rooms(maint)}):
            _, files = maint.monthly(site, (day.year, day.month), now_ms)
            out_dir.mkdir(parents=True, exist_ok=True)
            for ext, data in files.items():
                (out_dir / f"report-{site}-{day:%Y-%m}.{ext}").write_bytes(data)


async def run_schedule(maint: Maintenance, clock: Clock, *, out_dir: Path, at: dt.time = dt.time(7, 0),
                       period_s: float = 30.0) -> None:  # fmt: skip
    last = dt.datetime.fromtimestamp(clock.now_ms() / 1000, maint.tz)
    while True:
        await asyncio.sleep(period_s)
        now_ms = clock.now_ms()
        now = dt.datetime.fromtimestamp(now_ms / 1000, maint.tz)
        for action, day in due_actions(last, now, at):
            try:
                # On the loop thread: the database connection belongs to it (CentralDb).
                perform(maint, action, day, now_ms, out_dir)
            except Exception:  # one failed run must not stop tomorrow's
                log.exception("scheduled %s for %s failed", action, day)
        last = now

"""Time for the maintenance workflows: the wall clock in service, a hand-moved clock in tests."""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A time-travel clock: it moves only when told to."""

    def __init__(self, start_ms: int) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def set(self, ts_ms: int) -> None:
        self._now = ts_ms

    def advance(self, ms: int) -> int:
        self._now += ms
        return self._now


def ms_of(moment: dt.datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment} has no time zone")
    return int(moment.timestamp() * 1000)


def day_bounds_ms(day: dt.date, tz: dt.tzinfo) -> tuple[int, int]:
    start = dt.datetime.combine(day, dt.time(0), tz)
    return ms_of(start), ms_of(start + dt.timedelta(days=1))


def month_bounds_ms(year: int, month: int, tz: dt.tzinfo) -> tuple[int, int]:
    start = dt.datetime(year, month, 1, tzinfo=tz)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return ms_of(start), ms_of(end)


def parse_month(text: str) -> tuple[int, int]:
    """'2026-11' -> (2026, 11), with a clear error."""
    try:
        year, month = (int(part) for part in text.split("-"))
        dt.date(year, month, 1)
    except ValueError as exc:
        raise ValueError(f"month '{text}': expected YYYY-MM") from exc
    return year, month


def first_working_day(year: int, month: int, holidays: frozenset[dt.date] = frozenset()) -> dt.date:
    """The report is due on the first working day of the month (Monday-Friday, not a holiday)."""
    day = dt.date(year, month, 1)
    while day.weekday() >= 5 or day in holidays:
        day += dt.timedelta(days=1)
    return day

"""Fault levels I-IV of the maintenance contract and the clocks each one starts.

Every level must be answered within 30 minutes and have a repair plan within 2 hours; the fix
is due 4 hours after the raise for levels I and IV, 12 hours for II and III (DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["I", "II", "III", "IV"]
LEVELS: tuple[Level, ...] = ("I", "II", "III", "IV")

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
RESPONSE_MS = 30 * MINUTE_MS
PLAN_MS = 2 * HOUR_MS
FIX_MS: dict[Level, int] = {"I": 4 * HOUR_MS, "II": 12 * HOUR_MS, "III": 12 * HOUR_MS, "IV": 4 * HOUR_MS}
MEANING: dict[Level, str] = {
    "I": "business stopped or data lost",
    "II": "component failed, service degraded but running",
    "III": "errors or warnings, no impact on performance",
    "IV": "consultation, configuration, planned work",
}


@dataclass(frozen=True, slots=True)
class Clock:
    """One contract clock of one alarm: when it is due and when (if) it was met."""

    name: str
    due_ms: int
    met_ms: int | None

    def status(self, now_ms: int) -> str:
        if self.met_ms is not None:
            return "met" if self.met_ms <= self.due_ms else "met_late"
        return "overdue" if now_ms > self.due_ms else "running"

    def left_ms(self, now_ms: int) -> int | None:
        """Time left until due (negative when overdue); None once met."""
        return None if self.met_ms is not None else self.due_ms - now_ms

    def as_dict(self, now_ms: int) -> dict[str, object]:
        return {
            "due_ms": self.due_ms,
            "met_ms": self.met_ms,
            "status": self.status(now_ms),
            "left_ms": self.left_ms(now_ms),
        }


def clocks(
    level: Level, raised_ms: int, acknowledged_ms: int | None, planned_ms: int | None, fixed_ms: int | None
) -> tuple[Clock, Clock, Clock]:
    """Response (met by acknowledging), plan (met by recording a plan), fix (met when cleared)."""
    return (
        Clock("response", raised_ms + RESPONSE_MS, acknowledged_ms),
        Clock("plan", raised_ms + PLAN_MS, planned_ms),
        Clock("fix", raised_ms + FIX_MS[level], fixed_ms),
    )

"""Fault records: the contract's "equipment failure record", one per alarm of level I-III (IV on request).

When, where, which device, what, the level, who responded and when come from the alarm book; the
technician adds the cause, the method, the prevention and the replaced parts, then signs. Each of
the contract's clocks (response 30 min, plan 2 h, fix 4/12 h) is shown met or missed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lvgate.collector.alarms.book import AlarmBook
from lvgate.collector.alarms.levels import clocks
from lvgate.collector.maintenance.store import ensure_schema

RECORDED_LEVELS = ("I", "II", "III")
_RATING = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z%/]+)\s*$")


class FaultError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


def parse_rating(text: str) -> tuple[float, str]:
    """'3000 VA' -> (3000.0, 'VA'); '12V' -> (12.0, 'V')."""
    match = _RATING.match(text)
    if match is None:
        raise ValueError(f"rating '{text}': expected a number and a unit, e.g. '3000 VA'")
    return float(match.group(1)), match.group(2)


class Part(BaseModel):
    """A replaced part: the new one must not be rated lower than the old one (same unit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    old_model: str = Field(min_length=1, max_length=200)
    new_model: str = Field(min_length=1, max_length=200)
    old_rating: str = Field(description="e.g. '9 Ah', '550 W', '1 Gbit/s'")
    new_rating: str

    @model_validator(mode="after")
    def _not_lower(self) -> Part:
        old_value, old_unit = parse_rating(self.old_rating)
        new_value, new_unit = parse_rating(self.new_rating)
        if old_unit != new_unit:
            raise ValueError(f"ratings in different units: '{self.old_rating}' and '{self.new_rating}'")
        if new_value < old_value:
            raise ValueError(
                f"the new part ({self.new_model}, {self.new_rating}) is rated lower than the old one "
                f"({self.old_model}, {self.old_rating})"
            )
        return self


def clock_verdict(status: str) -> str:
    """levels.Clock.status -> met | missed | running."""
    return {"met": "met", "met_late": "missed", "overdue": "missed"}.get(status, "running")


class FaultRecords:
    def __init__(self, book: AlarmBook) -> None:
        self.book = book
        ensure_schema(book.db)

    def _fields(self, alarm_id: str) -> dict[str, Any] | None:
        row = self.book.db.execute(
            "SELECT cause, method, prevention, parts, signed_by, signed_ms, comment, requested FROM mnt_fault_records "
            "WHERE alarm_id = ?",
            (alarm_id,),
        ).fetchone()
        if row is None:
            return None
        keys = ("cause", "method", "prevention", "parts", "signed_by", "signed_ms", "comment", "requested")
        out = dict(zip(keys, row, strict=True))
        out["parts"] = json.loads(out["parts"])
        out["requested"] = bool(out["requested"])
        return out

    def get(self, alarm_id: str, now_ms: int) -> dict[str, Any]:
        alarm = self.book.get(alarm_id)
        if alarm is None:
            raise FaultError(404, f"no alarm {alarm_id}")
        fields = self._fields(alarm_id)
        if alarm["level"] not in RECORDED_LEVELS and fields is None:
            raise FaultError(404, f"alarm {alarm_id} is level {alarm['level']}: request a fault record first")
        return self._compose(alarm, fields, now_ms)

    def _compose(self, alarm: dict[str, Any], fields: dict[str, Any] | None, now_ms: int) -> dict[str, Any]:
        fixed = alarm["cleared_ms"] if alarm["cleared_ms"] is not None else alarm["closed_ms"]
        response, plan, fix = clocks(alarm["level"], alarm["raised_ms"], alarm["acknowledged_ms"],
                                     alarm["planned_ms"], fixed)  # fmt: skip
        empty: dict[str, Any] = {"cause": None, "method": None, "prevention": None, "parts": [], "signed_by": None,
                 "signed_ms": None, "comment": None, "requested": False}  # fmt: skip
        record: dict[str, Any] = {
            "alarm_id": alarm["id"], "site": alarm["site"], "room": alarm["room"], "gateway": alarm["gateway"],
            "device": alarm["device"], "device_class": alarm["device_class"], "level": alarm["level"],
            "description": alarm["message"], "value": alarm["value"], "rule": alarm["rule"],
            "raised_ms": alarm["raised_ms"], "responder": alarm["acknowledged_by"],
            "responded_ms": alarm["acknowledged_ms"], "planned_ms": alarm["planned_ms"], "fixed_ms": fixed,
            "closed_by": alarm["closed_by"], "notes": self.book.notes(alarm["id"]),
            **(fields or empty),
        }  # fmt: skip
        record["clocks"] = {
            c.name: {"due_ms": c.due_ms, "met_ms": c.met_ms, "verdict": clock_verdict(c.status(now_ms))}
            for c in (response, plan, fix)
        }
        return record

    def records(self, *, start_ms: int, end_ms: int, now_ms: int, room: str | None = None,
             site: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """Records of alarms raised in [start, end): levels I-III, and IV ones that were requested."""
        rows = [
            a for a in self.book.query(room=room, limit=100_000)
            if start_ms <= a["raised_ms"] < end_ms and (site is None or a["site"] == site)
        ]  # fmt: skip
        out = []
        for alarm in sorted(rows, key=lambda a: a["raised_ms"]):
            fields = self._fields(alarm["id"])
            if alarm["level"] in RECORDED_LEVELS or (fields is not None and fields["requested"]):
                out.append(self._compose(alarm, fields, now_ms))
        return out

    def request(self, alarm_id: str, now_ms: int) -> None:
        """Ask for a fault record for a level IV alarm."""
        if self.book.get(alarm_id) is None:
            raise FaultError(404, f"no alarm {alarm_id}")
        with self.book.central.transaction() as db:
            db.execute(
                "INSERT INTO mnt_fault_records(alarm_id, requested, updated_ms) VALUES (?, 1, ?) "
                "ON CONFLICT(alarm_id) DO UPDATE SET requested = 1, updated_ms = excluded.updated_ms "
                "WHERE signed_ms IS NULL",
                (alarm_id, now_ms),
            )

    def update(
        self, alarm_id: str, now_ms: int, *, cause: str | None = None, method: str | None = None,
        prevention: str | None = None, parts: list[Part] | None = None,
    ) -> None:  # fmt: skip
        current = self.get(alarm_id, now_ms)
        if current["signed_ms"] is not None:
            raise FaultError(409, f"the fault record of alarm {alarm_id} is signed")
        merged_parts = current["parts"] + [p.model_dump() for p in parts or []]
        with self.book.central.transaction() as db:
            db.execute(
                "INSERT INTO mnt_fault_records(alarm_id, cause, method, prevention, parts, updated_ms) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT(alarm_id) DO UPDATE SET cause = coalesce(excluded.cause, cause), "
                "method = coalesce(excluded.method, method), prevention = coalesce(excluded.prevention, prevention), "
                "parts = excluded.parts, updated_ms = excluded.updated_ms",
                (alarm_id, cause, method, prevention, json.dumps(merged_parts), now_ms),
            )

    def sign(self, alarm_id: str, *, who: str, now_ms: int, comment: str = "") -> None:
        current = self.get(alarm_id, now_ms)
        if current["signed_ms"] is not None:
            raise FaultError(409, f"the fault record of alarm {alarm_id} is signed already")
        if current["fixed_ms"] is None:
            raise FaultError(409, f"alarm {alarm_id} is not fixed (cleared) yet")
        missing = [k for k in ("cause", "method") if not current[k]]
        if missing or not who.strip():
            raise FaultError(422, "a fault record is signed with a name, a cause and a method; missing: "
                             + ", ".join(missing or ["name"]))  # fmt: skip
        with self.book.central.transaction() as db:
            db.execute(
                "UPDATE mnt_fault_records SET signed_by = ?, signed_ms = ?, comment = ? WHERE alarm_id = ?",
                (who, now_ms, comment, alarm_id),
            )

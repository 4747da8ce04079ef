"""Inspection runs and records: evaluate a room's checklists, leave manual items, sign, correct.

A record is one room on one day, in versions: version 1 is the run, a correction of a signed
record is version n+1 (``supersedes`` names the old one). A signed record is immutable (the
database refuses changes, see store.py).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from lvgate.collector.alarms.book import DeviceContext
from lvgate.collector.central import CentralDb
from lvgate.collector.maintenance.alarm_link import AlarmHook, NoAlarms
from lvgate.collector.maintenance.checklists import Checklists, Item, period_start
from lvgate.collector.maintenance.evaluate import judge
from lvgate.collector.maintenance.state import DeviceRef, LatestState
from lvgate.collector.maintenance.store import ensure_schema

RESULTS = ("normal", "abnormal", "not_checked")


class InspectionError(Exception):
    """An action the record's state does not allow (the API answers with ``status``)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


@dataclass(frozen=True, slots=True)
class _Row:
    item: Item
    system: str
    ref: DeviceRef | None


_ITEM_COLUMNS = (
    "seq", "item_id", "title", "reference", "period", "system", "method", "manual", "gateway", "device",
    "device_class", "device_name", "result", "evidence", "ts_ms", "note", "completed_by", "completed_ms", "alarm_id",
)  # fmt: skip
_RECORD_COLUMNS = ("id", "site", "room", "day", "version", "supersedes", "run_ms", "trigger", "signed_by",
                   "signed_ms", "comment")  # fmt: skip


class Inspections:
    def __init__(
        self, central: CentralDb, checklists: Checklists, state: LatestState, alarms: AlarmHook | None = None,
        tz: dt.tzinfo = dt.UTC,
    ) -> None:  # fmt: skip
        self.central = central
        self.checklists = checklists
        self.state = state
        self.alarms = alarms or NoAlarms()
        self.tz = tz
        ensure_schema(central.db)

    @property
    def db(self) -> Any:
        return self.central.db

    def day_of(self, ts_ms: int) -> dt.date:
        return dt.datetime.fromtimestamp(ts_ms / 1000, self.tz).date()

    # --- running -------------------------------------------------------------------------------
    def _manual_due(self, site: str, room: str, item: Item, day: dt.date, ref: DeviceRef | None) -> bool:
        """Daily manual items always; others until done once (signed) within their period."""
        if item.period == "daily":
            return True
        start = period_start(item.period, day).isoformat()
        row = self.db.execute(
            "SELECT 1 FROM mnt_inspection_items i JOIN mnt_inspections r ON r.id = i.record_id "
            "WHERE r.site = ? AND r.room = ? AND r.day >= ? AND r.day < ? AND r.signed_ms IS NOT NULL "
            "AND i.item_id = ? AND coalesce(i.device, '') = ? AND i.result IN ('normal', 'abnormal') LIMIT 1",
            (site, room, start, day.isoformat(), item.id, ref.device if ref else ""),
        ).fetchone()
        return row is None

    def _plan(self, site: str, room: str, day: dt.date) -> list[_Row]:
        rows: list[_Row] = []
        devices = self.state.devices(site, room)
        for ref in devices:
            checklist = self.checklists.by_class.get(ref.device_class)
            if checklist is None:
                continue
            for item in checklist.items:
                if not item.manual or self._manual_due(site, room, item, day, ref):
                    rows.append(_Row(item, checklist.system, ref))
        if devices:
            for checklist in self.checklists.room:
                for item in checklist.items:
                    if self._manual_due(site, room, item, day, None):
                        rows.append(_Row(item, checklist.system, None))
        return rows

    def run(self, site: str, room: str, now_ms: int, *, trigger: str = "on_demand") -> str:
        """Evaluate every device of the room now; returns the new record's id."""
        day = self.day_of(now_ms)
        plan = self._plan(site, room, day)
        if not plan:
            raise InspectionError(404, f"no device with a checklist in site '{site}', room '{room}'")
        gateway_of_room = next((r.ref.gateway for r in plan if r.ref is not None), "")
        record_id = uuid.uuid4().hex
        with self.central.transaction() as db:
            last = db.execute(
                "SELECT max(version) FROM mnt_inspections WHERE site = ? AND room = ? AND day = ?",
                (site, room, day.isoformat()),
            ).fetchone()[0]
            db.execute(
                "INSERT INTO mnt_inspections(id, site, room, day, version, run_ms, trigger) VALUES (?,?,?,?,?,?,?)",
                (record_id, site, room, day.isoformat(), (last or 0) + 1, now_ms, trigger),
            )
            for seq, row in enumerate(plan, start=1):
                item, ref = row.item, row.ref
                result: str | None = None
                evidence: list[dict[str, Any]] = []
                ts: int | None = None
                note = ""
                alarm_id = None
                if not item.manual and ref is not None:
                    verdict = judge(
                        item.method,
                        self.state.readings(ref.gateway, ref.device, now_ms),
                        self.state.online(ref.gateway, ref.device, now_ms),
                        now_ms,
                    )
                    result, note = verdict.result, verdict.note
                    evidence = [{"entity": e.entity, "value": e.value, "ts_ms": e.ts_ms} for e in verdict.evidence]
                    ts = max((e.ts_ms for e in verdict.evidence), default=None)
                    if result == "abnormal":
                        ctx = DeviceContext(ref.gateway, ref.device, ref.device_class, site, room)
                        alarm_id = self.alarms.link_or_open(ctx, item.method.entity, now_ms)
                db.execute(
                    f"INSERT INTO mnt_inspection_items(record_id, {', '.join(_ITEM_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * (len(_ITEM_COLUMNS) + 1))})",
                    (
                        record_id, seq, item.id, item.title, item.reference, item.period, row.system,
                        item.method.describe(), int(item.manual), ref.gateway if ref else gateway_of_room,
                        ref.device if ref else None, ref.device_class if ref else None, ref.name if ref else None,
                        result, json.dumps(evidence), ts, note, None, None, alarm_id,
                    ),
                )  # fmt: skip
        return record_id

    # --- reading -------------------------------------------------------------------------------
    def get(self, record_id: str) -> dict[str, Any]:
        row = self.db.execute(
            f"SELECT {', '.join(_RECORD_COLUMNS)} FROM mnt_inspections WHERE id = ?", (record_id,)
        ).fetchone()
        if row is None:
            raise InspectionError(404, f"no inspection record {record_id}")
        record = dict(zip(_RECORD_COLUMNS, row, strict=True))
        items = []
        for raw in self.db.execute(
            f"SELECT {', '.join(_ITEM_COLUMNS)} FROM mnt_inspection_items WHERE record_id = ? ORDER BY seq",
            (record_id,),
        ):
            item = dict(zip(_ITEM_COLUMNS, raw, strict=True))
            item["evidence"] = json.loads(item["evidence"])
            item["manual"] = bool(item["manual"])
            items.append(item)
        record["items"] = items
        newer = self.db.execute("SELECT id FROM mnt_inspections WHERE supersedes = ?", (record_id,)).fetchone()
        record["superseded_by"] = newer[0] if newer else None
        record["state"] = "signed" if record["signed_ms"] is not None else "open"
        return record

    def find(self, **filters: Any) -> list[dict[str, Any]]:
        return find_records(self.db, **filters)

    # --- the technician ---------------------------------------------------------------------------
    def _open(self, record_id: str) -> dict[str, Any]:
        record = self.get(record_id)
        if record["signed_ms"] is not None:
            raise InspectionError(409, f"inspection record {record_id} is signed: correct it as a new version")
        if record["superseded_by"] is not None:
            raise InspectionError(409, f"inspection record {record_id} is superseded by {record['superseded_by']}")
        return record

    def complete(
        self, record_id: str, seq: int, *, result: str, who: str, now_ms: int, note: str = "",
        value: Any = None,
    ) -> None:  # fmt: skip
        """A technician's result for an item (manual items, or overriding 'not checked' with a reason)."""
        if result not in RESULTS:
            raise InspectionError(422, f"result must be one of {', '.join(RESULTS)}")
        record = self._open(record_id)
        item = next((i for i in record["items"] if i["seq"] == seq), None)
        if item is None:
            raise InspectionError(404, f"inspection record {record_id} has no item {seq}")
        if not item["manual"] and item["result"] != "not_checked":
            raise InspectionError(409, f"item {seq} ({item['item_id']}) was judged from readings; it cannot be changed")
        with self.central.transaction() as db:
            alarm_id = item["alarm_id"]
            if result == "abnormal" and alarm_id is None and item["gateway"]:
                ctx = DeviceContext(item["gateway"], item["device"] or "room", item["device_class"], record["site"],
                                    record["room"])  # fmt: skip
                alarm_id = self.alarms.link_or_open(ctx, None, now_ms)
            evidence = item["evidence"] + ([{"entity": "technician", "value": value, "ts_ms": now_ms}]
                                           if value is not None else [])  # fmt: skip
            db.execute(
                "UPDATE mnt_inspection_items SET result = ?, note = ?, completed_by = ?, completed_ms = ?, "
                "evidence = ?, ts_ms = coalesce(ts_ms, ?), alarm_id = ? WHERE record_id = ? AND seq = ?",
                (result, note, who, now_ms, json.dumps(evidence), now_ms, alarm_id, record_id, seq),
            )

    def sign(self, record_id: str, *, who: str, now_ms: int, comment: str = "") -> None:
        if not who.strip():
            raise InspectionError(422, "a signature needs a name")
        record = self._open(record_id)
        pending = [f"{i['seq']} {i['item_id']}" for i in record["items"] if i["result"] is None]
        if pending:
            raise InspectionError(409, "complete the manual items first: " + ", ".join(pending))
        with self.central.transaction() as db:
            db.execute(
                "UPDATE mnt_inspections SET signed_by = ?, signed_ms = ?, comment = ? WHERE id = ?",
                (who, now_ms, comment, record_id),
            )

    def correct(self, record_id: str, *, now_ms: int) -> str:
        """A new open version of a signed record, with its items copied; returns the new id."""
        record = self.get(record_id)
        if record["signed_ms"] is None:
            raise InspectionError(409, f"inspection record {record_id} is not signed: change it directly")
        if record["superseded_by"] is not None:
            raise InspectionError(409, f"correct the latest version, {record['superseded_by']}")
        new_id = uuid.uuid4().hex
        with self.central.transaction() as db:
            db.execute(
                "INSERT INTO mnt_inspections(id, site, room, day, version, supersedes, run_ms, trigger) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (new_id, record["site"], record["room"], record["day"], record["version"] + 1, record_id, now_ms,
                 "correction"),
            )  # fmt: skip
            db.execute(
                f"INSERT INTO mnt_inspection_items(record_id, {', '.join(_ITEM_COLUMNS)}) "
                f"SELECT ?, {', '.join(_ITEM_COLUMNS)} FROM mnt_inspection_items WHERE record_id = ?",
                (new_id, record_id),
            )
        return new_id

    def amend(self, record_id: str, seq: int, *, result: str, who: str, now_ms: int, note: str) -> None:
        """In a correction version, any item may be changed, with a reason (kept in the note)."""
        record = self._open(record_id)
        if record["supersedes"] is None:
            raise InspectionError(409, "only a correction version may change items judged from readings")
        if result not in RESULTS or not note.strip():
            raise InspectionError(422, "an amendment needs a result and a reason")
        with self.central.transaction() as db:
            db.execute(
                "UPDATE mnt_inspection_items SET result = ?, note = ?, completed_by = ?, completed_ms = ? "
                "WHERE record_id = ? AND seq = ?",
                (result, note, who, now_ms, record_id, seq),
            )


def find_records(
    db: Any, *, site: str | None = None, room: str | None = None, start_day: str | None = None,
    end_day: str | None = None, current_only: bool = True,
) -> list[dict[str, Any]]:  # fmt: skip
    """Record headers, days in [start_day, end_day); ``current_only`` keeps the latest version of a room's day."""
    latest = (
        "AND version = (SELECT max(version) FROM mnt_inspections o WHERE o.site = r.site AND o.room = r.room "
        "AND o.day = r.day) "
    )
    rows = db.execute(
        f"SELECT {', '.join(_RECORD_COLUMNS)} FROM mnt_inspections r WHERE (? IS NULL OR site = ?) "
        "AND (? IS NULL OR room = ?) AND (? IS NULL OR day >= ?) AND (? IS NULL OR day < ?) "
        + (latest if current_only else "")
        + "ORDER BY day, site, room, version",
        (site, site, room, room, start_day, start_day, end_day, end_day),
    ).fetchall()
    return [dict(zip(_RECORD_COLUMNS, r, strict=True)) for r in rows]

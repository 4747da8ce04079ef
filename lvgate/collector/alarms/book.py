"""The alarm book: rule decisions applied to the shared database, and the duty staff's actions.

Callers run :meth:`AlarmBook.apply` and :meth:`AlarmBook.tick` inside ``CentralDb.transaction()``
(one per batch): the condition rows are read and written under the database's write lock, so two
collectors that share the file never raise the same alarm twice. Each returns the devices whose
alarm list changed, to be republished (retained) on MQTT.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lvgate.collector.alarms import engine
from lvgate.collector.alarms.levels import LEVELS, Level, clocks
from lvgate.collector.alarms.rules import EventRule, Rule, RuleFile, Scalar
from lvgate.collector.central import CentralDb

DeviceKey = tuple[str, str]  # (gateway, device)


@dataclass(frozen=True, slots=True)
class DeviceContext:
    gateway: str
    device: str
    device_class: str | None = None
    site: str | None = None
    room: str | None = None


@dataclass(frozen=True, slots=True)
class ValueInput:
    ctx: DeviceContext
    entity: str
    value: Scalar
    ts_ms: int


@dataclass(frozen=True, slots=True)
class AvailabilityInput:
    ctx: DeviceContext
    online: bool
    reason: str | None
    ts_ms: int


@dataclass(frozen=True, slots=True)
class EventInput:
    ctx: DeviceContext
    event: str
    ts_ms: int


Input = ValueInput | AvailabilityInput | EventInput


class AlarmError(Exception):
    """An action the alarm's state does not allow (the API answers 404/409 with the text)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


class AlarmBook:
    def __init__(self, central: CentralDb, rules: RuleFile) -> None:
        self.central = central
        self.rules = rules
        self._by_input: dict[tuple[str, str | None], list[Rule]] = {}
        for rule in rules.rules:
            kind = engine.input_kind(rule)
            key = getattr(rule, "entity", None) if kind == "value" else None
            self._by_input.setdefault((kind, key), []).append(rule)
        self._rule = {r.id: r for r in rules.rules}

    @property
    def db(self) -> sqlite3.Connection:
        return self.central.db

    # --- decisions (inside a transaction) ----------------------------------------------------
    def apply(self, inputs: Iterable[Input]) -> set[DeviceKey]:
        changed: set[DeviceKey] = set()
        # Each condition is read once and written once per batch (the caller's transaction keeps
        # them ours meanwhile); a device's readings arrive many to a batch.
        conditions: dict[tuple[str, str, str], engine.Condition] = {}
        dirty: dict[tuple[str, str, str], DeviceContext] = {}
        for item in inputs:
            if isinstance(item, ValueInput):
                candidates = self._by_input.get(("value", item.entity), [])
            elif isinstance(item, AvailabilityInput):
                candidates = self._by_input.get(("availability", None), [])
            else:
                candidates = self._by_input.get(("event", None), [])
            for rule in candidates:
                if not rule.applies_to(item.ctx.device, item.ctx.device_class):
                    continue
                key = (item.ctx.gateway, item.ctx.device, rule.id)
                cond = conditions.get(key)
                if cond is None:
                    cond = conditions[key] = self._condition(item.ctx, rule.id)
                if isinstance(item, ValueInput):
                    fresh = engine.observe_value(rule, cond, item.value, item.ts_ms)
                elif isinstance(item, AvailabilityInput):
                    fresh = engine.observe_availability(cond, item.online, item.ts_ms, item.reason)
                else:
                    assert isinstance(rule, EventRule)
                    fresh = engine.observe_event(rule, cond, item.event, item.ts_ms)
                if not fresh:
                    continue
                # Decided on the time of measurement: replayed data after an outage raises what it
                # would have raised live; durations that run out between inputs are found by tick().
                if self._decide(rule, item.ctx, cond, item.ts_ms):
                    changed.add((item.ctx.gateway, item.ctx.device))
                dirty[key] = item.ctx
        for (_, _, rule_id), ctx in dirty.items():
            self._save_condition(ctx, rule_id, conditions[(ctx.gateway, ctx.device, rule_id)])
        return changed

    def tick(self, now_ms: int) -> set[DeviceKey]:
        """Time passing: durations reached, event alarms expiring, flapping alarms settling."""
        changed: set[DeviceKey] = set()
        rows = self.db.execute(
            "SELECT gateway, device, rule, state, device_class, site, room FROM conditions"
        ).fetchall()
        for gateway, device, rule_id, state, device_class, site, room in rows:
            rule = self._rule.get(rule_id)
            if rule is None:
                continue
            cond = engine.Condition.from_json(json.loads(state))
            if cond.bad == cond.raised and not cond.flapping and not isinstance(rule, EventRule):
                continue
            ctx = DeviceContext(gateway, device, device_class, site, room)
            if self._decide(rule, ctx, cond, now_ms):
                changed.add((gateway, device))
            self._save_condition(ctx, rule_id, cond)
        return changed

    def _decide(self, rule: Rule, ctx: DeviceContext, cond: engine.Condition, now_ms: int) -> bool:
        silenced = cond.bad and not cond.raised and self.silenced(ctx.gateway, ctx.device, now_ms)
        action = engine.decide(rule, cond, now_ms, self.rules.flapping, silenced=silenced)
        if action is engine.Action.RAISE:
            self._raise(rule, ctx, cond, now_ms)
        elif action is engine.Action.CLEAR:
            self.db.execute(
                "UPDATE alarms SET cleared_ms = ?, flapping = 0, updated_ms = ? "
                "WHERE gateway = ? AND device = ? AND rule = ? AND cleared_ms IS NULL",
                (now_ms, now_ms, ctx.gateway, ctx.device, rule.id),
            )
        elif action is engine.Action.FLAPPING:
            self.db.execute(
                "UPDATE alarms SET flapping = 1, updated_ms = ? WHERE gateway = ? AND device = ? AND rule = ? "
                "AND cleared_ms IS NULL",
                (now_ms, ctx.gateway, ctx.device, rule.id),
            )
        return action is not None

    def _raise(self, rule: Rule, ctx: DeviceContext, cond: engine.Condition, now_ms: int) -> None:
        full = self._context(ctx.gateway, ctx.device, ctx)
        self.db.execute(
            "INSERT INTO alarms(id, gateway, device, rule, site, room, device_class, entity, level, message, value, "
            "raised_ms, updated_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(gateway, device, rule) WHERE cleared_ms IS NULL DO NOTHING",
            (
                uuid.uuid4().hex, ctx.gateway, ctx.device, rule.id, full.site, full.room, full.device_class,
                getattr(rule, "entity", None), rule.level, rule.message, json.dumps(cond.value), now_ms, now_ms,
            ),
        )  # fmt: skip

    def _condition(self, ctx: DeviceContext, rule_id: str) -> engine.Condition:
        row = self.db.execute(
            "SELECT state FROM conditions WHERE gateway = ? AND device = ? AND rule = ?",
            (ctx.gateway, ctx.device, rule_id),
        ).fetchone()
        return engine.Condition.from_json(json.loads(row[0])) if row else engine.Condition()

    def _save_condition(self, ctx: DeviceContext, rule_id: str, cond: engine.Condition) -> None:
        self.db.execute(
            "INSERT INTO conditions(gateway, device, rule, state, device_class, site, room) VALUES (?,?,?,?,?,?,?) "
            "ON CONFLICT(gateway, device, rule) DO UPDATE SET state = excluded.state, "
            "device_class = coalesce(excluded.device_class, device_class), site = coalesce(excluded.site, site), "
            "room = coalesce(excluded.room, room)",
            (ctx.gateway, ctx.device, rule_id, json.dumps(cond.to_json()), ctx.device_class, ctx.site, ctx.room),
        )

    def _context(self, gateway: str, device: str, given: DeviceContext | None = None) -> DeviceContext:
        if given is not None and given.device_class and given.room:
            return given
        row = self.db.execute(
            "SELECT device_class, site, room FROM devices WHERE gateway = ? AND device = ?", (gateway, device)
        ).fetchone()
        if row is None:
            return given or DeviceContext(gateway, device)
        return DeviceContext(gateway, device, row[0], row[1], row[2])

    # --- maintenance windows -----------------------------------------------------------------
    def silenced(self, gateway: str, device: str, now_ms: int) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM maintenance WHERE start_ms <= ? AND ? < end_ms AND gateway IN ('*', ?) AND device IN ('*', ?)",
            (now_ms, now_ms, gateway, device),
        ).fetchone()
        return row is not None

    def add_maintenance(self, *, gateway: str, device: str, start_ms: int, end_ms: int, reason: str, who: str) -> int:
        if end_ms <= start_ms:
            raise AlarmError(422, "a maintenance window must end after it starts")
        with self.central.transaction() as db:
            cursor = db.execute(
                "INSERT INTO maintenance(gateway, device, start_ms, end_ms, reason, created_by) VALUES (?,?,?,?,?,?)",
                (gateway, device, start_ms, end_ms, reason, who),
            )
        return int(cursor.lastrowid or 0)

    def maintenance(self, now_ms: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT id, gateway, device, start_ms, end_ms, reason, created_by FROM maintenance WHERE end_ms > ? "
            "ORDER BY start_ms",
            (now_ms,),
        ).fetchall()
        keys = ("id", "gateway", "device", "start_ms", "end_ms", "reason", "created_by")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # --- the duty staff's actions ------------------------------------------------------------
    def acknowledge(self, alarm_id: str, who: str, comment: str, now_ms: int) -> DeviceKey:
        with self.central.transaction() as db:
            row = self._row_for_update(alarm_id)
            if row["acknowledged_ms"] is not None:
                raise AlarmError(409, f"alarm {alarm_id} was acknowledged by {row['acknowledged_by']} already")
            db.execute(
                "UPDATE alarms SET acknowledged_ms = ?, acknowledged_by = ?, updated_ms = ? WHERE id = ?",
                (now_ms, who, now_ms, alarm_id),
            )
            self._note(alarm_id, now_ms, who, "acknowledge", comment)
        return row["gateway"], row["device"]

    def comment(self, alarm_id: str, who: str, text: str, now_ms: int, *, plan: bool = False) -> DeviceKey:
        """A note; ``plan`` marks it as the repair plan, which meets the 2-hour plan clock."""
        with self.central.transaction() as db:
            row = self._row_for_update(alarm_id)
            if plan and row["planned_ms"] is None:
                db.execute("UPDATE alarms SET planned_ms = ?, updated_ms = ? WHERE id = ?", (now_ms, now_ms, alarm_id))
            self._note(alarm_id, now_ms, who, "plan" if plan else "comment", text)
        return row["gateway"], row["device"]

    def close(self, alarm_id: str, who: str, comment: str, now_ms: int, *, force: bool = False) -> DeviceKey:
        """Close a cleared alarm (``force`` closes one whose condition still holds)."""
        with self.central.transaction() as db:
            row = self._row_for_update(alarm_id)
            if row["cleared_ms"] is None and not force:
                raise AlarmError(409, f"alarm {alarm_id} has not cleared; close it with force to override")
            cleared = row["cleared_ms"] if row["cleared_ms"] is not None else now_ms
            db.execute(
                "UPDATE alarms SET cleared_ms = ?, closed_ms = ?, closed_by = ?, updated_ms = ? WHERE id = ?",
                (cleared, now_ms, who, now_ms, alarm_id),
            )
            self._note(alarm_id, now_ms, who, "close", comment)
            # A forced close forgets the condition: if it still holds it is raised afresh.
            rule = self._rule.get(row["rule"])
            ctx = DeviceContext(row["gateway"], row["device"])
            if rule is not None and row["cleared_ms"] is None:
                cond = self._condition(ctx, rule.id)
                cond.raised = cond.flapping = False
                if isinstance(rule, EventRule):
                    cond.bad = False
                self._save_condition(ctx, rule.id, cond)
        return row["gateway"], row["device"]

    def _row_for_update(self, alarm_id: str) -> dict[str, Any]:
        row = self.get(alarm_id)
        if row is None:
            raise AlarmError(404, f"no alarm {alarm_id}")
        if row["closed_ms"] is not None:
            raise AlarmError(409, f"alarm {alarm_id} is closed")
        return row

    def _note(self, alarm_id: str, now_ms: int, who: str, kind: str, text: str) -> None:
        self.db.execute(
            "INSERT INTO alarm_notes(alarm_id, ts_ms, who, kind, text) VALUES (?,?,?,?,?)",
            (alarm_id, now_ms, who, kind, text),
        )

    # --- queries -------------------------------------------------------------------------------
    _COLUMNS = (
        "id", "gateway", "device", "rule", "site", "room", "device_class", "entity", "level", "message", "value",
        "raised_ms", "acknowledged_ms", "acknowledged_by", "planned_ms", "cleared_ms", "closed_ms", "closed_by",
        "flapping", "updated_ms",
    )  # fmt: skip

    def _rows(self, where: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(self._COLUMNS)} FROM alarms {where}"
        out = []
        for raw in self.db.execute(sql, args).fetchall():
            row = dict(zip(self._COLUMNS, raw, strict=True))
            row["value"] = json.loads(row["value"]) if row["value"] is not None else None
            row["flapping"] = bool(row["flapping"])
            out.append(row)
        return out

    def get(self, alarm_id: str) -> dict[str, Any] | None:
        rows = self._rows("WHERE id = ?", (alarm_id,))
        return rows[0] if rows else None

    def notes(self, alarm_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT ts_ms, who, kind, text FROM alarm_notes WHERE alarm_id = ? ORDER BY ts_ms, rowid", (alarm_id,)
        ).fetchall()
        return [{"ts_ms": r[0], "who": r[1], "kind": r[2], "text": r[3]} for r in rows]

    def query(
        self,
        *,
        active: bool | None = None,
        level: Level | None = None,
        state: str | None = None,
        room: str | None = None,
        gateway: str | None = None,
        device: str | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if active is True:
            clauses.append("closed_ms IS NULL")
        elif active is False:
            clauses.append("closed_ms IS NOT NULL")
        for column, value in (("level", level), ("room", room), ("gateway", gateway), ("device", device)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        # Level I first, then the oldest: what needs someone now is on top.
        order = " ORDER BY CASE level " + " ".join(f"WHEN '{lv}' THEN {i}" for i, lv in enumerate(LEVELS))
        rows = self._rows(where + order + " END, raised_ms LIMIT ?", (*args, limit))
        if state is not None:
            rows = [r for r in rows if alarm_state(r) == state]
        return rows

    def active_for_device(self, gateway: str, device: str) -> list[dict[str, Any]]:
        return self.query(active=True, gateway=gateway, device=device)


def alarm_state(row: dict[str, Any]) -> str:
    if row["closed_ms"] is not None:
        return "closed"
    if row["cleared_ms"] is not None:
        return "cleared"
    if row["acknowledged_ms"] is not None:
        return "acknowledged"
    return "raised"


def describe(row: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """An alarm as the API shows it: its state and each contract clock with the time left."""
    level: Level = row["level"]
    fixed = row["cleared_ms"] if row["cleared_ms"] is not None else row["closed_ms"]
    response, plan, fix = clocks(level, row["raised_ms"], row["acknowledged_ms"], row["planned_ms"], fixed)
    return {
        **row,
        "state": alarm_state(row),
        "clocks": {c.name: c.as_dict(now_ms) for c in (response, plan, fix)},
    }

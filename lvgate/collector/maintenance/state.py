"""What an inspection reads: the devices of a room and their latest readings, as of a time.

``LatestState`` is the read interface; :class:`CentralState` implements it over the collector's
shared database (``devices`` and ``latest``, kept by the ingest), :class:`HistoryState` over the
SQLite history's ``readings`` table, which can also answer "as of" a past time.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Protocol

from lvgate.collector.alarms.rules import Scalar


@dataclass(frozen=True, slots=True)
class DeviceRef:
    gateway: str
    device: str
    site: str | None
    room: str | None
    device_class: str | None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    entity: str
    value: Scalar | None
    ts_ms: int
    quality: str = "good"


class LatestState(Protocol):
    def devices(self, site: str | None, room: str | None) -> list[DeviceRef]: ...

    def readings(self, gateway: str, device: str, at_ms: int) -> dict[str, Evidence]:
        """Latest reading of each entity measured at or before ``at_ms``."""
        ...

    def online(self, gateway: str, device: str, at_ms: int) -> Evidence | None:
        """Availability as a bool Evidence (entity 'online'), None when never reported."""
        ...


class CentralState:
    """Over the collector's database. It keeps only the latest value: ``at_ms`` bounds nothing older."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def devices(self, site: str | None, room: str | None) -> list[DeviceRef]:
        rows = self.db.execute(
            "SELECT gateway, device, site, room, device_class, name FROM devices WHERE (? IS NULL OR site = ?) "
            "AND (? IS NULL OR room = ?) ORDER BY site, room, device",
            (site, site, room, room),
        ).fetchall()
        return [DeviceRef(*r) for r in rows]

    def readings(self, gateway: str, device: str, at_ms: int) -> dict[str, Evidence]:
        rows = self.db.execute(
            "SELECT entity, value, ts_ms, quality FROM latest WHERE gateway = ? AND device = ? AND ts_ms <= ?",
            (gateway, device, at_ms),
        ).fetchall()
        return {r[0]: Evidence(r[0], json.loads(r[1]), r[2], r[3]) for r in rows}

    def online(self, gateway: str, device: str, at_ms: int) -> Evidence | None:
        row = self.db.execute(
            "SELECT online, availability_ms FROM devices WHERE gateway = ? AND device = ?", (gateway, device)
        ).fetchone()
        if row is None or row[0] is None or row[1] is None or row[1] > at_ms:
            return None
        return Evidence("online", bool(row[0]), row[1])


class HistoryState:
    """Over the history ``readings`` table (lvgate.collector.storage.SqliteHistory); availability from
    the collector's ``events`` (device_online / device_offline) when a central database is given."""

    def __init__(self, history: sqlite3.Connection, central: sqlite3.Connection | None = None) -> None:
        self.history = history
        self.central = central

    def devices(self, site: str | None, room: str | None) -> list[DeviceRef]:
        rows = self.history.execute(
            "SELECT DISTINCT gateway, device, site, room, device_class FROM readings WHERE (? IS NULL OR site = ?) "
            "AND (? IS NULL OR room = ?) ORDER BY site, room, device",
            (site, site, room, room),
        ).fetchall()
        return [DeviceRef(*r) for r in rows]

    def readings(self, gateway: str, device: str, at_ms: int) -> dict[str, Evidence]:
        rows = self.history.execute(
            "SELECT r.entity, r.value, r.value_text, r.ts_ms, r.quality FROM readings r JOIN ("
            " SELECT entity, max(ts_ms) AS ts FROM readings WHERE gateway = ? AND device = ? AND ts_ms <= ?"
            " GROUP BY entity) m ON r.entity = m.entity AND r.ts_ms = m.ts "
            "WHERE r.gateway = ? AND r.device = ?",
            (gateway, device, at_ms, gateway, device),
        ).fetchall()
        out: dict[str, Evidence] = {}
        for entity, number, text, ts, quality in rows:
            out[entity] = Evidence(entity, text if text is not None else number, ts, quality)
        return out

    def online(self, gateway: str, device: str, at_ms: int) -> Evidence | None:
        if self.central is None:
            return None
        row = self.central.execute(
            "SELECT event, ts_ms FROM events WHERE gateway = ? AND device = ? AND ts_ms <= ? "
            "AND event IN ('device_online', 'device_offline') ORDER BY ts_ms DESC LIMIT 1",
            (gateway, device, at_ms),
        ).fetchone()
        return None if row is None else Evidence("online", row[0] == "device_online", row[1])

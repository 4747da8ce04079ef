"""The collector's own database (SQLite, WAL): devices, events, dead letters and the alarm book.

Several collector processes may open the same file: every change runs in ``BEGIN IMMEDIATE``
transactions, which SQLite serialises across processes, and every write is idempotent (keyed
upserts), so a message handled twice or by two collectors leaves one row.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    digest TEXT NOT NULL UNIQUE,          -- sha256 of topic + payload: a redelivery is one row
    received_ms INTEGER NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    size INTEGER NOT NULL,
    excerpt BLOB NOT NULL,                -- at most the first 4 KiB of the payload
    collector TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    gateway TEXT NOT NULL, device TEXT NOT NULL, ts_ms INTEGER NOT NULL, event TEXT NOT NULL,
    digest TEXT NOT NULL,                 -- of the whole payload: same event twice = one row
    site TEXT, room TEXT, device_class TEXT, severity TEXT, data TEXT NOT NULL,
    PRIMARY KEY (gateway, device, ts_ms, event, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_time ON events(ts_ms);
CREATE TABLE IF NOT EXISTS devices (
    gateway TEXT NOT NULL, device TEXT NOT NULL,
    site TEXT, room TEXT, device_class TEXT, name TEXT,
    online INTEGER, availability_reason TEXT, availability_ms INTEGER,
    last_seen_ms INTEGER, info TEXT,
    PRIMARY KEY (gateway, device)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gateways (
    gateway TEXT PRIMARY KEY, site TEXT, room TEXT, state TEXT, info TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latest (
    gateway TEXT NOT NULL, device TEXT NOT NULL, entity TEXT NOT NULL,
    ts_ms INTEGER NOT NULL, value TEXT NOT NULL, quality TEXT NOT NULL, unit TEXT,
    PRIMARY KEY (gateway, device, entity)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS conditions (
    gateway TEXT NOT NULL, device TEXT NOT NULL, rule TEXT NOT NULL,
    site TEXT, room TEXT, device_class TEXT,
    state TEXT NOT NULL,
    PRIMARY KEY (gateway, device, rule)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alarms (
    id TEXT PRIMARY KEY,
    gateway TEXT NOT NULL, device TEXT NOT NULL, rule TEXT NOT NULL,
    site TEXT, room TEXT, device_class TEXT, entity TEXT,
    level TEXT NOT NULL, message TEXT NOT NULL, value TEXT,
    raised_ms INTEGER NOT NULL,
    acknowledged_ms INTEGER, acknowledged_by TEXT,
    planned_ms INTEGER,
    cleared_ms INTEGER,
    closed_ms INTEGER, closed_by TEXT,
    flapping INTEGER NOT NULL DEFAULT 0,
    updated_ms INTEGER NOT NULL
);
-- At most one uncleared alarm per device and rule, whatever the number of collectors.
CREATE UNIQUE INDEX IF NOT EXISTS alarms_one_open ON alarms(gateway, device, rule) WHERE cleared_ms IS NULL;
CREATE INDEX IF NOT EXISTS alarms_active ON alarms(closed_ms, level);
CREATE TABLE IF NOT EXISTS alarm_notes (
    alarm_id TEXT NOT NULL, ts_ms INTEGER NOT NULL, who TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alarm_notes_alarm ON alarm_notes(alarm_id, ts_ms);
CREATE TABLE IF NOT EXISTS maintenance (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway TEXT NOT NULL DEFAULT '*', device TEXT NOT NULL DEFAULT '*',
    start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, reason TEXT NOT NULL, created_by TEXT NOT NULL
);
"""


class CentralDb:
    """One connection to the shared database; use it from the event loop thread only."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the database's write lock from the start."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

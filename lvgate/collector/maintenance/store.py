"""The maintenance tables (``mnt_*``) in the collector's shared database.

Signed inspection records are made immutable by the database itself (triggers), not only by the
code: a correction is a new version that names the one it supersedes.
"""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS mnt_inspections (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL, room TEXT NOT NULL, day TEXT NOT NULL, version INTEGER NOT NULL,
    supersedes TEXT, run_ms INTEGER NOT NULL, trigger TEXT NOT NULL,
    signed_by TEXT, signed_ms INTEGER, comment TEXT,
    UNIQUE (site, room, day, version)
);
CREATE TABLE IF NOT EXISTS mnt_inspection_items (
    record_id TEXT NOT NULL, seq INTEGER NOT NULL,
    item_id TEXT NOT NULL, title TEXT NOT NULL, reference TEXT NOT NULL, period TEXT NOT NULL,
    system TEXT NOT NULL, method TEXT NOT NULL, manual INTEGER NOT NULL,
    gateway TEXT, device TEXT, device_class TEXT, device_name TEXT,
    result TEXT,                          -- normal | abnormal | not_checked; NULL: manual, not done yet
    evidence TEXT NOT NULL DEFAULT '[]',  -- JSON list of {entity, value, ts_ms}
    ts_ms INTEGER, note TEXT, completed_by TEXT, completed_ms INTEGER, alarm_id TEXT,
    PRIMARY KEY (record_id, seq)
);
CREATE TRIGGER IF NOT EXISTS mnt_inspection_signed_upd BEFORE UPDATE ON mnt_inspections
    WHEN OLD.signed_ms IS NOT NULL BEGIN SELECT RAISE(ABORT, 'inspection record is signed: immutable'); END;
CREATE TRIGGER IF NOT EXISTS mnt_inspection_signed_del BEFORE DELETE ON mnt_inspections
    WHEN OLD.signed_ms IS NOT NULL BEGIN SELECT RAISE(ABORT, 'inspection record is signed: immutable'); END;
CREATE TRIGGER IF NOT EXISTS mnt_item_signed_upd BEFORE UPDATE ON mnt_inspection_items
    WHEN (SELECT signed_ms FROM mnt_inspections WHERE id = OLD.record_id) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'inspection record is signed: immutable'); END;
CREATE TRIGGER IF NOT EXISTS mnt_item_signed_del BEFORE DELETE ON mnt_inspection_items
    WHEN (SELECT signed_ms FROM mnt_inspections WHERE id = OLD.record_id) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'inspection record is signed: immutable'); END;
CREATE TRIGGER IF NOT EXISTS mnt_item_signed_ins BEFORE INSERT ON mnt_inspection_items
    WHEN (SELECT signed_ms FROM mnt_inspections WHERE id = NEW.record_id) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'inspection record is signed: immutable'); END;

CREATE TABLE IF NOT EXISTS mnt_fault_records (
    alarm_id TEXT PRIMARY KEY,
    cause TEXT, method TEXT, prevention TEXT,
    parts TEXT NOT NULL DEFAULT '[]',     -- JSON list of replaced parts
    signed_by TEXT, signed_ms INTEGER, comment TEXT,
    requested INTEGER NOT NULL DEFAULT 0, -- a level IV alarm asked for a record
    updated_ms INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS mnt_fault_signed_upd BEFORE UPDATE ON mnt_fault_records
    WHEN OLD.signed_ms IS NOT NULL BEGIN SELECT RAISE(ABORT, 'fault record is signed: immutable'); END;

CREATE TABLE IF NOT EXISTS mnt_assets (
    gateway TEXT NOT NULL, device TEXT NOT NULL,
    site TEXT, room TEXT, rack TEXT, device_class TEXT, name TEXT,
    manufacturer TEXT, model TEXT, serial TEXT, hardware TEXT, firmware TEXT, software TEXT,
    ip TEXT, mac TEXT, install_date TEXT, warranty_end TEXT, battery_install_date TEXT,
    identity TEXT NOT NULL DEFAULT '{}', first_seen_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    PRIMARY KEY (gateway, device)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mnt_asset_history (
    gateway TEXT NOT NULL, device TEXT NOT NULL, ts_ms INTEGER NOT NULL,
    change TEXT NOT NULL,                 -- added | firmware_changed | replaced
    field TEXT, old TEXT, new TEXT, alarm_id TEXT
);
CREATE INDEX IF NOT EXISTS mnt_asset_history_time ON mnt_asset_history(ts_ms);
"""


def ensure_schema(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)

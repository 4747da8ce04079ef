"""Where history goes: the interface, and the embedded SQLite history (the default)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Protocol

from lvgate.collector.points import Point


class StorageUnavailable(Exception):
    """Storage cannot take writes now; the batch stays queued and is retried."""


class Storage(Protocol):
    name: str

    async def write(self, points: list[Point]) -> None:
        """Store every point. Idempotent: writing a point twice stores it once."""

    async def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    gateway TEXT NOT NULL,
    device TEXT NOT NULL,
    entity TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    site TEXT NOT NULL,
    room TEXT NOT NULL,
    device_class TEXT NOT NULL,
    value REAL,
    value_text TEXT,
    unit TEXT,
    quality TEXT NOT NULL DEFAULT 'good',
    PRIMARY KEY (gateway, device, entity, ts_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_time ON readings(ts_ms);
"""


class SqliteHistory:
    """History in one SQLite file, the way Home Assistant's recorder defaults to SQLite."""

    name = "sqlite"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def _rows(self, points: list[Point]) -> list[tuple[object, ...]]:
        rows: list[tuple[object, ...]] = []
        for p in points:
            value = p.value
            number = float(value) if isinstance(value, int | float) else None  # bool is an int: 0/1
            text = value if isinstance(value, str) else None
            t = p.tags
            rows.append(
                (
                    t["gateway"], t["device"], t["entity"], p.ts_ms, t["site"], t["room"], t["device_class"],
                    number, text, t.get("unit"), str(p.fields.get("quality", "good")),
                )
            )  # fmt: skip
        return rows

    def _write(self, points: list[Point]) -> None:
        rows = self._rows(points)
        self._db.execute("BEGIN")
        try:
            self._db.executemany("INSERT OR REPLACE INTO readings VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._db.execute("ROLLBACK")
            raise StorageUnavailable(f"sqlite history {self.path}: {exc}") from exc

    async def write(self, points: list[Point]) -> None:
        await asyncio.to_thread(self._write, points)

    async def history(
        self, gateway: str, device: str, entity: str, start_ms: int, end_ms: int, limit: int
    ) -> list[dict[str, object]]:
        rows = self._db.execute(
            "SELECT ts_ms, value, value_text, quality FROM readings WHERE gateway = ? AND device = ? AND entity = ? "
            "AND ts_ms >= ? AND ts_ms <= ? ORDER BY ts_ms LIMIT ?",
            (gateway, device, entity, start_ms, end_ms, limit),
        ).fetchall()
        return [{"ts_ms": r[0], "value": r[1] if r[2] is None else r[2], "quality": r[3]} for r in rows]

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM readings").fetchone()[0])

    async def close(self) -> None:
        self._db.close()

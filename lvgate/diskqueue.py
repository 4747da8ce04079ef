"""A FIFO of messages on disk (SQLite in WAL mode) that survives crashes and power cuts.

The gateway keeps every outgoing MQTT message here until the broker acknowledged it; the
collector keeps every incoming message here until storage accepted it. Rows are written in
one transaction per event-loop turn, so a busy gateway pays one commit per burst, not per
message. When a bound is hit the oldest *history* goes first; events and alarms go last,
and every drop is counted.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path


class Priority(IntEnum):
    HISTORY = 0  # telemetry: the oldest is dropped first under pressure
    EVENT = 1  # events and alarms: dropped only when nothing else is left


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    id: int
    topic: str
    payload: bytes
    priority: Priority
    created_ms: int


_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    priority INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_priority ON queue(priority, id);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class DiskQueue:
    """Durable FIFO. Not thread-safe: use it from one thread (the event loop)."""

    def __init__(self, path: Path, *, max_messages: int = 1_000_000, max_age_s: float = 30 * 86400) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_messages = max_messages
        self.max_age_ms = int(max_age_s * 1000)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode loses at most the last commits on power loss, never corrupts.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._depth = self._db.execute("SELECT COUNT(*) FROM queue").fetchone()[0]
        self._age_checked_ms = -(2**62)  # when the age bound was last applied

    def __len__(self) -> int:
        return int(self._depth)

    def put_many(
        self,
        items: Iterable[tuple[str, bytes, Priority]],
        now_ms: int | None = None,
        *,
        in_flight_up_to: int = 0,
        protect_new: bool = False,
    ) -> list[int]:
        """Append messages in order; returns their ids (monotonic, never reused).

        Messages with an id up to ``in_flight_up_to`` were already handed to the broker
        connection and will be delivered: the bounds never drop (or count) them.
        """
        created = int(time.time() * 1000) if now_ms is None else now_ms
        ids: list[int] = []
        with self._transaction():
            for topic, payload, priority in items:
                cursor = self._db.execute(
                    "INSERT INTO queue(topic, payload, priority, created_ms) VALUES (?, ?, ?, ?)",
                    (topic, payload, int(priority), created),
                )
                ids.append(int(cursor.lastrowid or 0))
            self._depth += len(ids)
            # Messages about to be handed over (``protect_new``) count as in flight: should only
            # in-flight messages be left to drop, the queue stays over its bound until acked.
            below = ids[0] if protect_new and ids else 2**63 - 1
            self._enforce_bounds(created, in_flight_up_to, below_id=below)
        return ids

    def peek(self, limit: int, after_id: int = 0) -> list[QueuedMessage]:
        """The oldest ``limit`` messages with an id above ``after_id``, in order."""
        rows = self._db.execute(
            "SELECT id, topic, payload, priority, created_ms FROM queue WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        ).fetchall()
        return [QueuedMessage(r[0], r[1], bytes(r[2]), Priority(r[3]), r[4]) for r in rows]

    def remove(self, ids: Iterable[int]) -> None:
        id_list = list(ids)
        if not id_list:
            return
        with self._transaction():
            removed = 0
            for start in range(0, len(id_list), 500):
                chunk = id_list[start : start + 500]
                marks = ",".join("?" * len(chunk))
                removed += self._db.execute(f"DELETE FROM queue WHERE id IN ({marks})", chunk).rowcount
            self._depth -= removed

    def dropped(self) -> dict[str, int]:
        """How many messages each bound has dropped since the queue file was created."""
        return {name: value for name, value in self._db.execute("SELECT name, value FROM counters")}

    def close(self) -> None:
        self._db.close()

    def _enforce_bounds(self, now_ms: int, in_flight_up_to: int, below_id: int) -> None:
        # The age bound is looked at once a second, not at every commit: a message leaves at
        # most a second after its time is up.
        if not 0 <= now_ms - self._age_checked_ms < 1000:
            self._age_checked_ms = now_ms
            too_old = self._db.execute(
                "DELETE FROM queue WHERE priority = ? AND created_ms < ? AND id > ?",
                (int(Priority.HISTORY), now_ms - self.max_age_ms, in_flight_up_to),
            ).rowcount
            self._count("dropped_age", too_old)
            self._depth -= too_old
        excess = self._depth - self.max_messages
        if excess <= 0:
            return
        for priority, counter in ((Priority.HISTORY, "dropped_history"), (Priority.EVENT, "dropped_events")):
            if excess <= 0:
                break
            gone = self._db.execute(
                "DELETE FROM queue WHERE id IN"
                " (SELECT id FROM queue WHERE priority = ? AND id > ? AND id < ? ORDER BY id LIMIT ?)",
                (int(priority), in_flight_up_to, below_id, excess),
            ).rowcount
            self._count(counter, gone)
            self._depth -= gone
            excess -= gone

    def _count(self, name: str, amount: int) -> None:
        if amount:
            self._db.execute(
                "INSERT INTO counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + ?",
                (name, amount, amount),
            )

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> None:
            self.db.execute("BEGIN")

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")

    def _transaction(self) -> DiskQueue._Tx:
        return DiskQueue._Tx(self._db)

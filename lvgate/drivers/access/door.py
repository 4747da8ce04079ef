"""Door state and the events derived from it, with the clock passed in (pure, testable).

A door opening is authorised when, within ``grant_window_ms`` before it, the controller
granted access, someone pressed request-to-exit, or the lock relay released. Otherwise it
is forced. A door open longer than ``held_after_ms`` is held open, reported once per
opening. The first report of an input after start sets the state without an event:
the history before it is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class DoorEvent:
    kind: str
    severity: str = "info"
    data: dict[str, Any] = field(default_factory=dict)


# (event when it becomes true, severity), (event when it becomes false, severity)
_EDGES: dict[str, tuple[tuple[str, str] | None, tuple[str, str] | None]] = {
    "tamper": (("tamper", "critical"), ("tamper_cleared", "info")),
    "power_ok": (("power_restored", "info"), ("power_lost", "warning")),
    "request_to_exit": (("request_to_exit", "info"), None),
}
# States worth an event even when they are the first thing heard after start (alarms, a press).
_EVENT_AT_START = {("tamper", True), ("power_ok", False), ("request_to_exit", True)}


@dataclass
class DoorLogic:
    grant_window_ms: int
    held_after_ms: int
    state: dict[str, bool] = field(default_factory=dict)
    _authorised_ms: int | None = None
    _opened_ms: int | None = None
    _held_reported: bool = False

    def authorise(self, now_ms: int) -> None:
        """A grant, an exit request or a lock release: the next opening is legitimate."""
        self._authorised_ms = now_ms

    def on_input(self, entity: str, value: bool, now_ms: int) -> list[DoorEvent]:
        previous = self.state.get(entity)
        self.state[entity] = value
        if (entity == "request_to_exit" and value) or (entity == "lock_engaged" and not value):
            self.authorise(now_ms)
        if previous is None:
            if entity == "door_open" and value:
                self._opened_ms, self._held_reported = now_ms, False
            if (entity, value) in _EVENT_AT_START:
                edge = _EDGES[entity][0 if value else 1]
                return [DoorEvent(edge[0], edge[1])] if edge else []
            return []
        if previous == value:
            return []
        if entity == "door_open":
            return self._door(value, now_ms)
        edge = _EDGES.get(entity, (None, None))[0 if value else 1]
        return [DoorEvent(edge[0], edge[1])] if edge else []

    def _door(self, opened: bool, now_ms: int) -> list[DoorEvent]:
        if not opened:
            open_ms = now_ms - self._opened_ms if self._opened_ms is not None else None
            self._opened_ms, self._held_reported = None, False
            return [DoorEvent("door_closed", data={"open_s": round(open_ms / 1000, 3)} if open_ms is not None else {})]
        self._opened_ms, self._held_reported = now_ms, False
        events = [DoorEvent("door_opened")]
        since = None if self._authorised_ms is None else now_ms - self._authorised_ms
        unlocked = self.state.get("lock_engaged") is False  # lock held open: free passage
        if not unlocked and (since is None or since > self.grant_window_ms):
            reason = (
                "no grant or exit request"
                if since is None
                else f"last grant or exit request {since / 1000:.1f} s before"
            )
            events.append(DoorEvent("door_forced", "critical", {"reason": reason}))
        # One authorisation lets the door open once.
        self._authorised_ms = None
        return events

    def tick(self, now_ms: int) -> list[DoorEvent]:
        """Events due by the clock alone: a door held open too long."""
        if self._opened_ms is None or self._held_reported:
            return []
        open_ms = now_ms - self._opened_ms
        if open_ms < self.held_after_ms:
            return []
        self._held_reported = True
        return [
            DoorEvent(
                "door_held", "warning", {"open_s": round(open_ms / 1000, 3), "limit_s": self.held_after_ms / 1000}
            )
        ]


@dataclass
class ReaderWatch:
    """Reader offline when nothing (heartbeat or any frame) arrived for ``timeout_ms``."""

    timeout_ms: int | None
    last_ms: int | None = None
    online: bool | None = None

    def heard(self, now_ms: int) -> list[DoorEvent]:
        self.last_ms = now_ms
        was = self.online
        self.online = True
        return [DoorEvent("reader_online")] if was is False else []

    def tick(self, now_ms: int) -> list[DoorEvent]:
        if self.timeout_ms is None or self.online is False:
            return []
        if self.last_ms is None:
            self.last_ms = now_ms  # the clock starts when we start listening
            return []
        silent = now_ms - self.last_ms
        if silent < self.timeout_ms:
            return []
        self.online = False
        return [DoorEvent("reader_offline", "warning", {"silent_s": round(silent / 1000, 3)})]

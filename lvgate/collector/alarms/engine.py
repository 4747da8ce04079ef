"""The alarm decisions as pure functions of a rule, its remembered condition and the time.

Nothing here reads a clock or a database: the book loads a :class:`Condition`, feeds it what
arrived (a value, an availability change, an event) or just the time (a tick), and applies the
:class:`Action` that comes back. Inputs older than the last one seen are ignored, which is what
makes a QoS 1 redelivery or a second collector's late copy harmless.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from lvgate.collector.alarms.rules import (
    EventRule,
    FlapSettings,
    OfflineRule,
    RateRule,
    Rule,
    Scalar,
    StateRule,
    ThresholdRule,
)


class Action(enum.Enum):
    RAISE = "raise"
    CLEAR = "clear"
    FLAPPING = "flapping"  # would have cleared, but it changes too often: it stays raised, marked


@dataclass
class Condition:
    """What one rule remembers about one device (persisted as JSON between batches and restarts)."""

    bad: bool = False
    since_ms: int | None = None  # when the condition last became true
    good_since_ms: int | None = None  # when it last became false
    last_ts_ms: int = -1  # time of the latest input; older inputs are ignored
    last_value: float | None = None  # for rate rules
    value: Scalar | None = None  # the latest value while bad (reported with the alarm when raised)
    raised: bool = False  # an alarm is open for this condition
    flapping: bool = False
    changes: list[int] = field(default_factory=list)  # raise/clear times, for flap detection

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Condition:
        return cls(**data)


def _set_bad(cond: Condition, bad: bool, ts_ms: int, value: Scalar | None = None) -> None:
    if bad and not cond.bad:
        cond.since_ms, cond.value = ts_ms, value
    elif not bad and cond.bad:
        cond.good_since_ms = ts_ms
    elif bad:
        cond.value = value if value is not None else cond.value
    cond.bad = bad


def observe_value(rule: Rule, cond: Condition, value: Scalar, ts_ms: int) -> bool:
    """Feed one reading of the rule's entity. False when it was stale and ignored."""
    if ts_ms <= cond.last_ts_ms:
        return False
    if isinstance(rule, ThresholdRule):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        _set_bad(cond, rule.bad(float(value), cond.bad), ts_ms, value)
    elif isinstance(rule, StateRule):
        _set_bad(cond, rule.bad(value), ts_ms, value)
    elif isinstance(rule, RateRule):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if cond.last_value is not None and cond.last_ts_ms >= 0:
            rate = (float(value) - cond.last_value) / ((ts_ms - cond.last_ts_ms) / 1000) * rule.per_s
            _set_bad(cond, rule.bad(rate), ts_ms, round(rate, 6))
        cond.last_value = float(value)
    else:
        return False
    cond.last_ts_ms = ts_ms
    return True


def observe_availability(cond: Condition, online: bool, ts_ms: int, reason: str | None) -> bool:
    if ts_ms <= cond.last_ts_ms:
        return False
    _set_bad(cond, not online, ts_ms, reason)
    cond.last_ts_ms = ts_ms
    return True


def observe_event(rule: EventRule, cond: Condition, event: str, ts_ms: int) -> bool:
    if ts_ms <= cond.last_ts_ms or event not in (rule.event, rule.clear_event):
        return False
    if event == rule.event:
        cond.bad = False  # every occurrence restarts the condition (and its clear_after timer)
        _set_bad(cond, True, ts_ms, event)
    else:
        _set_bad(cond, False, ts_ms)
    cond.last_ts_ms = ts_ms
    return True


def decide(rule: Rule, cond: Condition, now_ms: int, flap: FlapSettings, *, silenced: bool = False) -> Action | None:
    """What to do now. ``silenced`` (a maintenance window) holds back raising, never clearing."""
    expires_ms = _event_expiry(rule, cond)
    if expires_ms is not None and now_ms >= expires_ms:
        _set_bad(cond, False, expires_ms)
    window_ms = int(flap.window_s * 1000)
    cond.changes = [t for t in cond.changes if now_ms - t < window_ms]
    if cond.bad and not cond.raised:
        assert cond.since_ms is not None
        if silenced or now_ms - cond.since_ms < rule.for_s * 1000:
            return None
        cond.raised = True
        cond.changes.append(now_ms)
        return Action.RAISE
    if not cond.bad and cond.raised:
        if isinstance(rule, EventRule) and rule.clear_event is None and rule.clear_after_s is None:
            return None  # nothing can clear it: the duty staff close it
        if cond.flapping:
            if cond.good_since_ms is not None and now_ms - cond.good_since_ms >= window_ms:
                cond.raised = cond.flapping = False
                cond.changes = []
                return Action.CLEAR
            return None
        if len(cond.changes) + 1 >= flap.changes:
            cond.flapping = True
            return Action.FLAPPING
        cond.raised = False
        cond.changes.append(now_ms)
        return Action.CLEAR
    return None


def _event_expiry(rule: Rule, cond: Condition) -> int | None:
    """When a bad event condition with ``clear_after_s`` clears by itself."""
    if not isinstance(rule, EventRule) or rule.clear_after_s is None or not cond.bad or cond.since_ms is None:
        return None
    return cond.since_ms + int(rule.clear_after_s * 1000)


def input_kind(rule: Rule) -> str:
    """Which input feeds the rule: 'value', 'availability' or 'event'."""
    if isinstance(rule, OfflineRule):
        return "availability"
    if isinstance(rule, EventRule):
        return "event"
    return "value"

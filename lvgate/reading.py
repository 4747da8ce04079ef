"""The one record every driver produces and every later stage consumes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

Value = float | int | bool | str | None


class Quality(StrEnum):
    """How far a value can be trusted.

    ``good``: read from the device and decoded. ``uncertain``: read, but outside what is
    physically plausible (a NaN float, a sensor reporting 3000 C). ``bad``: no value could
    be had (timeout, exception reply, vendor "invalid" sentinel); ``value`` is then None.
    """

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds (UTC), the unit every timestamp in lvgate uses."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True, frozen=True)
class Reading:
    """One measured value of one entity of one device, stamped with when it was measured."""

    device: str
    key: str
    value: Value
    ts_ms: int
    quality: Quality = Quality.GOOD

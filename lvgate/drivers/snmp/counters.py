"""Counter32/Counter64 samples turned into rates, with wraps told apart from restarts.

Pure functions, no I/O. The rules:
- the first sample gives no rate;
- sysUpTime going back (and not by its own 2^32-tick wrap) means the agent restarted: its
  counters started again from zero, so no rate across the restart;
- a counter going down is a wrap when the wrapped difference is plausible: at most the
  largest increase the link could make in that time (``max_rate``), or, when that is not
  known, less than half the counter's range; anything else is a discontinuity (counters
  cleared, a module swapped) and gives no rate;
- a 32-bit counter that could have wrapped more than once between two samples (a long gap
  at a known maximum rate) gives no rate rather than a wrong one;
- Counter64 values stay unsigned Python ints: no float rounding before the difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

TICKS_WRAP = 1 << 32  # sysUpTime is TimeTicks, hundredths of a second, 32 bits


class RateStatus(StrEnum):
    OK = "ok"
    WRAP = "wrap"  # a rate, across one counter wrap
    FIRST = "first"
    RESTART = "restart"
    DISCONTINUITY = "discontinuity"
    AMBIGUOUS = "ambiguous"  # too long a gap: several wraps possible
    BAD_TIME = "bad_time"  # time did not move forward


@dataclass(frozen=True, slots=True)
class Sample:
    value: int
    ts_ms: int
    uptime_ticks: int | None = None  # sysUpTime read in the same PDU, when known


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float | None
    status: RateStatus


def agent_restarted(prev_ticks: int | None, cur_ticks: int | None, elapsed_ms: int) -> bool:
    """True when sysUpTime went back by more than its own 32-bit wrap explains."""
    if prev_ticks is None or cur_ticks is None or cur_ticks >= prev_ticks:
        return False
    expected = (prev_ticks + elapsed_ms // 10) % TICKS_WRAP
    # Allow a generous slack (10 s or a tenth of the interval) for clock and timing jitter.
    slack = max(1000, elapsed_ms // 100)
    wrapped_near = abs(cur_ticks - expected) <= slack or abs(cur_ticks - expected) >= TICKS_WRAP - slack
    return not (prev_ticks + elapsed_ms // 10 >= TICKS_WRAP - slack and wrapped_near)


def counter_rate(prev: Sample | None, cur: Sample, bits: int, max_rate: float | None = None) -> Rate:
    """Units per second between two samples of one counter of ``bits`` (32 or 64) bits.

    ``max_rate`` is the most the counter can grow per second (an interface's speed in
    octets/s, say); it sharpens the wrap test and detects gaps too long to judge."""
    if bits not in (32, 64):
        raise ValueError("bits must be 32 or 64")
    modulus = 1 << bits
    if not 0 <= cur.value < modulus:
        raise ValueError(f"counter value {cur.value} out of range for Counter{bits}")
    if prev is None:
        return Rate(None, RateStatus.FIRST)
    elapsed_ms = cur.ts_ms - prev.ts_ms
    if elapsed_ms <= 0:
        return Rate(None, RateStatus.BAD_TIME)
    if agent_restarted(prev.uptime_ticks, cur.uptime_ticks, elapsed_ms):
        return Rate(None, RateStatus.RESTART)
    seconds = elapsed_ms / 1000
    limit = max_rate * seconds if max_rate is not None else None
    if limit is not None and limit >= modulus:
        return Rate(None, RateStatus.AMBIGUOUS)
    delta = cur.value - prev.value
    if delta >= 0:
        if limit is not None and delta > limit:
            return Rate(None, RateStatus.DISCONTINUITY)
        return Rate(delta / seconds, RateStatus.OK)
    wrapped = delta + modulus
    plausible = wrapped <= limit if limit is not None else wrapped < modulus // 2
    if not plausible:
        return Rate(None, RateStatus.DISCONTINUITY)
    return Rate(wrapped / seconds, RateStatus.WRAP)

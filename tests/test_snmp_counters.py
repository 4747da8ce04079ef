"""Counter arithmetic: Counter32/Counter64 to rates, property-tested."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lvgate.drivers.snmp.counters import TICKS_WRAP, RateStatus, Sample, agent_restarted, counter_rate

U32 = 1 << 32
U64 = 1 << 64
elapsed = st.integers(min_value=1, max_value=3_600_000)  # 1 ms .. 1 h


def test_first_sample_gives_no_rate() -> None:
    rate = counter_rate(None, Sample(123, 1000), 32)
    assert rate.per_second is None and rate.status is RateStatus.FIRST


@given(start=st.integers(0, U32 - 1), delta=st.integers(0, (1 << 31) - 1), dt=elapsed)
def test_counter32_rate_across_a_wrap(start: int, delta: int, dt: int) -> None:
    cur = (start + delta) % U32  # what a 32-bit agent reports after `delta` more units
    rate = counter_rate(Sample(start, 0), Sample(cur, dt), 32)
    assert rate.per_second == pytest.approx(delta * 1000 / dt)
    assert rate.status is (RateStatus.WRAP if start + delta >= U32 else RateStatus.OK)


@given(start=st.integers(U64 - (1 << 40), U64 - 1), delta=st.integers(0, (1 << 40) - 1), dt=elapsed)
def test_counter64_near_2_64_stays_unsigned_and_exact(start: int, delta: int, dt: int) -> None:
    cur = (start + delta) % U64
    rate = counter_rate(Sample(start, 0), Sample(cur, dt), 64)
    assert rate.per_second is not None and rate.per_second >= 0
    assert rate.per_second == pytest.approx(delta * 1000 / dt)


@given(
    prev_value=st.integers(0, U64 - 1),
    cur_value=st.integers(0, U64 - 1),
    prev_ticks=st.integers(100_000, TICKS_WRAP // 2),
    back=st.integers(1_001, 100_000),
    dt=st.integers(1, 60_000),
)
def test_agent_restart_gives_no_rate(prev_value: int, cur_value: int, prev_ticks: int, back: int, dt: int) -> None:
    # sysUpTime went back by more than the slack: the agent restarted, whatever the counters say
    rate = counter_rate(Sample(prev_value, 0, prev_ticks), Sample(cur_value, dt, prev_ticks - back), 64)
    assert rate.per_second is None and rate.status is RateStatus.RESTART


@given(dt=st.integers(1_000, 60_000), data=st.data())
def test_sysuptime_own_wrap_is_not_a_restart(dt: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, dt // 10))  # sysUpTime was k ticks below 2^32
    prev_ticks = TICKS_WRAP - k
    cur_ticks = dt // 10 - k  # and wrapped round to this
    assert not agent_restarted(prev_ticks, cur_ticks, dt)


@given(cur=st.integers(0, (1 << 62)), drop=st.integers(1, (1 << 63) - 1))
def test_counter64_going_down_is_a_discontinuity(cur: int, drop: int) -> None:
    prev = cur + drop
    if prev >= U64:
        return
    rate = counter_rate(Sample(prev, 0, 5000), Sample(cur, 10_000, 6000), 64)
    assert rate.per_second is None and rate.status is RateStatus.DISCONTINUITY


@given(
    start=st.integers(0, U32 - 1),
    d1=st.integers(0, (1 << 30) - 1),
    d2=st.integers(0, (1 << 30) - 1),
    t1=elapsed,
    t2=elapsed,
)
def test_missing_sample_gives_the_rate_over_the_longer_interval(start: int, d1: int, d2: int, t1: int, t2: int) -> None:
    s0 = Sample(start, 0)
    s2 = Sample((start + d1 + d2) % U32, t1 + t2)  # s1 (at t1) was lost
    rate = counter_rate(s0, s2, 32)
    assert rate.per_second == pytest.approx((d1 + d2) * 1000 / (t1 + t2))


def test_gap_too_long_for_the_link_speed_is_ambiguous() -> None:
    # 10 Gbit/s = 1.25e9 octets/s wraps a Counter32 in 3.4 s: 10 s apart cannot be judged
    rate = counter_rate(Sample(0, 0), Sample(100, 10_000), 32, max_rate=1.25e9)
    assert rate.per_second is None and rate.status is RateStatus.AMBIGUOUS


def test_drop_beyond_link_speed_is_a_discontinuity() -> None:
    # counters cleared: 4e9 -> 10 in 10 s on a 1 Mbit/s link cannot be a wrap (max 1.25e6 octets)
    rate = counter_rate(Sample(4_000_000_000, 0), Sample(10, 10_000), 32, max_rate=125_000)
    assert rate.status is RateStatus.DISCONTINUITY


def test_time_not_moving_forward_gives_no_rate() -> None:
    assert counter_rate(Sample(1, 5000), Sample(2, 5000), 32).status is RateStatus.BAD_TIME


def test_value_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError):
        counter_rate(None, Sample(U32, 0), 32)

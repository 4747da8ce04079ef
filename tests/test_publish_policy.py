"""Deadband and heartbeat decide which readings are published."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from lvgate.gateway.policy import PublishFilter, PublishPolicy
from lvgate.reading import Quality, Reading


def r(key: str, value: float | bool | str | None, ts: int, q: Quality = Quality.GOOD) -> Reading:
    return Reading("dev", key, value, ts, q)


def test_unchanged_values_wait_for_the_heartbeat() -> None:
    f = PublishFilter(PublishPolicy(heartbeat=60))
    assert f.select([r("t", 21.0, 0)]) == [r("t", 21.0, 0)]
    assert f.select([r("t", 21.0, 30_000)]) == []
    assert f.select([r("t", 21.0, 59_999)]) == []
    assert f.select([r("t", 21.0, 60_000)]) == [r("t", 21.0, 60_000)]


def test_absolute_and_percent_deadbands() -> None:
    f = PublishFilter(PublishPolicy(deadband={"t": 0.5, "load": "10%"}))
    f.select([r("t", 20.0, 0), r("load", 40.0, 0)])
    assert f.select([r("t", 20.5, 1), r("load", 44.0, 1)]) == []  # exactly on the band: not beyond it
    assert f.select([r("t", 20.6, 2), r("load", 44.1, 2)]) == [r("t", 20.6, 2), r("load", 44.1, 2)]


def test_quality_change_and_states_always_publish() -> None:
    f = PublishFilter(PublishPolicy(deadband={"t": 100}))
    f.select([r("t", 20.0, 0), r("mode", "online", 0)])
    assert f.select([r("t", None, 1, Quality.BAD)]) == [r("t", None, 1, Quality.BAD)]
    assert f.select([r("mode", "on_battery", 2)]) == [r("mode", "on_battery", 2)]


def test_heartbeat_zero_publishes_every_poll() -> None:
    f = PublishFilter(PublishPolicy(heartbeat=0))
    assert len(f.select([r("t", 1.0, 0)])) == 1
    assert len(f.select([r("t", 1.0, 1)])) == 1


@pytest.mark.parametrize("band", ["2", "x%", "-1%", -0.5])
def test_bad_deadbands_are_config_errors(band: object) -> None:
    with pytest.raises(ValidationError, match="deadband of 't'"):
        PublishPolicy.model_validate({"deadband": {"t": band}})


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=50), st.floats(0, 10))
def test_published_values_never_drift_more_than_the_band(values: list[float], band: float) -> None:
    """Whatever is suppressed stays within the band of the last published value."""
    f = PublishFilter(PublishPolicy(heartbeat=1e6 / 1000, deadband={"x": band}))
    last: float | None = None
    for i, value in enumerate(values):
        published = f.select([r("x", value, i)])
        if published:
            last = value
        else:
            assert last is not None and abs(value - last) <= band

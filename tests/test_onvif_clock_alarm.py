"""Clock drift beyond the camera's configured limit raises the default alarm rule, and clears.

The alarm book runs on a simulated clock (every time below is chosen by the test); the drift
readings come from the driver polling the recorded Axis camera with its clock set off.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lvgate.collector.alarms.book import AlarmBook, DeviceContext, ValueInput
from lvgate.collector.alarms.rules import load_rules
from lvgate.collector.central import CentralDb
from lvgate.drivers.onvif.driver import OnvifDeviceConfig, OnvifPoller
from lvgate.reading import Reading
from tests.onvif_responder import PASSWORD, USERNAME, responder

DEFAULT_RULES = Path(__file__).parent.parent / "edge_config" / "rules"
T0 = 1_800_000_000_000
MIN = 60_000
CAM = DeviceContext("gw-1", "cam-1", "camera", "HQ", "B1")


def open_book(tmp_path: Path) -> AlarmBook:
    return AlarmBook(CentralDb(tmp_path / "central.sqlite"), load_rules([DEFAULT_RULES]))


def feed(book: AlarmBook, *inputs: ValueInput) -> None:
    with book.central.transaction():
        book.apply(inputs)


def drift_alarms(book: AlarmBook) -> list[dict[str, object]]:
    return [r for r in book.query() if r["rule"] == "camera_clock_drift"]


def test_default_rule_raises_and_clears_on_clock_drift_exceeded(tmp_path: Path) -> None:
    book = open_book(tmp_path)
    feed(book, ValueInput(CAM, "clock_drift_exceeded", False, T0))
    assert drift_alarms(book) == []
    feed(book, ValueInput(CAM, "clock_drift_exceeded", True, T0 + MIN))
    (row,) = drift_alarms(book)
    assert row["level"] == "III" and row["device_class"] == "camera" and row["entity"] == "clock_drift_exceeded"
    assert row["raised_ms"] == T0 + MIN and row["cleared_ms"] is None
    assert "clock" in str(row["message"]).lower()
    feed(book, ValueInput(CAM, "clock_drift_exceeded", True, T0 + 2 * MIN))  # still off: the same alarm
    assert len(drift_alarms(book)) == 1
    feed(book, ValueInput(CAM, "clock_drift_exceeded", False, T0 + 3 * MIN))
    (row,) = drift_alarms(book)
    assert row["cleared_ms"] == T0 + 3 * MIN


def test_the_rule_is_for_cameras_only(tmp_path: Path) -> None:
    book = open_book(tmp_path)
    reader = DeviceContext("gw-1", "door-1", "access_controller", "HQ", "B1")
    feed(book, ValueInput(reader, "clock_drift_exceeded", True, T0))
    assert drift_alarms(book) == []


def test_limit_is_per_device_config_and_must_be_positive() -> None:
    base = {"id": "cam-1", "host": "127.0.0.1", "username": USERNAME}
    assert OnvifDeviceConfig.model_validate(base).clock_drift_limit == 10.0
    assert OnvifDeviceConfig.model_validate({**base, "clock_drift_limit": 120}).clock_drift_limit == 120.0
    for bad in (0, -5, "soon"):
        with pytest.raises(ValidationError, match="clock_drift_limit"):
            OnvifDeviceConfig.model_validate({**base, "clock_drift_limit": bad})


async def poll_drift(clock_offset: float, limit: float) -> dict[str, Reading]:
    async with responder("onvif-nvt_axis-q6045-e", clock_offset=clock_offset) as r:
        config = OnvifDeviceConfig.model_validate(
            {"id": "cam-1", "host": "127.0.0.1", "port": r.port, "username": USERNAME, "password": PASSWORD,
             "timeout": 2, "snapshot": False, "events": False, "clock_drift_limit": limit}
        )  # fmt: skip
        poller = OnvifPoller(config)
        try:
            return {x.key: x for x in await poller.poll()}
        finally:
            await poller.close()


async def test_camera_off_by_five_minutes_against_two_limits_raises_then_clears(tmp_path: Path) -> None:
    # The same camera, 300 s fast: beyond a 60 s limit, within a 600 s one.
    strict = await poll_drift(300.0, 60.0)
    lenient = await poll_drift(300.0, 600.0)
    for readings in (strict, lenient):
        drift = readings["clock_drift"].value
        assert isinstance(drift, float) and abs(drift - 300.0) < 3.0
    assert strict["clock_drift_exceeded"].value is True
    assert lenient["clock_drift_exceeded"].value is False
    # and a camera running 300 s slow is as wrong as one running fast
    assert (await poll_drift(-300.0, 60.0))["clock_drift_exceeded"].value is True

    book = open_book(tmp_path)
    feed(book, ValueInput(CAM, "clock_drift_exceeded", strict["clock_drift_exceeded"].value, T0))
    assert [r["cleared_ms"] for r in drift_alarms(book)] == [None]
    feed(book, ValueInput(CAM, "clock_drift_exceeded", lenient["clock_drift_exceeded"].value, T0 + MIN))
    assert [r["cleared_ms"] for r in drift_alarms(book)] == [T0 + MIN]

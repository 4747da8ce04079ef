"""Door state and derived events, with the clock in the test's hands."""

from __future__ import annotations

from lvgate.drivers.access.door import DoorEvent, DoorLogic, ReaderWatch


def kinds(events: list[DoorEvent]) -> list[str]:
    return [e.kind for e in events]


def door() -> DoorLogic:
    logic = DoorLogic(grant_window_ms=10_000, held_after_ms=30_000)
    logic.on_input("door_open", False, 0)  # first report: state only
    logic.on_input("lock_engaged", True, 0)
    return logic


def test_opening_without_grant_is_forced() -> None:
    logic = door()
    assert kinds(logic.on_input("door_open", True, 1_000)) == ["door_opened", "door_forced"]


def test_opening_after_a_grant_or_exit_request_is_not_forced() -> None:
    logic = door()
    logic.authorise(1_000)
    assert kinds(logic.on_input("door_open", True, 5_000)) == ["door_opened"]
    logic.on_input("door_open", False, 6_000)
    assert kinds(logic.on_input("request_to_exit", True, 7_000)) == ["request_to_exit"]
    assert kinds(logic.on_input("door_open", True, 8_000)) == ["door_opened"]


def test_a_grant_is_good_for_one_opening_within_the_window() -> None:
    logic = door()
    logic.authorise(0)
    assert kinds(logic.on_input("door_open", True, 11_000)) == ["door_opened", "door_forced"]
    logic.on_input("door_open", False, 12_000)
    logic.authorise(13_000)
    logic.on_input("door_open", True, 14_000)
    logic.on_input("door_open", False, 15_000)
    assert "door_forced" in kinds(logic.on_input("door_open", True, 16_000))


def test_lock_released_by_the_controller_authorises() -> None:
    logic = door()
    logic.on_input("lock_engaged", False, 1_000)
    assert kinds(logic.on_input("door_open", True, 2_000)) == ["door_opened"]


def test_door_held_once_past_the_limit() -> None:
    logic = door()
    logic.authorise(0)
    logic.on_input("door_open", True, 1_000)
    assert logic.tick(30_999) == []
    held = logic.tick(31_000)
    assert kinds(held) == ["door_held"] and held[0].data["open_s"] == 30.0
    assert logic.tick(60_000) == []
    closed = logic.on_input("door_open", False, 61_000)
    assert kinds(closed) == ["door_closed"] and closed[0].data["open_s"] == 60.0


def test_tamper_and_power_edges() -> None:
    logic = DoorLogic(grant_window_ms=1, held_after_ms=1)
    assert kinds(logic.on_input("tamper", True, 0)) == ["tamper"]  # alarm even as first report
    assert kinds(logic.on_input("tamper", False, 1)) == ["tamper_cleared"]
    assert kinds(logic.on_input("power_ok", True, 0)) == []
    assert kinds(logic.on_input("power_ok", False, 2)) == ["power_lost"]
    assert kinds(logic.on_input("power_ok", True, 3)) == ["power_restored"]


def test_reader_offline_after_silence_and_back_on_the_next_frame() -> None:
    watch = ReaderWatch(timeout_ms=5_000)
    assert watch.tick(0) == []
    watch.heard(1_000)
    assert watch.tick(5_999) == []
    assert kinds(watch.tick(6_000)) == ["reader_offline"]
    assert watch.tick(9_000) == []
    assert kinds(watch.heard(9_500)) == ["reader_online"]


def test_no_heartbeat_expected_means_never_offline() -> None:
    watch = ReaderWatch(timeout_ms=None)
    assert watch.tick(10**9) == []

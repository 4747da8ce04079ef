"""The access driver on a real serial line (a socat pty pair): reading, unplug/replug, the probe tool."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from lvgate.drivers.access.driver import AccessDeviceConfig, AccessPoller
from lvgate.drivers.base import DeviceEvent
from lvgate.reading import Reading
from tests.serial_peers import PtyPair
from tests.services import ProcessGuard, lvgate_executable, wait_for_async

KEY = "site-key-0123456789abcdef"


class Recorder:
    """A DeviceSink that keeps everything it is given."""

    def __init__(self) -> None:
        self.got_readings: list[Reading] = []
        self.events: list[DeviceEvent] = []
        self.online: list[tuple[bool, str | None]] = []

    def readings(self, readings: list[Reading]) -> None:
        self.got_readings += readings

    def event(self, event: DeviceEvent) -> None:
        self.events.append(event)

    def availability(self, online: bool, reason: str | None = None) -> None:
        self.online.append((online, reason))

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def cards(self) -> list[DeviceEvent]:
        return [e for e in self.events if e.kind == "card_read" and e.data["result"] == "valid"]


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[PtyPair]:
    pair = PtyPair(tmp_path / "pty").start()
    try:
        yield pair
    finally:
        pair.stop()


def write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


@contextlib.asynccontextmanager
async def listening(config: AccessDeviceConfig) -> AsyncIterator[Recorder]:
    recorder = Recorder()
    poller = AccessPoller(config)
    task = asyncio.create_task(poller.listen(recorder))
    try:
        yield recorder
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def device(port: Path, profile: str = "wie232a", **extra: object) -> AccessDeviceConfig:
    return AccessDeviceConfig.model_validate(
        {"id": "door-1", "driver": "access", "profile": profile, "port": str(port), "card_hash_key": KEY, **extra}
    )


async def test_cards_arrive_over_the_pty(pty: PtyPair) -> None:
    async with listening(device(pty.gateway)) as rec:
        await wait_for_async(lambda: rec.online[-1:] == [(True, None)], 10, what="port open")
        # Two frames in one write, then one frame in two writes.
        write(pty.device, b"5A0144\r0DEAD1\r")
        write(pty.device, b"0100")
        await asyncio.sleep(0.05)
        write(pty.device, b"05\r")
        await wait_for_async(lambda: len(rec.cards()) == 3, 10, what="three cards")
    got = [(e.data["facility_code"], e.data["format"]) for e in rec.cards()]
    # 5A0144: FC 0x5A; 0DEAD1: FC 0x0D; 010005: FC 0x01 (the first two hex digits).
    assert got == [(0x5A, "H10301"), (0x0D, "H10301"), (0x01, "H10301")]
    assert all("card_number" not in e.data for e in rec.events)


async def test_unplugged_adapter_is_reopened_and_the_gap_reported(pty: PtyPair) -> None:
    async with listening(device(pty.gateway, reopen_max_delay=0.5)) as rec:
        await wait_for_async(lambda: rec.online[-1:] == [(True, None)], 10, what="port open")
        write(pty.device, b"5A0144\r")
        await wait_for_async(lambda: len(rec.cards()) == 1, 10, what="first card")
        pty.unplug()
        await wait_for_async(lambda: "link_lost" in rec.kinds(), 10, what="link_lost")
        assert rec.online[-1][0] is False
        await asyncio.sleep(0.3)  # stay unplugged a moment: the gap is measured
        pty.replug()
        await wait_for_async(lambda: "link_restored" in rec.kinds(), 10, what="link_restored")
        write(pty.device, b"0DEAD1\r")
        await wait_for_async(lambda: len(rec.cards()) == 2, 10, what="card after replug")
    restored = next(e for e in rec.events if e.kind == "link_restored")
    assert restored.data["offline_s"] >= 0.3
    assert [a[0] for a in rec.online] == [True, False, True]


async def test_controller_door_events_over_the_pty(pty: PtyPair) -> None:
    config = device(pty.gateway, "lvgate_ascii", door_held_after=0.3)
    async with listening(config) as rec:
        await wait_for_async(lambda: rec.online[-1:] == [(True, None)], 10, what="port open")
        write(pty.device, b"DOOR:0\r\nLOCK:1\r\nDOOR:1\r\n")
        await wait_for_async(lambda: "door_held" in rec.kinds(), 10, what="door_held")
        write(pty.device, b"DOOR:0\r\n")
        await wait_for_async(lambda: "door_closed" in rec.kinds(), 10, what="door_closed")
    assert rec.kinds() == ["door_opened", "door_forced", "door_held", "door_closed"]


def test_probe_shows_frames_and_masks_cards(pty: PtyPair, process_guard: ProcessGuard) -> None:
    exe = lvgate_executable()
    probe = process_guard.start(
        [exe, "probe", "access", "--port", pty.gateway, "--profile", "wie232a", "--count", "3", "--duration", "20"],
        name="probe",
    )
    probe.wait_for_output(r"listening on", 20)
    write(pty.device, b"\xff\xfe\r5A0144\r0DEAD1\r")
    assert probe.wait(20) == 0, probe.output()
    out = probe.stdout_text()
    assert "rejected unrecognised" in out
    assert "card H10301 (26 bits) facility 90 card *24 valid" in out  # 324 masked
    assert "324" not in out.replace("card *24", "")
    assert "3 frames" in out


def test_probe_clear_shows_the_card_number(pty: PtyPair, process_guard: ProcessGuard) -> None:
    exe = lvgate_executable()
    probe = process_guard.start(
        [
            exe,
            "probe",
            "access",
            "--port",
            pty.gateway,
            "--format",
            "wie232a",
            "--count",
            "1",
            "--duration",
            "20",
            "--clear",
        ],
        name="probe",
    )
    probe.wait_for_output(r"listening on", 20)
    write(pty.device, b"5A0144\r")
    assert probe.wait(20) == 0, probe.output()
    assert "facility 90 card 324 valid" in probe.stdout_text()

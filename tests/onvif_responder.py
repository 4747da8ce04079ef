"""An ONVIF responder on loopback serving a recorded camera (../shared/fixtures/onvif/<camera>/).

It is the project's recorded-camera server (lvgate/drivers/onvif/simulator.py), which checks
the WS-UsernameToken digest and Created time of every request against its own clock (ours
plus ``clock_offset``) without using the client's code, and HTTP digest for snapshots.
``restart()`` brings it back on the same port with no memory, as a rebooted camera.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from lvgate.drivers.onvif.simulator import CameraServer, RecordedCamera
from tests.shared_fixtures import fixture_path

USERNAME = "inspector"
PASSWORD = "s3cret-Ünïcode"


class Responder:
    def __init__(self, recording: Path, settings: dict[str, Any]) -> None:
        self.recording = recording
        self.settings = {"username": USERNAME, "password": PASSWORD, "pull_wait": 0.05, **settings}
        self.camera = RecordedCamera(recording, **self.settings)
        self.server = CameraServer(self.camera)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def device_url(self) -> str:
        return self.server.device_url

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()

    async def restart(self) -> None:
        """Stop, forget every subscription and nonce, and answer again on the same port."""
        port = self.server.port
        await self.server.stop()
        self.camera = RecordedCamera(self.recording, **self.settings)
        self.server = CameraServer(self.camera, port=port)
        await self.server.start()


@asynccontextmanager
async def responder(camera: str, **settings: Any) -> AsyncIterator[Responder]:
    r = Responder(fixture_path("onvif", camera), settings)
    await r.start()
    try:
        yield r
    finally:
        await r.stop()

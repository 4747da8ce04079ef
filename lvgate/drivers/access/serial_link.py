"""A serial port read on the event loop, reopened with capped back-off when it goes away.

pyserial opens and configures the port (termios, exclusive lock, by-id symlinks resolved at
each open, so a USB adapter that comes back as another ttyUSB is found again); the event
loop watches its file descriptor with ``add_reader``. This is what pyserial-asyncio(-fast)
does inside on POSIX, without its transport layer, which we would have to tear down and
rebuild at every reopen anyway, and without a thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable

import serial

from lvgate.drivers.access.profile import SerialSettings
from lvgate.reading import now_ms

log = logging.getLogger(__name__)

OnData = Callable[[bytes, int], None]


class SerialLink:
    def __init__(
        self,
        path: str,
        settings: SerialSettings,
        *,
        min_delay: float = 0.2,
        max_delay: float = 10.0,
        baudrate: int | None = None,
    ) -> None:
        self.path = path
        self.settings = settings
        self.baudrate = baudrate or settings.baudrate
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.opens = 0

    def open(self) -> serial.Serial:
        return serial.Serial(
            port=self.path,
            baudrate=self.baudrate,
            bytesize=self.settings.bytesize,
            parity=self.settings.parity,
            stopbits=self.settings.stopbits,
            timeout=0,
            exclusive=True,  # a second reader on the port would steal frames
        )

    async def run(
        self,
        on_data: OnData,
        on_up: Callable[[], None],
        on_down: Callable[[str, str], None],
    ) -> None:
        """Read until cancelled. ``on_down(reason, detail)`` once per outage, ``on_up`` at each open."""
        delay = self.min_delay
        down = False
        while True:
            try:
                port = self.open()
            except (serial.SerialException, OSError, ValueError) as exc:
                if not down:
                    on_down("cannot_open", str(exc))
                    down = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_delay)
                continue
            self.opens += 1
            delay, down = self.min_delay, False
            on_up()
            try:
                detail = await _read_until_lost(port, on_data)
            finally:
                port.close()
            on_down("port_lost", detail)
            down = True


async def _read_until_lost(port: serial.Serial, on_data: OnData) -> str:
    loop = asyncio.get_running_loop()
    lost: asyncio.Future[str] = loop.create_future()
    fd = port.fileno()

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            data, reason = b"", f"read failed: {exc.strerror}"
        else:
            reason = "the port reported end of file"
        if not data:
            loop.remove_reader(fd)
            if not lost.done():
                lost.set_result(reason)
            return
        on_data(data, now_ms())

    loop.add_reader(fd, readable)
    try:
        return await lost
    finally:
        loop.remove_reader(fd)

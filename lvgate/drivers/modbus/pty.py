"""A pseudo-terminal pair made by socat: a serial line on one machine, for simulators and tests.

Whatever is written to one end comes out of the other at memory speed, with the termios
settings a real port has, so the RTU code runs exactly as on an RS-485 adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil


class PtyPair:
    def __init__(self, client_path: str, server_path: str) -> None:
        self.client_path = client_path  # what the gateway opens
        self.server_path = server_path  # what the simulated units listen on
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float = 5.0) -> None:
        socat = shutil.which("socat")
        if socat is None:
            raise RuntimeError("socat is not installed (apt-get install socat)")
        self.process = await asyncio.create_subprocess_exec(
            socat,
            f"pty,raw,echo=0,link={self.client_path}",
            f"pty,raw,echo=0,link={self.server_path}",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(int(timeout / 0.02)):
            if os.path.exists(self.client_path) and os.path.exists(self.server_path):
                return
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.02)
        await self.stop()
        raise RuntimeError(f"socat did not create {self.client_path} and {self.server_path}")

    async def stop(self) -> None:
        """End socat: both links disappear, as when a USB adapter is pulled."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()
        for path in (self.client_path, self.server_path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # socat removes its links; a killed socat may not

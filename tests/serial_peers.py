"""A socat pseudo-terminal pair: a serial line between two paths in a temporary directory.

`PtyPair(dir).start()` makes `dir/device` (the converter's end: tests or the simulator write
there) and `dir/gateway` (the end the gateway opens), waiting (bounded) until both links
exist. `unplug()` stops socat, so both ends vanish as an unplugged USB adapter does;
`replug()` starts it again with the same link names (new pty numbers behind them).
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.services import ManagedProcess, ServiceError, require_program, wait_for


class PtyPair:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.device = workdir / "device"
        self.gateway = workdir / "gateway"
        self.process: ManagedProcess | None = None

    def start(self, timeout: float = 10.0) -> PtyPair:
        socat = require_program("socat")
        if self.process is not None and self.process.is_running():
            raise ServiceError("socat already running")
        self.process = ManagedProcess(
            [
                socat,
                "-d",
                "-d",
                f"pty,raw,echo=0,link={self.device}",
                f"pty,raw,echo=0,link={self.gateway}",
            ],
            name="socat",
            log_dir=self.workdir / "logs",
        )
        proc = self.process

        def ready() -> bool:
            if not proc.is_running():
                raise ServiceError(f"socat exited early\n{proc.output()}")
            return self.device.exists() and self.gateway.exists()

        wait_for(ready, timeout, what="socat pty links")
        return self

    def unplug(self, timeout: float = 10.0) -> None:
        """Stop socat and wait until its links are gone."""
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout)
        wait_for(lambda: not self.device.exists() and not self.gateway.exists(), timeout, what="pty links removed")

    def replug(self, timeout: float = 10.0) -> None:
        self.start(timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.is_running():
            self.process.terminate(5.0)

    def __enter__(self) -> PtyPair:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

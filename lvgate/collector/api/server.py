"""uvicorn inside the collector's event loop (no threads, no signal handlers of its own)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Generator
from typing import TYPE_CHECKING

import uvicorn

from lvgate.collector.api.app import build_app
from lvgate.collector.api.auth import TokenAuth, load_tokens

if TYPE_CHECKING:
    from lvgate.collector.service import Collector

log = logging.getLogger(__name__)


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The collector owns SIGINT/SIGTERM: it stops the API itself.
        yield

    def install_signal_handlers(self) -> None:  # older uvicorn
        return


class ApiServer:
    def __init__(self, collector: Collector) -> None:
        settings = collector.config.settings.api
        tokens_file = collector.config.resolve(settings.tokens_file) if settings.tokens_file else None
        self.auth = TokenAuth(load_tokens(tokens_file, settings.tokens_env))
        self.app = build_app(collector, self.auth)
        config = uvicorn.Config(
            self.app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,  # the live page's event streams never end by themselves
        )
        self.server = _QuietServer(config)
        self.task: asyncio.Task[None] | None = None
        self.port: int | None = None

    async def _serve(self) -> None:
        try:
            await self.server.serve()
        except SystemExit:  # uvicorn exits when it cannot bind; the collector must not
            log.error("API server stopped: cannot serve on %s:%s", self.server.config.host, self.server.config.port)

    async def start(self) -> None:
        self.task = asyncio.create_task(self._serve(), name="api")
        while not self.server.started:
            if self.task.done():  # could not bind: ingest goes on without the API
                log.error("API did not start on %s:%s", self.server.config.host, self.server.config.port)
                return
            await asyncio.sleep(0.02)
        sockets = [s for server in self.server.servers for s in server.sockets]
        self.port = int(sockets[0].getsockname()[1])
        log.info(
            "API and live page on http://%s:%d/ (%d tokens)", self.server.config.host, self.port, len(self.auth.tokens)
        )

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            try:
                async with asyncio.timeout(5):
                    await self.task
            except TimeoutError:
                self.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self.task

"""InfluxDB over HTTP line protocol: the 1.x ``/write`` API and the 2.x ``/api/v2/write`` API."""

from __future__ import annotations

import logging
from typing import Literal

import httpx

from lvgate.collector.line_protocol import encode_batch
from lvgate.collector.points import Point
from lvgate.collector.storage import StorageUnavailable

log = logging.getLogger(__name__)


class InfluxWriter:
    name = "influxdb"

    def __init__(
        self,
        url: str,
        *,
        api: Literal["v1", "v2"] = "v1",
        database: str = "lvgate",
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
        org: str | None = None,
        bucket: str | None = None,
        token: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.api = api
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if api == "v1":
            self.endpoint = f"{self.url}/write"
            self.params = {"db": database, "precision": "ms"}
            if retention_policy:
                self.params["rp"] = retention_policy
            auth = httpx.BasicAuth(username, password or "") if username else None
        else:
            self.endpoint = f"{self.url}/api/v2/write"
            self.params = {"org": org or "", "bucket": bucket or database, "precision": "ms"}
            if token:
                headers["Authorization"] = f"Token {token}"
            auth = None
        self._client = httpx.AsyncClient(headers=headers, auth=auth, timeout=timeout_s)

    async def write(self, points: list[Point]) -> None:
        body = encode_batch(points)
        if not body:
            return
        try:
            response = await self._client.post(self.endpoint, params=self.params, content=body)
        except httpx.HTTPError as exc:
            raise StorageUnavailable(f"InfluxDB at {self.url}: {exc!r}") from exc
        if response.status_code in (200, 204):
            return
        if 400 <= response.status_code < 500 and response.status_code not in (401, 403, 404, 408, 429):
            # Partial write: InfluxDB stores the good lines and names the first bad one.
            log.error("InfluxDB refused part of a batch (%s): %s", response.status_code, response.text[:500])
            return
        raise StorageUnavailable(f"InfluxDB at {self.url}: HTTP {response.status_code} {response.text[:200]}")

    async def close(self) -> None:
        await self._client.aclose()

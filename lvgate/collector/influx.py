"""InfluxDB over HTTP line protocol: the 1.x ``/write`` API and the 2.x ``/api/v2/write`` API."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Literal

import httpx

from lvgate.collector.line_protocol import encode_point
from lvgate.collector.points import Point
from lvgate.collector.storage import StorageUnavailable

log = logging.getLogger(__name__)

# httpx keeps every response in a reference cycle with its stream (the stream refers back to the
# response), and the request with its body hangs from both: each write's line protocol (a batch,
# hundreds of KiB) stayed in memory until the cyclic garbage collector ran, which a collector
# process lets wait (service.quiet_gc). A write's answer is read whole at once, so its stream is
# swapped for this empty one once read, and reference counting frees the rest when it goes.
_SPENT = httpx.ByteStream(b"")


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
        on_rejected: Callable[[str, str], None] | None = None,
        history_query: Literal["influxql", "prometheus"] = "influxql",
        max_lines: int = 5000,
    ) -> None:
        self.url = url.rstrip("/")
        # InfluxQL's db: the 1.x database, or the 2.x bucket (2.4+ maps buckets to databases itself).
        self.database = database if api == "v1" else bucket or database
        self.api = api
        self.history_query = history_query
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
        self._client = httpx.AsyncClient(headers=headers, auth=auth, timeout=timeout_s)  # queries
        # Writes go from a worker thread with a blocking client: a batch's requests are sent one
        # after another while the event loop validates the next batch (the loop is busy for tens
        # of milliseconds at a time, and an async write would wait for it between its steps).
        self._writer = httpx.Client(headers=headers, auth=auth, timeout=timeout_s)
        self.max_lines = max_lines
        self.on_rejected = on_rejected or (lambda line, reason: log.error("InfluxDB refused %s: %s", line, reason))

    async def write(self, points: list[Point]) -> None:
        lines = [encode_point(p) for p in points if p.fields]
        if not lines:
            return
        refused: list[tuple[str, str]] = []
        await asyncio.to_thread(self._write_all, lines, refused)
        # Reported once the whole write went through (a failed one is written again, and would
        # refuse them again), on the loop's thread (the callback uses the database).
        for line, reason in refused:
            self.on_rejected(line, reason)

    def _write_all(self, lines: list[str], refused: list[tuple[str, str]]) -> None:
        """``max_lines`` per request, in order; a failure leaves the rest for the caller's retry."""
        chunks = -(-len(lines) // self.max_lines)
        size = -(-len(lines) // chunks)  # even requests rather than a full one and a small tail
        for start in range(0, len(lines), size):
            self._write_lines(lines[start : start + size], refused)

    def _write_lines(self, lines: list[str], refused: list[tuple[str, str]]) -> None:
        """Write; a batch the server refuses (4xx) is halved until the bad lines are alone.

        Writes are idempotent (same series and time overwrite), so lines the server already kept
        from a partial write are simply written again. A lone refused line is reported (through
        ``on_rejected``, by ``write``) and dropped; the rest of the batch is stored.
        """
        try:
            response = self._writer.post(self.endpoint, params=self.params, content="\n".join(lines).encode())
        except httpx.HTTPError as exc:
            raise StorageUnavailable(f"InfluxDB at {self.url}: {exc!r}") from exc
        status = response.status_code
        answer = "" if status in (200, 204) else response.text[:300]
        response.stream = _SPENT  # breaks httpx's response <-> stream cycle (see _SPENT)
        if status in (200, 204):
            return
        if status in (400, 413, 422):
            if len(lines) == 1:
                refused.append((lines[0], f"HTTP {status}: {answer}"))
                return
            half = len(lines) // 2
            self._write_lines(lines[:half], refused)
            self._write_lines(lines[half:], refused)
            return
        # 401/403/404 (database missing), 429, 5xx: not the data's fault; keep it and retry later.
        raise StorageUnavailable(f"InfluxDB at {self.url}: HTTP {status} {answer[:200]}")

    async def history(
        self, gateway: str, device: str, entity: str, start_ms: int, end_ms: int, limit: int
    ) -> list[dict[str, object]]:
        """InfluxQL over ``/query`` (1.x, 2.x and 3.x), or the Prometheus export API (VictoriaMetrics)."""
        if self.history_query == "prometheus":
            return await self._history_prometheus(gateway, device, entity, start_ms, end_ms, limit)

        def quoted(text: str) -> str:
            return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

        q = (
            f"SELECT value, value_bool, value_str, quality FROM /.*/ WHERE gateway = {quoted(gateway)} "
            f"AND device = {quoted(device)} AND entity = {quoted(entity)} AND time >= {start_ms}ms "
            f"AND time <= {end_ms}ms ORDER BY time LIMIT {int(limit)}"
        )
        try:
            response = await self._client.get(f"{self.url}/query", params={"db": self.database, "q": q, "epoch": "ms"})
        except httpx.HTTPError as exc:
            raise StorageUnavailable(f"InfluxDB at {self.url}: {exc!r}") from exc
        out: list[dict[str, object]] = []
        for result in response.json().get("results", []):
            for series in result.get("series", []):
                columns = series["columns"]
                for values in series["values"]:
                    row = dict(zip(columns, values, strict=True))
                    value = next((row[k] for k in ("value", "value_bool", "value_str") if row.get(k) is not None), None)
                    out.append({"ts_ms": row["time"], "value": value, "quality": row.get("quality") or "good"})
        return sorted(out, key=lambda r: int(r["ts_ms"]))[:limit]  # type: ignore[call-overload]

    async def _history_prometheus(
        self, gateway: str, device: str, entity: str, start_ms: int, end_ms: int, limit: int
    ) -> list[dict[str, object]]:
        """Raw samples from ``/api/v1/export``. A server of this kind stores numbers only: the line
        protocol's ``<measurement>_value`` and ``_value_bool`` (as 0/1) fields come back, enum words
        and ``quality`` (string fields) do not."""

        def quoted(text: str) -> str:
            return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

        match = (
            f'{{__name__=~".+_value(_bool)?",gateway={quoted(gateway)},device={quoted(device)},'
            f"entity={quoted(entity)}}}"
        )
        params = {"match[]": match, "start": f"{start_ms / 1000:.3f}", "end": f"{end_ms / 1000:.3f}"}
        try:
            response = await self._client.get(f"{self.url}/api/v1/export", params=params)
        except httpx.HTTPError as exc:
            raise StorageUnavailable(f"history at {self.url}: {exc!r}") from exc
        if response.status_code != 200:
            raise StorageUnavailable(f"history at {self.url}: HTTP {response.status_code} {response.text[:200]}")
        out: list[dict[str, object]] = []
        for line in response.text.splitlines():
            if not line.strip():
                continue
            series = json.loads(line)
            is_bool = str(series["metric"].get("__name__", "")).endswith("_value_bool")
            for ts, value in zip(series["timestamps"], series["values"], strict=True):
                out.append({"ts_ms": int(ts), "value": bool(value) if is_bool else value, "quality": "good"})
        return sorted(out, key=lambda r: int(r["ts_ms"]))[:limit]  # type: ignore[call-overload]

    async def close(self) -> None:
        await self._client.aclose()
        self._writer.close()

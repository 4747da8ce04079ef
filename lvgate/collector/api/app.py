"""Routes of the REST API and the live page. OpenAPI schema at ``/openapi.json``.

Reads come from the shared database (devices, alarms, dead letters) and from history storage;
alarm actions go through the alarm book and are republished on MQTT at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from lvgate.collector.alarms.book import AlarmError, describe
from lvgate.collector.alarms.levels import LEVELS, Level
from lvgate.collector.api.auth import Caller, TokenAuth

if TYPE_CHECKING:
    from lvgate.collector.service import Collector

_STATIC = {"app.js": "text/javascript", "style.css": "text/css"}


class AckBody(BaseModel):
    by: str | None = Field(default=None, max_length=100, description="who; defaults to the token's name")
    comment: str = Field(default="", max_length=4000)


class CommentBody(BaseModel):
    by: str | None = Field(default=None, max_length=100)
    text: str = Field(min_length=1, max_length=4000)
    plan: bool = Field(default=False, description="this is the repair plan (meets the 2-hour plan clock)")


class CloseBody(BaseModel):
    by: str | None = Field(default=None, max_length=100)
    comment: str = Field(default="", max_length=4000)
    force: bool = Field(default=False, description="close although the condition has not cleared")


class MaintenanceBody(BaseModel):
    gateway: str = "*"
    device: str = "*"
    start_ms: int
    end_ms: int
    reason: str = Field(min_length=1, max_length=1000)


def _reader(request: Request) -> Caller:
    auth: TokenAuth = request.app.state.auth
    header = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    # EventSource cannot send headers: the live page passes its token in the query string.
    token = header or request.query_params.get("token")
    caller = auth.caller(request.client.host if request.client else None, token)
    if caller is None:
        raise HTTPException(401, "a valid token is required (Authorization: Bearer <token>)")
    return caller


def _writer(caller: Annotated[Caller, Depends(_reader)]) -> Caller:
    if not caller.can_write:
        raise HTTPException(403, "this action needs a token")
    return caller


Read = Annotated[Caller, Depends(_reader)]
Write = Annotated[Caller, Depends(_writer)]


def build_app(collector: Collector, auth: TokenAuth) -> FastAPI:
    # No /docs or /redoc: they load their assets from a CDN. The schema itself is served.
    app = FastAPI(title="lvgate collector", version="1", docs_url=None, redoc_url=None)
    app.state.auth = auth
    db = collector.central.db
    book = collector.book

    def who(caller: Caller, given: str | None) -> str:
        return given or caller.name or "loopback"

    def now() -> int:
        from lvgate.collector.service import now_ms

        return now_ms()

    # --- page ----------------------------------------------------------------------------------
    web = resources.files("lvgate.collector").joinpath("web")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(web.joinpath("index.html").read_text(encoding="utf-8"))

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in _STATIC:
            raise HTTPException(404, "no such file")
        return Response(web.joinpath(name).read_text(encoding="utf-8"), media_type=_STATIC[name])

    # --- health, dead letters ---------------------------------------------------------------------
    @app.get("/api/health")
    def health(_: Read) -> dict[str, Any]:
        return collector.health()

    @app.get("/api/dead-letters")
    def dead_letters(_: Read, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
        rows = db.execute(
            "SELECT id, received_ms, topic, reason, size, excerpt, collector FROM dead_letters ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            {"id": r[0], "received_ms": r[1], "topic": r[2], "reason": r[3], "size": r[4],
             "excerpt": bytes(r[5])[:1024].decode("utf-8", "replace"), "collector": r[6]}
            for r in rows
        ]  # fmt: skip

    # --- sites, rooms, gateways, devices --------------------------------------------------------
    @app.get("/api/sites")
    def sites(_: Read) -> list[dict[str, Any]]:
        rows = db.execute(
            "SELECT site, COUNT(DISTINCT room), COUNT(DISTINCT gateway), COUNT(*) FROM devices "
            "WHERE site IS NOT NULL GROUP BY site ORDER BY site"
        ).fetchall()
        return [{"site": r[0], "rooms": r[1], "gateways": r[2], "devices": r[3]} for r in rows]

    @app.get("/api/rooms")
    def rooms(_: Read, site: str | None = None) -> list[dict[str, Any]]:
        rows = db.execute(
            "SELECT site, room, COUNT(*), SUM(online = 0) FROM devices WHERE site IS NOT NULL AND "
            "(? IS NULL OR site = ?) GROUP BY site, room ORDER BY site, room",
            (site, site),
        ).fetchall()
        active = {}
        for row in db.execute("SELECT site, room, COUNT(*) FROM alarms WHERE closed_ms IS NULL GROUP BY site, room"):
            active[(row[0], row[1])] = row[2]
        return [
            {
                "site": r[0],
                "room": r[1],
                "devices": r[2],
                "offline": r[3] or 0,
                "active_alarms": active.get((r[0], r[1]), 0),
            }
            for r in rows
        ]

    @app.get("/api/gateways")
    def gateways(_: Read) -> list[dict[str, Any]]:
        rows = db.execute("SELECT gateway, site, room, state, info FROM gateways ORDER BY gateway").fetchall()
        return [{"gateway": r[0], "site": r[1], "room": r[2], "state": r[3], "info": json.loads(r[4]) if r[4] else None}
                for r in rows]  # fmt: skip

    def device_rows(where: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        current = now()
        out = []
        for r in db.execute(
            "SELECT gateway, device, site, room, device_class, name, online, availability_reason, availability_ms, "
            f"last_seen_ms FROM devices {where} ORDER BY site, room, device",
            args,
        ).fetchall():
            latest = {
                e: {"value": json.loads(v), "ts_ms": ts, "quality": q, "unit": u}
                for e, ts, v, q, u in db.execute(
                    "SELECT entity, ts_ms, value, quality, unit FROM latest WHERE gateway = ? AND device = ? ORDER BY entity",
                    (r[0], r[1]),
                )
            }
            out.append({
                "gateway": r[0], "device": r[1], "site": r[2], "room": r[3], "device_class": r[4], "name": r[5],
                "availability": None if r[6] is None else ("online" if r[6] else "offline"),
                "availability_reason": r[7], "availability_ms": r[8], "last_seen_ms": r[9],
                "age_s": None if r[9] is None else round((current - r[9]) / 1000, 1),
                "latest": latest,
            })  # fmt: skip
        return out

    @app.get("/api/devices")
    def devices(
        _: Read, site: str | None = None, room: str | None = None, gateway: str | None = None
    ) -> list[dict[str, Any]]:
        return device_rows(
            "WHERE (? IS NULL OR site = ?) AND (? IS NULL OR room = ?) AND (? IS NULL OR gateway = ?)",
            (site, site, room, room, gateway, gateway),
        )

    @app.get("/api/devices/{gateway}/{device}")
    def device(_: Read, gateway: str, device: str) -> dict[str, Any]:
        rows = device_rows("WHERE gateway = ? AND device = ?", (gateway, device))
        if not rows:
            raise HTTPException(404, f"no device {gateway}/{device}")
        return rows[0]

    @app.get("/api/history")
    async def history(
        _: Read,
        gateway: str,
        device: str,
        entity: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    ) -> list[dict[str, Any]]:
        query = getattr(collector.storage, "history", None)
        if query is None:
            raise HTTPException(501, f"history queries are not supported by {collector.storage.name}")
        end = end_ms if end_ms is not None else now()
        start = start_ms if start_ms is not None else end - 86_400_000
        rows: list[dict[str, Any]] = await query(gateway, device, entity, start, end, limit)
        return rows

    # --- alarms ---------------------------------------------------------------------------------
    @app.get("/api/alarms")
    def alarms(
        _: Read,
        active: bool | None = True,
        level: Level | None = None,
        state: Literal["raised", "acknowledged", "cleared", "closed"] | None = None,
        room: str | None = None,
        gateway: str | None = None,
        device: str | None = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> list[dict[str, Any]]:
        current = now()
        rows = book.query(
            active=active, level=level, state=state, room=room, gateway=gateway, device=device, limit=limit
        )
        return [describe(r, current) for r in rows]

    @app.get("/api/alarms/{alarm_id}")
    def alarm(_: Read, alarm_id: str) -> dict[str, Any]:
        row = book.get(alarm_id)
        if row is None:
            raise HTTPException(404, f"no alarm {alarm_id}")
        return {**describe(row, now()), "notes": book.notes(alarm_id)}

    async def act(alarm_id: str, action: Any) -> dict[str, Any]:
        try:
            key = action()
        except AlarmError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        await collector.alarms_changed(key)
        return alarm(Caller(None, False), alarm_id)

    @app.post("/api/alarms/{alarm_id}/acknowledge")
    async def acknowledge(caller: Write, alarm_id: str, body: AckBody) -> dict[str, Any]:
        return await act(alarm_id, lambda: book.acknowledge(alarm_id, who(caller, body.by), body.comment, now()))

    @app.post("/api/alarms/{alarm_id}/comment")
    async def comment(caller: Write, alarm_id: str, body: CommentBody) -> dict[str, Any]:
        return await act(
            alarm_id, lambda: book.comment(alarm_id, who(caller, body.by), body.text, now(), plan=body.plan)
        )

    @app.post("/api/alarms/{alarm_id}/close")
    async def close(caller: Write, alarm_id: str, body: CloseBody) -> dict[str, Any]:
        return await act(
            alarm_id, lambda: book.close(alarm_id, who(caller, body.by), body.comment, now(), force=body.force)
        )

    @app.get("/api/maintenance")
    def maintenance(_: Read) -> list[dict[str, Any]]:
        return book.maintenance(now())

    @app.post("/api/maintenance")
    def add_maintenance(caller: Write, body: MaintenanceBody) -> dict[str, int]:
        try:
            window = book.add_maintenance(
                gateway=body.gateway, device=body.device, start_ms=body.start_ms, end_ms=body.end_ms,
                reason=body.reason, who=who(caller, None),
            )  # fmt: skip
        except AlarmError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        return {"id": window}

    # --- live page data -------------------------------------------------------------------------
    @app.get("/api/overview")
    def overview(caller: Read) -> dict[str, Any]:
        """Everything the live page shows, in one answer."""
        return {
            "now_ms": now(),
            "can_write": caller.can_write,
            "levels": list(LEVELS),
            "devices": devices(caller),
            "alarms": alarms(caller),
        }

    @app.get("/api/stream")
    async def stream(_: Read, request: Request) -> StreamingResponse:
        """Server-sent events: a ``change`` event whenever data or alarms changed (at most 4 a second)."""

        async def events() -> AsyncIterator[str]:
            seen = -1
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                if collector.change_serial != seen:
                    seen = collector.change_serial
                    yield f"event: change\ndata: {seen}\n\n"
                async with collector.changes:
                    try:
                        async with asyncio.timeout(15):
                            await collector.changes.wait()
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                await asyncio.sleep(0.25)

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    # --- maintenance records (inspections, faults, assets, monthly report) ----------------------
    from lvgate.collector.maintenance.api import build_router

    app.include_router(build_router(collector.maintenance, now=now, read=[Depends(_reader)], write=[Depends(_writer)]))
    return app

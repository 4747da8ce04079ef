"""REST routes of the maintenance workflows, as an APIRouter the collector's app mounts.

from lvgate.collector.maintenance.api import build_router
from lvgate.collector.maintenance.service import Maintenance
app.include_router(build_router(Maintenance.for_collector(collector), now=now,
                                read=[Depends(reader)], write=[Depends(writer)]))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, ValidationError

from lvgate.collector.maintenance import pdf
from lvgate.collector.maintenance.assets import export_csv, export_xlsx
from lvgate.collector.maintenance.clock import month_bounds_ms, parse_month
from lvgate.collector.maintenance.faults import FaultError, Part
from lvgate.collector.maintenance.inspection import InspectionError
from lvgate.collector.maintenance.service import Maintenance


class RunBody(BaseModel):
    site: str
    room: str


class CompleteBody(BaseModel):
    by: str = Field(min_length=1, max_length=100)
    result: str = Field(pattern="^(normal|abnormal|not_checked)$")
    note: str = Field(default="", max_length=4000)
    value: float | str | bool | None = None


class SignBody(BaseModel):
    by: str = Field(min_length=1, max_length=100)
    comment: str = Field(default="", max_length=4000)


class FaultBody(BaseModel):
    cause: str | None = Field(default=None, max_length=4000)
    method: str | None = Field(default=None, max_length=4000)
    prevention: str | None = Field(default=None, max_length=4000)
    parts: list[dict[str, str]] = Field(default_factory=list)


def build_router(
    maint: Maintenance, *, now: Callable[[], int], read: Sequence[Any] = (), write: Sequence[Any] = ()
) -> APIRouter:
    router = APIRouter(prefix="/api/maintenance", tags=["maintenance"])
    r, w = list(read), list(write)

    def guard(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except (InspectionError, FaultError) as exc:
            raise HTTPException(exc.status, str(exc)) from exc

    @router.post("/inspections", dependencies=w)
    def run(body: RunBody) -> dict[str, Any]:
        return guard(lambda: maint.inspections.get(maint.inspections.run(body.site, body.room, now())))  # type: ignore[no-any-return]

    @router.get("/inspections", dependencies=r)
    def find(site: str | None = None, room: str | None = None, start_day: str | None = None,
             end_day: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
        return maint.inspections.find(site=site, room=room, start_day=start_day, end_day=end_day)

    @router.get("/inspections/{record_id}", dependencies=r)
    def get(record_id: str) -> dict[str, Any]:
        return guard(lambda: maint.inspections.get(record_id))  # type: ignore[no-any-return]

    @router.get("/inspections/{record_id}/pdf", dependencies=r)
    def get_pdf(record_id: str) -> Response:
        record = guard(lambda: maint.inspections.get(record_id))
        return Response(pdf.inspection_pdf(record, project=maint.project, tz=maint.tz), media_type="application/pdf")

    @router.post("/inspections/{record_id}/items/{seq}", dependencies=w)
    def complete(record_id: str, seq: int, body: CompleteBody) -> dict[str, Any]:
        guard(lambda: maint.inspections.complete(record_id, seq, result=body.result, who=body.by, now_ms=now(),
                                                 note=body.note, value=body.value))  # fmt: skip
        return guard(lambda: maint.inspections.get(record_id))  # type: ignore[no-any-return]

    @router.post("/inspections/{record_id}/sign", dependencies=w)
    def sign(record_id: str, body: SignBody) -> dict[str, Any]:
        guard(lambda: maint.inspections.sign(record_id, who=body.by, now_ms=now(), comment=body.comment))
        return guard(lambda: maint.inspections.get(record_id))  # type: ignore[no-any-return]

    @router.post("/inspections/{record_id}/correct", dependencies=w)
    def correct(record_id: str) -> dict[str, Any]:
        return guard(lambda: maint.inspections.get(maint.inspections.correct(record_id, now_ms=now())))  # type: ignore[no-any-return]

    @router.get("/faults", dependencies=r)
    def faults(month: str, site: str | None = None, room: str | None = None) -> list[dict[str, Any]]:
        try:
            start, end = month_bounds_ms(*parse_month(month), maint.tz)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        return maint.faults.records(start_ms=start, end_ms=end, now_ms=now(), site=site, room=room)

    @router.get("/faults/{alarm_id}", dependencies=r)
    def fault(alarm_id: str) -> dict[str, Any]:
        return guard(lambda: maint.faults.get(alarm_id, now()))  # type: ignore[no-any-return]

    @router.get("/faults/{alarm_id}/pdf", dependencies=r)
    def fault_pdf(alarm_id: str) -> Response:
        record = guard(lambda: maint.faults.get(alarm_id, now()))
        return Response(pdf.fault_pdf(record, project=maint.project, tz=maint.tz), media_type="application/pdf")

    @router.post("/faults/{alarm_id}/request", dependencies=w)
    def request(alarm_id: str) -> dict[str, Any]:
        guard(lambda: maint.faults.request(alarm_id, now()))
        return guard(lambda: maint.faults.get(alarm_id, now()))  # type: ignore[no-any-return]

    @router.put("/faults/{alarm_id}", dependencies=w)
    def update(alarm_id: str, body: FaultBody) -> dict[str, Any]:
        try:
            parts = [Part.model_validate(p) for p in body.parts]
        except ValidationError as exc:
            raise HTTPException(422, str(exc)) from exc
        guard(lambda: maint.faults.update(alarm_id, now(), cause=body.cause, method=body.method,
                                          prevention=body.prevention, parts=parts))  # fmt: skip
        return guard(lambda: maint.faults.get(alarm_id, now()))  # type: ignore[no-any-return]

    @router.post("/faults/{alarm_id}/sign", dependencies=w)
    def sign_fault(alarm_id: str, body: SignBody) -> dict[str, Any]:
        guard(lambda: maint.faults.sign(alarm_id, who=body.by, now_ms=now(), comment=body.comment))
        return guard(lambda: maint.faults.get(alarm_id, now()))  # type: ignore[no-any-return]

    @router.get("/assets", dependencies=r)
    def assets(site: str | None = None, room: str | None = None, format: str = "json") -> Any:
        maint.refresh_assets(now())
        rows = maint.assets.rows(site, room)
        if format == "csv":
            return Response(export_csv(rows), media_type="text/csv")
        if format == "xlsx":
            return Response(
                export_xlsx(rows), media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            )
        return rows

    @router.get("/reports/monthly", dependencies=r)
    def monthly(site: str, month: str, room: str | None = None, format: str = "html") -> Response:
        try:
            parsed = parse_month(month)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        _, files = maint.monthly(site, parsed, now(), room=room)
        if format == "pdf":
            return Response(files["pdf"], media_type="application/pdf")
        if format == "csv":
            return Response(files["csv"], media_type="text/csv")
        return HTMLResponse(files["html"].decode("utf-8"))

    return router

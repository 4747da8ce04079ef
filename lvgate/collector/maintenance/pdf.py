"""Printable forms as PDF (reportlab): the inspection record, the fault record, the monthly report.

The paper layout of the contract's forms: a header with project, site, room and date; a table of
items; signature lines at the foot.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from lvgate.collector.maintenance.report import MonthlyReport

_FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)
RESULT_WORDS = {"normal": "Normal", "abnormal": "ABNORMAL", "not_checked": "Not checked", None: "(to do)"}


def _font() -> str:
    """A TrueType font with accents and symbols (°C) when the system has one; Helvetica otherwise."""
    for path in _FONT_FILES:
        if Path(path).is_file():
            if "LvSans" not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont("LvSans", path))
            return "LvSans"
    return "Helvetica"


def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontName=font, fontSize=15),
        "cell": ParagraphStyle("c", parent=base["Normal"], fontName=font, fontSize=7.5, leading=9),
        "text": ParagraphStyle("x", parent=base["Normal"], fontName=font, fontSize=9),
        "h2": ParagraphStyle("h", parent=base["Heading2"], fontName=font, fontSize=11),
    }


def when(ts_ms: int | None, tz: dt.tzinfo = dt.UTC) -> str:
    if ts_ms is None:
        return ""
    return dt.datetime.fromtimestamp(ts_ms / 1000, tz).strftime("%Y-%m-%d %H:%M")


def _esc(text: object) -> str:
    return str("" if text is None else text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _table(rows: list[list[Any]], widths: list[float], style: ParagraphStyle, header: bool = True) -> Table:
    cells = [[Paragraph(_esc(c), style) if not isinstance(c, Paragraph) else c for c in row] for row in rows]
    table = Table(cells, colWidths=widths, repeatRows=1 if header else 0)
    commands: list[Any] = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dddddd")))
    table.setStyle(TableStyle(commands))
    return table


def _header(project: str, fields: list[tuple[str, str]], s: dict[str, ParagraphStyle], width: float) -> Table:
    row = [[f"Project: {project}"] + [f"{k}: {v}" for k, v in fields]]
    n = len(row[0])
    return _table(row, [width / n] * n, s["text"], header=False)


def _build(story: list[Any], pagesize: tuple[float, float]) -> bytes:
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=pagesize, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
                            bottomMargin=12 * mm)  # fmt: skip
    doc.build(story)
    return out.getvalue()


def _evidence(item: dict[str, Any], tz: dt.tzinfo) -> str:
    parts = [f"{e['entity']} = {e['value']} ({when(e['ts_ms'], tz)})" for e in item["evidence"]]
    return "; ".join(parts[:6]) + (f" (+{len(parts) - 6})" if len(parts) > 6 else "")


def inspection_pdf(record: dict[str, Any], *, project: str, tz: dt.tzinfo = dt.UTC) -> bytes:
    s = _styles()
    page = landscape(A4)
    width = page[0] - 24 * mm
    story: list[Any] = [Paragraph("Equipment inspection record", s["title"])]
    story.append(_header(project, [("Site", record["site"]), ("Room", record["room"]), ("Date", record["day"]),
                                   ("Version", str(record["version"]))], s, width))  # fmt: skip
    story.append(Spacer(1, 4 * mm))
    rows: list[list[Any]] = [
        ["No.", "Device", "Item", "Reference / method", "Result", "Evidence (value, time)", "Note"]
    ]
    for item in record["items"]:
        rows.append([
            item["seq"], item["device_name"] or item["device"] or "room", item["title"],
            f"{item['reference']}; {item['method']}", RESULT_WORDS.get(item["result"], item["result"]),
            _evidence(item, tz), " ".join(x for x in (item["note"] or "", item["completed_by"] or "") if x),
        ])  # fmt: skip
    fractions = [0.04, 0.1, 0.17, 0.23, 0.08, 0.26, 0.12]
    story.append(_table(rows, [f * width for f in fractions], s["cell"]))
    story.append(Spacer(1, 6 * mm))
    signed = record["signed_by"] or "________________"
    story.append(_table([
        [f"Inspected and signed by: {signed}", f"Signed at: {when(record['signed_ms'], tz) or '________________'}",
         "Supervisor: ________________"],
        [f"Comment: {record['comment'] or ''}", f"Run at: {when(record['run_ms'], tz)} ({record['trigger']})",
         f"Record: {record['id']}" + (f", supersedes {record['supersedes']}" if record["supersedes"] else "")],
    ], [width / 3] * 3, s["text"], header=False))  # fmt: skip
    return _build(story, page)


def fault_pdf(record: dict[str, Any], *, project: str, tz: dt.tzinfo = dt.UTC) -> bytes:
    s = _styles()
    width = A4[0] - 24 * mm
    story: list[Any] = [Paragraph("Equipment failure record", s["title"])]
    story.append(_header(project, [("Site", record["site"] or ""), ("Room", record["room"] or ""),
                                   ("Date", when(record["raised_ms"], tz)[:10])], s, width))  # fmt: skip
    story.append(Spacer(1, 4 * mm))
    parts = "; ".join(
        f"{p['name']}: {p['old_model']} ({p['old_rating']}) -> {p['new_model']} ({p['new_rating']})"
        for p in record["parts"]
    )
    clocks = record["clocks"]
    rows = [
        ["Fault time", when(record["raised_ms"], tz), "Fault level", record["level"]],
        ["Device", f"{record['device']} ({record['device_class'] or ''})", "Gateway", record["gateway"]],
        ["Description", record["description"], "Value", json.dumps(record["value"], ensure_ascii=False)],
        ["Responder", record["responder"] or "", "Responded at", when(record["responded_ms"], tz)],
        ["Plan at", when(record["planned_ms"], tz), "Fixed at", when(record["fixed_ms"], tz)],
        ["Response (30 min)", clocks["response"]["verdict"], "Plan (2 h)", clocks["plan"]["verdict"]],
        ["Fix", clocks["fix"]["verdict"], "Closed by", record["closed_by"] or ""],
        ["Cause", record["cause"] or "", "Method", record["method"] or ""],
        ["Prevention", record["prevention"] or "", "Replaced parts", parts],
    ]
    story.append(_table(rows, [0.17 * width, 0.33 * width, 0.17 * width, 0.33 * width], s["cell"], header=False))
    story.append(Spacer(1, 6 * mm))
    story.append(_table([[f"Signed by: {record['signed_by'] or '________________'}",
                          f"Signed at: {when(record['signed_ms'], tz) or '________________'}",
                          "Customer: ________________"]], [width / 3] * 3, s["text"], header=False))  # fmt: skip
    return _build(story, A4)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.2f} %"


def _dur(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:.1f} min"


def report_tables(report: MonthlyReport) -> dict[str, list[list[str]]]:
    """The report's tables as text rows (for the PDF and the HTML alike)."""
    levels = [["Level", "Alarms", "Response mean", "Response worst", "Fix mean", "Fix worst", "Response met",
               "Plan met", "Fix met"]]  # fmt: skip
    for lv in [*report.levels.values(), report.total]:
        levels.append([lv.level, str(lv.alarms), _dur(lv.response.mean_s), _dur(lv.response.worst_s),
                       _dur(lv.fix.mean_s), _dur(lv.fix.worst_s), _pct(lv.share("response")), _pct(lv.share("plan")),
                       _pct(lv.share("fix"))])  # fmt: skip
    return {
        "Availability per system": [["System", "Availability"]]
        + [[k, _pct(v)] for k, v in report.systems.items()],
        "Availability per device": [["Device", "Class", "System", "Offline", "Availability"]]
        + [[d["device"], d["device_class"] or "", d["system"], _dur(d["offline_s"]), _pct(d["availability"])]
           for d in report.devices],
        "Alarms and the contract's clocks": levels,
        "Inspections": [["Due", "Completed (signed)", "Abnormal items"],
                        [str(report.inspections_due), str(report.inspections_completed),
                         str(len(report.abnormal_items))]],
        "Abnormal items": [["Day", "Device", "Item", "Evidence"]]
        + [[a["day"], a["device"] or "room", a["title"], a["evidence"]] for a in report.abnormal_items],
        "Top recurring faults": [["Device", "Fault", "Count"]]
        + [[f["device"], f["message"], str(f["count"])] for f in report.top_faults],
        "Assets changed": [["Device", "Change", "Old", "New"]]
        + [[c["device"], c["change"], c["old"] or "", c["new"] or ""] for c in report.assets_changed],
        f"Batteries older than {report.battery_years} years": [["Device", "Battery installed"]]
        + [[b["device"], b["battery_install_date"]] for b in report.old_batteries],
    }  # fmt: skip


def monthly_pdf(report: MonthlyReport, charts: list[bytes], *, project: str) -> bytes:
    s = _styles()
    width = A4[0] - 24 * mm
    story: list[Any] = [Paragraph(f"Monthly maintenance report {report.month}", s["title"])]
    story.append(_header(project, [("Site", report.site), ("Room", report.room or "all"),
                                   ("Generated", when(report.generated_ms))], s, width))  # fmt: skip
    for png in charts:
        story.append(Spacer(1, 3 * mm))
        story.append(Image(io.BytesIO(png), width=width * 0.8, height=width * 0.8 * 2.6 / 6, kind="proportional"))
    for title, rows in report_tables(report).items():
        story.append(Paragraph(_esc(title), s["h2"]))
        if len(rows) > 1:
            story.append(_table(rows, [width / len(rows[0])] * len(rows[0]), s["cell"]))
        else:
            story.append(Paragraph("none", s["text"]))
    return _build(story, A4)


def monthly_html(report: MonthlyReport, charts: list[bytes], *, project: str) -> str:
    import base64
    import html

    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Monthly report {report.month}</title>"
             "<style>body{font-family:sans-serif}table{border-collapse:collapse;margin-bottom:1em}"
             "td,th{border:1px solid #999;padding:2px 6px}</style></head><body>",
             f"<h1>Monthly maintenance report {html.escape(report.month)}</h1>",
             f"<p>Project: {html.escape(project)} · Site: {html.escape(report.site)} · Room: "
             f"{html.escape(report.room or 'all')} · Generated: {when(report.generated_ms)}</p>"]  # fmt: skip
    for png in charts:
        parts.append(f"<img alt='chart' src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    for title, rows in report_tables(report).items():
        parts.append(f"<h2>{html.escape(title)}</h2><table>")
        parts.append("<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in rows[0]) + "</tr>")
        for row in rows[1:]:
            parts.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)

"""Charts of the monthly report as PNG bytes (matplotlib's Agg canvas: headless)."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lvgate.collector.maintenance.report import MonthlyReport


def _png(fig: Figure) -> bytes:
    # The Agg canvas, no pyplot: no global figure state, safe from a worker thread, no display needed.
    FigureCanvasAgg(fig)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=110, bbox_inches="tight")
    return out.getvalue()


def availability_chart(report: MonthlyReport) -> bytes:
    fig = Figure(figsize=(6, 2.6))
    ax = fig.subplots()
    names = list(report.systems)
    values = [report.systems[n] * 100 for n in names]
    ax.barh(names, values, color="#3b7dd8")
    ax.set_xlim(min([*values, 99.0]) - 1, 100)
    ax.set_xlabel("availability (%)")
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.2f}", va="center", fontsize=8)
    ax.set_title(f"Availability per system, {report.month}")
    return _png(fig)


def alarms_chart(report: MonthlyReport) -> bytes:
    fig = Figure(figsize=(6, 2.6))
    ax = fig.subplots()
    levels = list(report.levels)
    ax.bar(levels, [report.levels[lv].alarms for lv in levels], color=["#c0392b", "#e67e22", "#f1c40f", "#7f8c8d"])
    ax.set_xlabel("fault level")
    ax.set_ylabel("alarms")
    ax.set_title(f"Alarms by level, {report.month}")
    return _png(fig)

"""The maintenance workflows wired together over one collector database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lvgate.collector.alarms.book import AlarmBook
from lvgate.collector.alarms.rules import RuleFile
from lvgate.collector.central import CentralDb
from lvgate.collector.maintenance import charts, pdf, report
from lvgate.collector.maintenance.alarm_link import BookAlarms
from lvgate.collector.maintenance.assets import AssetRegister, load_asset_file
from lvgate.collector.maintenance.checklists import Checklists, load_checklists
from lvgate.collector.maintenance.faults import FaultRecords
from lvgate.collector.maintenance.inspection import Inspections
from lvgate.collector.maintenance.state import CentralState, LatestState

if TYPE_CHECKING:
    from lvgate.collector.service import Collector


@dataclass
class Maintenance:
    central: CentralDb
    book: AlarmBook
    checklists: Checklists
    inspections: Inspections
    faults: FaultRecords
    assets: AssetRegister
    project: str = "lvgate"
    tz: dt.tzinfo = dt.UTC
    assets_file: Path | None = None

    @classmethod
    def open(
        cls, central: CentralDb, book: AlarmBook | None = None, *, state: LatestState | None = None,
        checklists_dir: Path | None = None, assets_file: Path | None = None, project: str = "lvgate",
        tz: dt.tzinfo = dt.UTC,
    ) -> Maintenance:  # fmt: skip
        book = book or AlarmBook(central, RuleFile())
        checklists = load_checklists(checklists_dir)
        inspections = Inspections(central, checklists, state or CentralState(central.db), BookAlarms(book), tz)
        return cls(central, book, checklists, inspections, FaultRecords(book), AssetRegister(central, book),
                   project, tz, assets_file)  # fmt: skip

    @classmethod
    def for_collector(cls, collector: Collector, **options: object) -> Maintenance:
        """Over a running collector's database and alarm book (abnormal items raise through its rules)."""
        return cls.open(collector.central, collector.book, **options)  # type: ignore[arg-type]

    def refresh_assets(self, now_ms: int) -> list[str]:
        """Identity from the collector, then the YAML completions; returns YAML entries matching no device."""
        self.assets.sync_from_collector(now_ms)
        return self.assets.complete(load_asset_file(self.assets_file)) if self.assets_file else []

    def monthly(self, site: str, month: tuple[int, int], now_ms: int, *, room: str | None = None,
                battery_years: int = 4) -> tuple[report.MonthlyReport, dict[str, bytes]]:  # fmt: skip
        """The report and its files: html, pdf, csv."""
        figures = report.compute(self.central, self.checklists, site=site, month=month, now_ms=now_ms, room=room,
                                 tz=self.tz, battery_years=battery_years)  # fmt: skip
        images = [charts.availability_chart(figures), charts.alarms_chart(figures)]
        files = {
            "html": pdf.monthly_html(figures, images, project=self.project).encode("utf-8"),
            "pdf": pdf.monthly_pdf(figures, images, project=self.project),
            "csv": report.to_csv(figures),
        }
        return figures, files

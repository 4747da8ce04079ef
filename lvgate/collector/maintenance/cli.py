"""``lvgate report monthly|inspection`` and ``lvgate assets export``: the maintenance outputs on demand."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from lvgate.collector.maintenance.clock import SystemClock, parse_month


def _database(args: argparse.Namespace) -> Path:
    if args.database is not None:
        return Path(args.database)
    from lvgate.collector.config import load_collector_config

    return load_collector_config(args.config).database


def _common(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("-c", "--config", type=Path, help="the collector's config (finds its database)")
    where.add_argument("--database", type=Path, help="the collector's database file (central.sqlite)")
    parser.add_argument("--project", default="lvgate", help="project name printed on the forms")
    parser.add_argument("--checklists", type=Path, default=None, help="inspection checklist directory")


def _open(args: argparse.Namespace) -> object:
    from lvgate.collector.central import CentralDb
    from lvgate.collector.maintenance.service import Maintenance

    path = _database(args)
    if not path.is_file():
        raise SystemExit(f"lvgate: no collector database at {path}")
    return Maintenance.open(CentralDb(path), checklists_dir=args.checklists, project=args.project,
                            assets_file=getattr(args, "assets_yaml", None))  # fmt: skip


def cmd_monthly(args: argparse.Namespace) -> int:
    from lvgate.collector.maintenance.service import Maintenance

    try:
        month = parse_month(args.month)
    except ValueError as exc:
        print(f"lvgate report monthly: {exc}", file=sys.stderr)
        return 2
    maint = _open(args)
    assert isinstance(maint, Maintenance)
    maint.refresh_assets(SystemClock().now_ms())
    figures, files = maint.monthly(args.site, month, SystemClock().now_ms(), room=args.room,
                                   battery_years=args.battery_years)  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"report-{args.site}{'-' + args.room if args.room else ''}-{args.month}".replace("/", "_")
    for ext, data in files.items():
        (args.out / f"{stem}.{ext}").write_bytes(data)
        print(args.out / f"{stem}.{ext}")
    print(f"{len(figures.devices)} devices, {figures.total.alarms} alarms, inspections "
          f"{figures.inspections_completed}/{figures.inspections_due}")  # fmt: skip
    return 0


def cmd_inspection(args: argparse.Namespace) -> int:
    from lvgate.collector.maintenance import pdf
    from lvgate.collector.maintenance.service import Maintenance

    maint = _open(args)
    assert isinstance(maint, Maintenance)
    day = dt.date.fromisoformat(args.date) if args.date else dt.datetime.now(maint.tz).date()
    if args.run:
        record_id = maint.inspections.run(args.site, args.room, SystemClock().now_ms())
    else:
        found = maint.inspections.find(site=args.site, room=args.room, start_day=day.isoformat(),
                                       end_day=(day + dt.timedelta(days=1)).isoformat())  # fmt: skip
        if not found:
            print(f"lvgate: no inspection record of {args.site}/{args.room} on {day} (run one with --run)",
                  file=sys.stderr)  # fmt: skip
            return 1
        record_id = found[-1]["id"]
    record = maint.inspections.get(record_id)
    out = args.out or Path(
        f"inspection-{args.site}-{args.room}-{record['day']}-v{record['version']}.pdf".replace(" ", "_")
    )
    out.write_bytes(pdf.inspection_pdf(record, project=args.project, tz=maint.tz))
    counts = {r: sum(i["result"] == r for i in record["items"]) for r in ("normal", "abnormal", "not_checked", None)}
    print(f"{out}: {counts['normal']} normal, {counts['abnormal']} abnormal, {counts['not_checked']} not checked, "
          f"{counts[None]} manual to do, {'signed by ' + record['signed_by'] if record['signed_by'] else 'not signed'}")  # fmt: skip
    return 0


def cmd_assets(args: argparse.Namespace) -> int:
    from lvgate.collector.maintenance.assets import export_csv, export_xlsx
    from lvgate.collector.maintenance.service import Maintenance

    maint = _open(args)
    assert isinstance(maint, Maintenance)
    unknown = maint.refresh_assets(SystemClock().now_ms())
    for device in unknown:
        print(f"lvgate: {args.assets_yaml}: no device '{device}' in the collector", file=sys.stderr)
    rows = maint.assets.rows(args.site, args.room)
    data = export_csv(rows) if args.format == "csv" else export_xlsx(rows)
    out = args.output or Path(f"assets.{args.format}")
    out.write_bytes(data)
    print(f"{out}: {len(rows)} devices")
    return 0


def add_maintenance_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser("report", help="maintenance reports: monthly report, inspection record (PDF)")
    kinds = report.add_subparsers(dest="report", required=True)
    monthly = kinds.add_parser("monthly", help="the monthly report of a site or room: HTML, PDF and CSV")
    _common(monthly)
    monthly.add_argument("--site", required=True)
    monthly.add_argument("--room", default=None)
    monthly.add_argument("--month", required=True, help="YYYY-MM")
    monthly.add_argument("--battery-years", type=int, default=4, help="list UPS batteries older than this")
    monthly.add_argument("--assets-yaml", type=Path, default=None, help="asset completions (rack, dates, ...)")
    monthly.add_argument("--out", type=Path, default=Path("."), help="directory for the files")
    monthly.set_defaults(func=cmd_monthly)
    inspection = kinds.add_parser("inspection", help="the inspection record of a room and day as PDF")
    _common(inspection)
    inspection.add_argument("--site", required=True)
    inspection.add_argument("--room", required=True)
    inspection.add_argument("--date", default=None, help="YYYY-MM-DD (default: today)")
    inspection.add_argument("--run", action="store_true", help="run an inspection now first")
    inspection.add_argument("--out", type=Path, default=None)
    inspection.set_defaults(func=cmd_inspection)

    assets = sub.add_parser("assets", help="the asset register")
    actions = assets.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="export the asset register as CSV or XLSX")
    _common(export)
    export.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    export.add_argument("--assets-yaml", type=Path, default=None, help="asset completions (rack, dates, ...)")
    export.add_argument("--site", default=None)
    export.add_argument("--room", default=None)
    export.add_argument("-o", "--output", type=Path, default=None)
    export.set_defaults(func=cmd_assets)

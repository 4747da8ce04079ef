"""The asset register: every device with where it is, what it is and its versions.

Filled from what the gateways publish (retained ``{base}/{gw}/{device}/info`` with an ``identity``
dict, ``bridge/info`` for site and room: the collector keeps both in its ``devices`` and
``gateways`` tables) and completed from YAML (rack, install date, warranty, battery date, IP).
A changed firmware, or a changed serial (the device was replaced), is kept as history and raised
as a level IV alarm through the alarm book (rules in ``edge_config/rules/maintenance.yaml``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from lvgate.collector.alarms.book import AlarmBook, DeviceContext, EventInput
from lvgate.collector.central import CentralDb
from lvgate.collector.maintenance.checklists import default_dir
from lvgate.collector.maintenance.store import ensure_schema
from lvgate.gateway.config import validate_document
from lvgate.gateway.yaml_source import load_yaml

IDENTITY_COLUMNS = ("manufacturer", "model", "serial", "hardware", "firmware", "software", "ip", "mac")
COLUMNS = (
    "site", "room", "rack", "gateway", "device", "name", "device_class", "manufacturer", "model", "serial",
    "hardware", "firmware", "software", "ip", "mac", "install_date", "warranty_end", "battery_install_date",
)  # fmt: skip


class AssetEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    device: str
    gateway: str | None = Field(default=None, description="needed only when two gateways use the same device id")
    rack: str | None = None
    install_date: dt.date | None = None
    warranty_end: dt.date | None = None
    battery_install_date: dt.date | None = None
    ip: str | None = None
    mac: str | None = None
    serial: str | None = Field(default=None, description="for devices that cannot report it")
    model: str | None = None
    manufacturer: str | None = None


class AssetFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    assets: list[AssetEntry] = Field(default_factory=list)


def load_asset_file(path: Path) -> AssetFile:
    return validate_document(load_yaml(path, display_name=str(path)), AssetFile)


def identity_aliases(path: Path | None = None) -> dict[str, list[str]]:
    file = path or default_dir() / "_identity_fields.yaml"
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    return {k: [str(a) for a in v] for k, v in data.items()}


def normalise_identity(identity: dict[str, Any], aliases: dict[str, list[str]]) -> dict[str, str | None]:
    """Identity keys as the driver reports them -> the register's columns (scalars only)."""
    out: dict[str, str | None] = {}
    for column in IDENTITY_COLUMNS:
        value = next((identity[a] for a in aliases.get(column, [column]) if identity.get(a) not in (None, "")), None)
        out[column] = str(value) if value is not None and not isinstance(value, dict | list) else None
    if out["model"] is None and isinstance(identity.get("description"), str):
        out["model"] = identity["description"].strip()[:200] or None  # SNMP without ENTITY-MIB: sysDescr
    return out


class AssetRegister:
    def __init__(self, central: CentralDb, book: AlarmBook | None = None, aliases: dict[str, list[str]] | None = None):
        self.central = central
        self.book = book
        self.aliases = aliases if aliases is not None else identity_aliases()
        ensure_schema(central.db)

    def _raise(self, ctx: DeviceContext, event: str, ts_ms: int) -> str | None:
        if self.book is None:
            return None
        self.book.apply([EventInput(ctx, event, ts_ms)])
        rule = {"firmware_changed": "asset_firmware_changed", "device_replaced": "asset_replaced"}[event]
        for row in self.book.active_for_device(ctx.gateway, ctx.device):
            if row["rule"] == rule and row["raised_ms"] == ts_ms:
                return str(row["id"])
        return None

    def observe(
        self, gateway: str, device: str, *, identity: dict[str, Any], ts_ms: int, site: str | None = None,
        room: str | None = None, device_class: str | None = None, name: str | None = None,
    ) -> list[str]:  # fmt: skip
        """One device's published identity at ``ts_ms``; returns the changes recorded."""
        fields = normalise_identity(identity, self.aliases)
        db = self.central.db
        old = db.execute(
            "SELECT serial, firmware FROM mnt_assets WHERE gateway = ? AND device = ?", (gateway, device)
        ).fetchone()
        changes: list[str] = []
        ctx = DeviceContext(gateway, device, device_class, site, room)
        with self.central.transaction():
            if old is None:
                changes.append("added")
                self._history(gateway, device, ts_ms, "added", None, None, None, None)
            else:
                if fields["serial"] and old[0] and fields["serial"] != old[0]:
                    changes.append("replaced")
                    self._history(gateway, device, ts_ms, "replaced", "serial", old[0], fields["serial"],
                                  self._raise(ctx, "device_replaced", ts_ms))  # fmt: skip
                elif fields["firmware"] and old[1] and fields["firmware"] != old[1]:
                    changes.append("firmware_changed")
                    self._history(gateway, device, ts_ms, "firmware_changed", "firmware", old[1], fields["firmware"],
                                  self._raise(ctx, "firmware_changed", ts_ms))  # fmt: skip
            sets = {k: v for k, v in fields.items() if v is not None}
            db.execute(
                "INSERT INTO mnt_assets(gateway, device, site, room, device_class, name, identity, first_seen_ms, "
                "updated_ms) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(gateway, device) DO UPDATE SET "
                "site = coalesce(excluded.site, site), room = coalesce(excluded.room, room), "
                "device_class = coalesce(excluded.device_class, device_class), name = coalesce(excluded.name, name), "
                "identity = excluded.identity, updated_ms = excluded.updated_ms",
                (gateway, device, site, room, device_class, name, json.dumps(identity, default=str), ts_ms, ts_ms),
            )
            for column, value in sets.items():
                db.execute(f"UPDATE mnt_assets SET {column} = ? WHERE gateway = ? AND device = ?",
                           (value, gateway, device))  # fmt: skip
        return changes

    def _history(self, gateway: str, device: str, ts_ms: int, change: str, field: str | None, old: str | None,
                 new: str | None, alarm_id: str | None) -> None:  # fmt: skip
        self.central.db.execute(
            "INSERT INTO mnt_asset_history(gateway, device, ts_ms, change, field, old, new, alarm_id) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (gateway, device, ts_ms, change, field, old, new, alarm_id),
        )

    def sync_from_collector(self, ts_ms: int) -> int:
        """Read every device's info the collector keeps (its ``devices``/``gateways`` tables)."""
        rows = self.central.db.execute(
            "SELECT d.gateway, d.device, coalesce(d.site, g.site), coalesce(d.room, g.room), d.device_class, d.name, "
            "d.info FROM devices d LEFT JOIN gateways g ON g.gateway = d.gateway WHERE d.info IS NOT NULL"
        ).fetchall()
        for gateway, device, site, room, device_class, name, info in rows:
            body = json.loads(info)
            self.observe(gateway, device, identity=body.get("identity") or {}, ts_ms=ts_ms, site=site, room=room,
                         device_class=device_class or body.get("device_class"), name=name)  # fmt: skip
        return len(rows)

    def complete(self, entries: AssetFile) -> list[str]:
        """Apply the YAML completions; returns the entries that match no device (to be reported)."""
        unknown = []
        with self.central.transaction() as db:
            for entry in entries.assets:
                values = entry.model_dump(exclude={"device", "gateway"}, exclude_none=True)
                where = "device = ?" + (" AND gateway = ?" if entry.gateway else "")
                args: tuple[Any, ...] = (entry.device, entry.gateway) if entry.gateway else (entry.device,)
                if not values:
                    continue
                sql = ", ".join(f"{k} = ?" for k in values)
                cursor = db.execute(f"UPDATE mnt_assets SET {sql} WHERE {where}",
                                    (*(str(v) for v in values.values()), *args))  # fmt: skip
                if cursor.rowcount == 0:
                    unknown.append(entry.device)
        return unknown

    def rows(self, site: str | None = None, room: str | None = None) -> list[dict[str, Any]]:
        raw = self.central.db.execute(
            f"SELECT {', '.join(COLUMNS)} FROM mnt_assets WHERE (? IS NULL OR site = ?) AND (? IS NULL OR room = ?) "
            "ORDER BY site, room, gateway, device",
            (site, site, room, room),
        ).fetchall()
        return [dict(zip(COLUMNS, r, strict=True)) for r in raw]

    def history(self, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        keys = ("gateway", "device", "ts_ms", "change", "field", "old", "new", "alarm_id")
        raw = self.central.db.execute(
            f"SELECT {', '.join(keys)} FROM mnt_asset_history WHERE ts_ms >= ? AND ts_ms < ? AND change != 'added' "
            "ORDER BY ts_ms",
            (start_ms, end_ms),
        ).fetchall()
        return [dict(zip(keys, r, strict=True)) for r in raw]


def export_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")  # BOM: spreadsheet programs then read UTF-8 names right


def export_xlsx(rows: list[dict[str, Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Assets"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([row[c] for c in COLUMNS])
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

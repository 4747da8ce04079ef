"""One SNMP device per poll: one GET round for the scalars, one multi-column walk for the tables."""

from __future__ import annotations

import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lvgate.drivers.base import DeviceError, DevicePoller, DeviceSink, ProfileError
from lvgate.drivers.snmp.client import SnmpClient, SnmpError, WalkResult
from lvgate.drivers.snmp.config import SnmpDeviceConfig
from lvgate.drivers.snmp.counters import RateStatus, Sample, counter_rate
from lvgate.drivers.snmp.decode import decode, sensor_factor
from lvgate.drivers.snmp.oids import Oid, format_oid, index_of, instance_name, parse_oid
from lvgate.drivers.snmp.ports import columns_for, interfaces_from, select_ports
from lvgate.drivers.snmp.profile import Block, Profile, Table, detect_profile, load_profile
from lvgate.drivers.snmp.values import SnmpValue
from lvgate.mqtt_schema.vocabulary import entity_kind
from lvgate.reading import Quality, Reading, now_ms

log = logging.getLogger(__name__)

SYS_DESCR = parse_oid("1.3.6.1.2.1.1.1.0")
SYS_OBJECT_ID = parse_oid("1.3.6.1.2.1.1.2.0")
SYS_UPTIME = parse_oid("1.3.6.1.2.1.1.3.0")
SYS_NAME = parse_oid("1.3.6.1.2.1.1.5.0")
SYS_LOCATION = parse_oid("1.3.6.1.2.1.1.6.0")
ENT_PHYSICAL = parse_oid("1.3.6.1.2.1.47.1.1.1.1")
# entPhysicalTable columns for the asset list: name, class, hw/fw/sw revision, serial, model
_ENT_COLUMNS = {"class": 5, "name": 7, "hardware": 8, "firmware": 9, "software": 10, "serial": 11, "model": 13}


@dataclass
class Source:
    """Where an entity's value came from: for the probe, the tests and the asset list."""

    oid: str
    label: str | None = None


@dataclass
class PollResult:
    readings: list[Reading]
    sources: dict[str, Source] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _columns_by_index(walk: WalkResult | None, column: Oid) -> dict[Oid, SnmpValue]:
    if walk is None:
        return {}
    return {index_of(oid, column): value for oid, value in walk.rows}


class SnmpPoller(DevicePoller):
    config: SnmpDeviceConfig

    def __init__(self, config: SnmpDeviceConfig, client: SnmpClient) -> None:
        super().__init__(config)
        self.client = client
        self.profile: Profile | None = load_profile(config.profile) if config.profile else None
        self.sources: dict[str, Source] = {}
        self._counters: dict[str, Sample] = {}
        self.last_problems: list[str] = []
        self.selected_ports: frozenset[int] = frozenset()  # ifIndexes the `ports` rule kept this poll

    @property
    def device(self) -> str:
        return self.config.id

    def _error(self, exc: SnmpError) -> DeviceError:
        return DeviceError(self.device, exc.reason, exc.detail)

    async def resolve_profile(self) -> Profile:
        """The configured profile, or the one whose sysObjectID prefix matches the agent's."""
        if self.profile is not None:
            return self.profile
        try:
            answer = await self.client.get([SYS_OBJECT_ID])
        except SnmpError as exc:
            raise self._error(exc) from exc
        sys_oid = answer[SYS_OBJECT_ID]
        name = detect_profile(sys_oid.as_text()) if not sys_oid.missing else None
        if name is None:
            raise DeviceError(
                self.device, "profile", f"no SNMP profile matches sysObjectID {sys_oid.as_text() or '(none)'}"
            )
        profile = load_profile(name)
        wanted = self.config.device_class
        if wanted is not None and profile.device_class != wanted:
            raise DeviceError(
                self.device,
                "profile",
                f"detected profile '{name}' is a {profile.device_class}, the config says {wanted}: set 'profile'",
            )
        log.info("device '%s': sysObjectID %s -> profile '%s'", self.device, sys_oid.as_text(), name)
        self.profile = profile
        return profile

    async def poll(self) -> list[Reading]:
        return (await self.poll_detailed()).readings

    def walk_plan(self, profile: Profile) -> tuple[list[Oid], list[Oid], list[Oid]]:
        """What one poll asks: (scalars to GET, every column to walk, the IF-MIB columns among
        them that the ``ports`` rule needs). Public so bench/snmp_poll.py compares like with like."""
        scalars = [SYS_UPTIME] + [p.oid for block in profile.parts for p in block.points]
        columns = [c for block in profile.parts for t in block.tables for c in t.columns()]
        per_port = any(t.per_port for block in profile.parts for t in block.tables)
        port_columns = columns_for(self.config.ports) if per_port else []
        return scalars, columns + port_columns, port_columns

    async def poll_detailed(self) -> PollResult:
        profile = await self.resolve_profile()
        scalars, columns, port_columns = self.walk_plan(profile)
        per_port = bool(port_columns)
        try:
            values = await self.client.get(scalars)
            ts = now_ms()
            walks = await self.client.walk(columns) if columns else {}
        except SnmpError as exc:
            raise self._error(exc) from exc
        uptime = values[SYS_UPTIME].as_number() if not values[SYS_UPTIME].missing else None
        result = PollResult([])
        for walk_column, walk in walks.items():
            result.problems += [f"{format_oid(walk_column)}: {p}" for p in walk.problems]
        if per_port:
            interfaces = interfaces_from({c: _columns_by_index(walks.get(c), c) for c in port_columns})
            selection = select_ports(interfaces, self.config.ports)
            self.selected_ports = selection.indexes
            result.problems += [f"ports: include {entry!r} names no interface" for entry in selection.unmatched]
        for block in profile.parts:
            self._scalars(profile, block, values, ts, result)
            for table in block.tables:
                self._table(profile, block, table, walks, ts, uptime, result)
        for problem in result.problems:
            log.warning("device '%s': %s", self.device, problem)
        self.sources = result.sources
        self.last_problems = result.problems
        return result

    def _emit(self, result: PollResult, reading: Reading, source: Source) -> None:
        result.readings.append(reading)
        result.sources[reading.key] = source

    def _scalars(
        self, profile: Profile, block: Block, values: dict[Oid, SnmpValue], ts: int, result: PollResult
    ) -> None:
        for point in block.points:
            raw = values[point.oid]
            if raw.missing and point.optional:
                continue
            kind = entity_kind(profile.device_class, point.key)
            value, quality = decode(
                raw,
                kind,
                scale=point.scale,
                states=profile.state_map(block, point),
                invalid=point.invalid,
                fahrenheit=point.fahrenheit,
            )
            if raw.missing:
                result.problems.append(f"{point.key}: {format_oid(point.oid)} is {raw.kind.value}")
            self._emit(result, Reading(self.device, point.key, value, ts, quality), Source(format_oid(point.oid)))

    def _row_key(self, table: Table, index: Oid, aux: dict[Oid, dict[Oid, SnmpValue]]) -> str | None:
        if table.per_port and (len(index) != 1 or index[0] not in self.selected_ports):
            return None
        if table.where is not None:
            cell = aux[table.where.column].get(index)
            if cell is None or (
                cell.as_number() not in table.where.values and cell.as_text() not in table.where.values
            ):
                return None
        key: str | None = table.key
        if table.key_by_index is not None:
            key = table.key_by_index.get(index[0]) if index else None
        if table.key_by_column is not None:
            cell = aux[table.key_by_column.column].get(index)
            rule = table.key_by_column
            key = rule.default
            if cell is not None:
                number = cell.as_number()
                if number is not None and number in rule.values:
                    key = rule.values[number]
                elif cell.as_text() in rule.values:
                    key = rule.values[cell.as_text()]
                else:
                    text = cell.as_text()
                    key = next((k for end, k in rule.endswith.items() if text.endswith(end)), key)
        if key is None:
            return None
        instance = table.instance_prefix + instance_name(index)
        return key if table.bare_index == instance else f"{key}.{instance}"

    def _table(
        self,
        profile: Profile,
        block: Block,
        table: Table,
        walks: dict[Oid, WalkResult],
        ts: int,
        uptime: int | None,
        result: PollResult,
    ) -> None:
        rows = _columns_by_index(walks.get(table.column), table.column)
        aux = {c: _columns_by_index(walks.get(c), c) for c in table.columns()[1:]}
        states = profile.state_map(block, table)
        if table.mode in ("count", "mean", "list"):
            self._aggregate(profile, table, rows, aux, ts, result)
            return
        for index, raw in rows.items():
            if table.skip and raw.as_number() in table.skip:
                continue
            key = self._row_key(table, index, aux)
            if key is None:
                continue
            kind = entity_kind(profile.device_class, key)
            label_cell = aux[table.label].get(index) if table.label else None
            source = Source(format_oid(table.column + index), label_cell.as_text() if label_cell else None)
            if table.mode == "rate":
                self._rate(key, kind.type, raw, table, ts, uptime, result, source)
                continue
            factor = 1.0
            if table.precision_column or table.sensor_scale_column:
                precision = aux[table.precision_column].get(index) if table.precision_column else None
                scale_code = aux[table.sensor_scale_column].get(index) if table.sensor_scale_column else None
                factor = sensor_factor(
                    scale_code.as_number() if scale_code else None, precision.as_number() if precision else None
                )
            if table.mode == "percent_of" and table.of is not None:
                whole = aux[table.of].get(index)
                total = whole.as_float() if whole else None
                part = raw.as_float()
                if not total or part is None:
                    continue  # an empty or virtual store: no percentage to give
                value: Any = round(100.0 * part / total, 3)
                self._emit(result, Reading(self.device, key, value, ts, Quality.GOOD), source)
                continue
            value, quality = decode(
                raw,
                kind,
                scale=table.scale,
                states=states if kind.type in ("enum", "bool") else None,
                invalid=table.invalid,
                factor=factor,
                fahrenheit=table.fahrenheit,
            )
            self._emit(result, Reading(self.device, key, value, ts, quality), source)

    def _aggregate(
        self,
        profile: Profile,
        table: Table,
        rows: dict[Oid, SnmpValue],
        aux: dict[Oid, dict[Oid, SnmpValue]],
        ts: int,
        result: PollResult,
    ) -> None:
        kept = {i: v for i, v in rows.items() if self._row_key(table, i, aux) is not None}
        source = Source(format_oid(table.column))
        if table.mode == "count":
            wanted = set(table.count_values)
            count = sum(1 for v in kept.values() if not wanted or v.as_number() in wanted)
            self._emit(result, Reading(self.device, table.key, count, ts), source)
        elif table.mode == "mean":
            numbers = [n * table.scale for v in kept.values() if (n := v.as_float()) is not None]
            if numbers:
                self._emit(result, Reading(self.device, table.key, round(statistics.fmean(numbers), 3), ts), source)
        else:  # list: the row indexes are the members (VLAN ids)
            members = sorted(i[0] for i in kept if len(i) == 1)
            self._emit(result, Reading(self.device, table.key, len(members), ts), source)
            expected = self.config.expected_vlans
            if expected is not None and profile.device_class == "switch":
                ok = sorted(set(expected)) == members
                self._emit(result, Reading(self.device, "vlans_as_expected", ok, ts), source)
                if not ok:
                    missing = sorted(set(expected) - set(members))
                    extra = sorted(set(members) - set(expected))
                    result.problems.append(f"VLANs not as expected: missing {missing}, unexpected {extra}")

    def _rate(
        self,
        key: str,
        value_type: str,
        raw: SnmpValue,
        table: Table,
        ts: int,
        uptime: int | None,
        result: PollResult,
        source: Source,
    ) -> None:
        count = raw.as_number()
        if count is None or count < 0 or count >= 1 << table.counter_bits:
            self._emit(result, Reading(self.device, key, None, ts, Quality.BAD), source)
            return
        sample = Sample(count, ts, uptime)
        rate = counter_rate(self._counters.get(key), sample, table.counter_bits)
        self._counters[key] = sample
        if rate.per_second is None:
            if rate.status is not RateStatus.FIRST:
                log.info("device '%s': %s: no rate this time (%s)", self.device, key, rate.status.value)
            return
        self._emit(result, Reading(self.device, key, round(rate.per_second * table.scale, 3), ts), source)

    async def identity(self) -> dict[str, Any] | None:
        try:
            values = await self.client.get([SYS_DESCR, SYS_OBJECT_ID, SYS_NAME, SYS_LOCATION])
            columns = [(*ENT_PHYSICAL, n) for n in _ENT_COLUMNS.values()]
            walks = await self.client.walk(columns, max_rows=2000)
        except SnmpError as exc:
            raise self._error(exc) from exc
        ident: dict[str, Any] = {
            "description": values[SYS_DESCR].as_text(),
            "sys_object_id": values[SYS_OBJECT_ID].as_text(),
            "sys_name": values[SYS_NAME].as_text(),
            "location": values[SYS_LOCATION].as_text(),
            "profile": self.profile.name if self.profile else None,
            "manufacturer": self.profile.manufacturer if self.profile else None,
        }
        table: dict[Oid, dict[str, str]] = {}
        for name, number in _ENT_COLUMNS.items():
            column = (*ENT_PHYSICAL, number)
            for index, value in _columns_by_index(walks.get(column), column).items():
                table.setdefault(index, {})[name] = value.as_text()
        # chassis (3) and modules (9), power supplies (6), fans (7): what an asset list wants
        modules = [
            {k: v for k, v in row.items() if v and k != "class"}
            for row in table.values()
            if row.get("class") in ("3", "6", "7", "9") and (row.get("serial") or row.get("model"))
        ]
        chassis = next((row for row in table.values() if row.get("class") == "3"), {})
        ident.update({k: chassis[k] for k in ("model", "serial", "hardware", "firmware", "software") if chassis.get(k)})
        if modules:
            ident["modules"] = modules
        return ident

    async def listen(self, sink: DeviceSink) -> None:
        if self.config.traps is None:
            return
        from lvgate.drivers.snmp.traps import receive_traps

        await receive_traps(self.config, sink, self.profile.device_class if self.profile else None)

    async def close(self) -> None:
        self.client.close()


def profile_keys(profile: Profile) -> Sequence[str]:
    """Every base key a profile can publish (instances are only known from the device)."""
    keys: list[str] = []
    for block in profile.parts:
        for point in block.points:
            keys.append(point.key.partition(".")[0])
        for table in block.tables:
            keys.append(table.key)
            keys += [k for k in (table.key_by_index or {}).values() if k]
            if table.key_by_column:
                keys += [k for k in table.key_by_column.values.values() if k]
                keys += [table.key_by_column.default] if table.key_by_column.default else []
            if table.mode == "list":
                keys.append("vlans_as_expected")
    return list(dict.fromkeys(keys))


__all__ = ["PollResult", "ProfileError", "SnmpPoller", "Source", "profile_keys"]

"""Which switch ports matter: the device's ``ports`` rule applied to the IF-MIB interface list.

Pure functions: the poller walks the columns :func:`columns_for` asks for, builds the
interfaces with :func:`interfaces_from` and keeps the per-port rows :func:`select_ports` returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from lvgate.drivers.snmp.config import PortEntry, PortSelection
from lvgate.drivers.snmp.oids import Oid, parse_oid
from lvgate.drivers.snmp.values import SnmpValue

IF_DESCR = parse_oid("1.3.6.1.2.1.2.2.1.2")
IF_TYPE = parse_oid("1.3.6.1.2.1.2.2.1.3")
IF_SPEED = parse_oid("1.3.6.1.2.1.2.2.1.5")  # bit/s, stuck at 2^32-1 above 4.3 Gbit/s
IF_NAME = parse_oid("1.3.6.1.2.1.31.1.1.1.1")
IF_HIGH_SPEED = parse_oid("1.3.6.1.2.1.31.1.1.1.15")  # Mbit/s
IF_ALIAS = parse_oid("1.3.6.1.2.1.31.1.1.1.18")

# IANAifType: ethernetCsmacd, fastEther, gigabitEthernet. The loopback, VLAN interfaces (l3ipvlan
# 136, propVirtual 53) and tunnels are not ports unless the config names them.
PHYSICAL_TYPES = frozenset({6, 62, 117})
LAG_TYPE = 161  # ieee8023adLag: a port-channel can be the uplink


@dataclass(frozen=True)
class Interface:
    index: int
    type: int | None = None
    name: str = ""
    descr: str = ""
    alias: str = ""
    speed: float | None = None  # bit/s

    @property
    def physical(self) -> bool:
        return self.type in PHYSICAL_TYPES


@dataclass(frozen=True)
class Selection:
    indexes: frozenset[int]
    unmatched: tuple[PortEntry, ...] = ()  # include entries that named no interface: likely typos


def _default(rule: PortSelection) -> bool:
    return not rule.include and not rule.uplinks


def columns_for(rule: PortSelection) -> list[Oid]:
    """The IF-MIB columns the rule needs (a smaller walk when the rule is simple)."""
    columns = [IF_TYPE]
    if any(isinstance(e, str) for e in [*rule.include, *rule.exclude]):
        columns += [IF_NAME, IF_DESCR]
    if rule.uplinks and rule.uplink_alias:
        columns.append(IF_ALIAS)
    if rule.uplinks and rule.uplink_speed is not None:
        columns += [IF_HIGH_SPEED, IF_SPEED]
    return columns


def names(entry: PortEntry, port: Interface) -> bool:
    """True when a config entry names this interface: an int is its ifIndex, a string a
    case-insensitive shell pattern over ifName or ifDescr."""
    if isinstance(entry, int):
        return entry == port.index
    pattern = entry.strip().casefold()
    return any(text and fnmatchcase(text.strip().casefold(), pattern) for text in (port.name, port.descr))


def is_uplink(port: Interface, rule: PortSelection) -> bool:
    if not (port.physical or port.type == LAG_TYPE):
        return False
    alias = port.alias.strip().casefold()
    if alias and any(fnmatchcase(alias, p.strip().casefold()) for p in rule.uplink_alias):
        return True
    return rule.uplink_speed is not None and port.speed is not None and port.speed >= rule.uplink_speed


def select_ports(ports: Iterable[Interface], rule: PortSelection) -> Selection:
    """The ifIndexes that get per-port entities: every physical port by default, else those
    ``include`` names and (with ``uplinks``) the uplinks; ``exclude`` always wins."""
    listed = list(ports)
    chosen: set[int] = set()
    for port in listed:
        if any(names(e, port) for e in rule.exclude):
            continue
        if _default(rule):
            keep = port.physical
        else:
            keep = any(names(e, port) for e in rule.include) or (rule.uplinks and is_uplink(port, rule))
        if keep:
            chosen.add(port.index)
    unmatched = tuple(e for e in rule.include if not any(names(e, p) for p in listed))
    return Selection(frozenset(chosen), unmatched)


def interfaces_from(columns: Mapping[Oid, Mapping[Oid, SnmpValue]]) -> list[Interface]:
    """Interfaces from walked IF-MIB columns (column -> row index -> value); cells an agent
    left out stay empty, so a sparse table yields fewer matches, never an error."""

    def cell(column: Oid, index: Oid) -> SnmpValue | None:
        value = columns.get(column, {}).get(index)
        return None if value is None or value.missing else value

    indexes = sorted({i for rows in columns.values() for i in rows if len(i) == 1})
    found: list[Interface] = []
    for index in indexes:
        kind, name, descr, alias = (cell(c, index) for c in (IF_TYPE, IF_NAME, IF_DESCR, IF_ALIAS))
        high, low = cell(IF_HIGH_SPEED, index), cell(IF_SPEED, index)
        speed: float | None = None
        if high is not None and (mbit := high.as_number()) is not None:
            speed = float(mbit) * 1e6
        elif low is not None and (bits := low.as_number()) is not None:
            speed = float(bits)
        found.append(
            Interface(
                index[0],
                kind.as_number() if kind else None,
                name.as_text() if name else "",
                descr.as_text() if descr else "",
                alias.as_text() if alias else "",
                speed,
            )
        )
    return found

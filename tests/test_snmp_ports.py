"""The `ports` rule: which interfaces get per-port entities and count in ports_up.

Unit and property tests of the pure matching, then a live poll of the Aruba CX 6100 recording
on snmpsim. Expected ports are read off the .snmprec by hand (IF-MIB columns of that file):
ifIndex 1..16 are ifType 6 named "1/1/1".."1/1/16" (ifName = ifDescr); 16777217, 16777315,
16777316, 16777317 are ifType 53 "vlan1", "vlan99", "vlan100", "vlan101"; ifOperStatus is up (1)
on 1, 2, 11, 12, 14 and on vlan99/100/101; ifHighSpeed is 1000 on 1, 2, 11, 12, 14, else 0;
ifAlias of 14 is "LINK to Main Gateway (THgw01)", of 11 "LINK to NUC Host".
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from lvgate.drivers.snmp.config import PortSelection, SnmpDeviceConfig
from lvgate.drivers.snmp.driver import SnmpSession
from lvgate.drivers.snmp.oids import Oid
from lvgate.drivers.snmp.poller import SnmpPoller
from lvgate.drivers.snmp.ports import (
    IF_ALIAS,
    IF_DESCR,
    IF_HIGH_SPEED,
    IF_NAME,
    IF_SPEED,
    IF_TYPE,
    Interface,
    columns_for,
    interfaces_from,
    select_ports,
)
from lvgate.drivers.snmp.values import Kind, SnmpValue
from tests.shared_fixtures import fixture_path
from tests.snmp_peers import Snmpsim, start_snmpsim

# A small access switch: 2 copper ports, 2 ten-gig ports, a port-channel, a VLAN interface, a loopback.
SWITCH = [
    Interface(1, 6, "Gi1/0/1", "GigabitEthernet1/0/1", "desk 12", 1e9),
    Interface(2, 6, "Gi1/0/2", "GigabitEthernet1/0/2", "", 1e9),
    Interface(49, 6, "Te1/1/1", "TenGigabitEthernet1/1/1", "", 10e9),
    Interface(50, 6, "Te1/1/2", "TenGigabitEthernet1/1/2", "Uplink to core-2", 10e9),
    Interface(60, 161, "Po1", "Port-channel1", "TRUNK core", 20e9),
    Interface(100, 136, "Vl10", "Vlan10", "", 1e9),
    Interface(200, 24, "Lo0", "Loopback0", "", 8e9),
]


def picked(**rule: Any) -> set[int]:
    return set(select_ports(SWITCH, PortSelection(**rule)).indexes)


def test_default_is_every_physical_port() -> None:
    assert picked() == {1, 2, 49, 50}
    assert picked(exclude=["te*"]) == {1, 2}


def test_include_by_name_pattern_and_index() -> None:
    assert picked(include=["Gi1/0/1"]) == {1}
    assert picked(include=["gigabitethernet1/0/2"]) == {2}  # ifDescr, any case
    assert picked(include=["Te1/1/*", 1]) == {1, 49, 50}
    assert picked(include=["Po1", "Vlan*"]) == {60, 100}  # named explicitly: any interface type
    assert picked(include=["*"], exclude=["Lo*", 100]) == {1, 2, 49, 50, 60}


def test_exclude_wins_over_include() -> None:
    assert picked(include=["Te1/1/*"], exclude=[50]) == {49}
    assert picked(uplinks=True, exclude=["Po1"]) == {49, 50}


def test_uplink_rule_by_alias_and_speed() -> None:
    # speed >= 10 Gbit/s: the ten-gig ports and the port-channel; not the loopback (8 Gbit/s, not a port)
    assert picked(uplinks=True) == {49, 50, 60}
    assert picked(uplinks=True, uplink_speed=None) == {50, 60}  # alias "Uplink ..." and "TRUNK ..."
    assert picked(uplinks=True, uplink_speed=None, uplink_alias=["desk *"]) == {1}
    assert picked(uplinks=True, uplink_speed=1e9, uplink_alias=[]) == {1, 2, 49, 50, 60}  # Vl10 is not a port
    assert picked(include=[2], uplinks=True, uplink_speed=None) == {2, 50, 60}


def test_unmatched_include_entries_are_reported() -> None:
    selection = select_ports(SWITCH, PortSelection(include=["Gi1/0/1", "Gi9/9/9", 77]))
    assert selection.indexes == {1}
    assert selection.unmatched == ("Gi9/9/9", 77)


def test_config_shape() -> None:
    rule = PortSelection.model_validate({"include": [49, "49"], "uplink_speed": "2.5e9"})
    assert rule.include == [49, "49"]  # an int is an ifIndex, a quoted number a name (ProCurve names ports "1")
    assert rule.uplink_speed == 2.5e9
    bad: list[dict[str, Any]] = [
        {"include": [0]},
        {"exclude": ["  "]},
        {"include": [True]},
        {"uplink_speed": 0},
        {"uplink": True},  # a misspelt key is an error, not ignored
    ]
    for data in bad:
        with pytest.raises(ValidationError):
            PortSelection.model_validate(data)
    with pytest.raises(ValidationError, match="ports"):
        SnmpDeviceConfig.model_validate({"id": "sw", "ports": {"include": ["Gi1/0/1"], "upinks": True}})
    assert SnmpDeviceConfig(id="sw").ports == PortSelection()


def test_columns_walked_only_when_needed() -> None:
    assert columns_for(PortSelection()) == [IF_TYPE]
    assert columns_for(PortSelection(include=[1, 2])) == [IF_TYPE]
    assert set(columns_for(PortSelection(include=["Gi*"]))) == {IF_TYPE, IF_NAME, IF_DESCR}
    assert set(columns_for(PortSelection(uplinks=True))) == {IF_TYPE, IF_ALIAS, IF_HIGH_SPEED, IF_SPEED}


def test_interfaces_from_sparse_columns() -> None:
    def text(value: str) -> SnmpValue:
        return SnmpValue(Kind.STRING, value)

    def gauge(value: int) -> SnmpValue:
        return SnmpValue(Kind.GAUGE, value)

    columns: dict[Oid, dict[Oid, SnmpValue]] = {
        IF_TYPE: {(1,): SnmpValue(Kind.INTEGER, 6), (2,): SnmpValue(Kind.INTEGER, 6)},
        IF_NAME: {(1,): text("ge-0/0/0"), (2,): SnmpValue(Kind.NO_SUCH_INSTANCE, None)},
        IF_HIGH_SPEED: {(1,): gauge(10000)},  # Mbit/s, preferred over ifSpeed
        IF_SPEED: {(1,): gauge(4294967295), (2,): gauge(100_000_000), (3,): gauge(1)},
    }
    assert interfaces_from(columns) == [
        Interface(1, 6, "ge-0/0/0", speed=10e9),
        Interface(2, 6, "", speed=100e6),
        Interface(3, None, speed=1.0),  # a row only one column has: no type, so not a port by default
    ]


# --- properties ---------------------------------------------------------------------------------
_names = st.sampled_from(["Gi1/0/1", "Gi1/0/2", "Te1/1/1", "Po1", "Vlan10", "eth0", "1/1/1", "lo"])
_interfaces = st.lists(
    st.builds(
        Interface,
        index=st.integers(1, 60),
        type=st.sampled_from([6, 62, 117, 161, 53, 136, 24, None]),
        name=_names,
        descr=_names,
        alias=st.sampled_from(["", "uplink", "TRUNK to core", "desk"]),
        speed=st.sampled_from([None, 0.0, 1e9, 10e9, 40e9]),
    ),
    unique_by=lambda i: i.index,
    max_size=30,
)
_entries = st.lists(st.one_of(st.integers(1, 60), _names, st.sampled_from(["*", "Gi*", "te1/*", "[0-9]*"])), max_size=5)
_rules = st.builds(
    PortSelection,
    include=_entries,
    exclude=_entries,
    uplinks=st.booleans(),
    uplink_speed=st.sampled_from([None, 1e9, 10e9]),
)


@given(_interfaces, _rules)
def test_selection_is_a_subset_without_excluded_indexes(ports: list[Interface], rule: PortSelection) -> None:
    chosen = select_ports(ports, rule).indexes
    assert chosen <= {p.index for p in ports}
    excluded = {e for e in rule.exclude if isinstance(e, int)}
    assert not chosen & excluded


@given(_interfaces, _rules, st.randoms(use_true_random=False))
def test_selection_ignores_the_walk_order(ports: list[Interface], rule: PortSelection, rnd: random.Random) -> None:
    shuffled = list(ports)
    rnd.shuffle(shuffled)
    assert select_ports(shuffled, rule).indexes == select_ports(ports, rule).indexes


@given(_interfaces)
def test_default_selects_exactly_the_ethernet_types(ports: list[Interface]) -> None:
    assert select_ports(ports, PortSelection()).indexes == {p.index for p in ports if p.type in (6, 62, 117)}


@given(_interfaces, st.lists(st.integers(1, 60), max_size=8), st.lists(st.integers(1, 60), max_size=4))
def test_index_lists_select_what_they_list(ports: list[Interface], include: list[int], exclude: list[int]) -> None:
    rule = PortSelection(include=list(include), exclude=list(exclude))
    present = {p.index for p in ports}
    expected = (
        (set(include) & present) - set(exclude)
        if include
        else {p.index for p in ports if p.type in (6, 62, 117) and p.index not in exclude}
    )
    assert select_ports(ports, rule).indexes == expected


@given(_interfaces, _rules, _entries)
def test_more_exclusions_never_add_ports(ports: list[Interface], rule: PortSelection, more: list[int | str]) -> None:
    stricter = rule.model_copy(update={"exclude": [*rule.exclude, *more]})
    assert select_ports(ports, stricter).indexes <= select_ports(ports, rule).indexes


# --- live: the Aruba CX 6100 recording on snmpsim -----------------------------------------------
ARUBA = "aruba-cx_6100-12g-poe"
PER_PORT_KEYS = ("port_up", "port_speed", "port_in_rate", "port_out_rate", "port_in_errors", "port_in_discards")


@pytest.fixture(scope="module")
def aruba(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpsim]:
    sim = start_snmpsim(tmp_path_factory.mktemp("ports"), [fixture_path("snmp", f"{ARUBA}.snmprec")])
    yield sim
    sim.process.terminate()


async def poll_twice(sim: Snmpsim, ports: dict[str, Any] | None) -> tuple[dict[str, Any], list[str], SnmpPoller]:
    """Two polls (rates need two samples): the second poll's values and problems."""
    extra = {"ports": ports} if ports is not None else {}
    config = SnmpDeviceConfig.model_validate(
        {"id": "sw", "host": sim.host, "port": sim.port, "community": ARUBA, **extra}
    )
    poller = SnmpSession().poller(config)
    assert isinstance(poller, SnmpPoller)
    try:
        await poller.poll_detailed()
        result = await poller.poll_detailed()
    finally:
        await poller.close()
    return {r.key: r.value for r in result.readings}, result.problems, poller


def port_instances(values: dict[str, Any], key: str) -> set[int]:
    return {int(k.split(".", 1)[1]) for k in values if k.startswith(key + ".")}


async def test_default_publishes_every_physical_port(aruba: Snmpsim) -> None:
    values, _, poller = await poll_twice(aruba, None)
    assert poller.profile is not None and poller.profile.name == "aruba-cx"
    for key in PER_PORT_KEYS:
        assert port_instances(values, key) == set(range(1, 17)), key
    assert values["ports_up"] == 5  # 1, 2, 11, 12, 14 (the up VLAN interfaces are not ports)


async def test_configured_list_publishes_only_those_ports(aruba: Snmpsim) -> None:
    # "1/1/1?" is 1/1/10 .. 1/1/16; 2 by ifIndex; vlan99 named explicitly; 13 and 16 excluded
    rule = {"include": ["1/1/1?", 2, "VLAN99", "1/1/99"], "exclude": ["1/1/13", 16]}
    values, problems, poller = await poll_twice(aruba, rule)
    selected = {2, 10, 11, 12, 14, 15, 16777315}
    assert poller.selected_ports == selected
    for key in PER_PORT_KEYS:
        assert port_instances(values, key) == selected, key
    assert values["port_up.2"] is True and values["port_up.10"] is False and values["port_up.16777315"] is True
    assert values["port_speed.14"] == 1e9
    assert values["ports_up"] == 5  # 2, 11, 12, 14 and vlan99
    assert "ports: include '1/1/99' names no interface" in problems


async def test_recorded_uplinks_by_alias_and_speed(aruba: Snmpsim) -> None:
    by_alias = {"uplinks": True, "uplink_alias": ["*gateway*"], "uplink_speed": None}
    values, _, _ = await poll_twice(aruba, by_alias)
    assert port_instances(values, "port_up") == {14}
    assert values["ports_up"] == 1
    by_speed = {"uplinks": True, "uplink_alias": [], "uplink_speed": 1e9}
    values, _, _ = await poll_twice(aruba, by_speed)
    assert port_instances(values, "port_in_rate") == {1, 2, 11, 12, 14}
    assert values["port_in_rate.14"] == 0.0  # a recording does not move: two equal samples
    assert values["ports_up"] == 5

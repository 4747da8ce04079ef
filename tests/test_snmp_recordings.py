"""Real device recordings: snmpsim serves each LibreNMS .snmprec; lvgate must pick the right
profile from sysObjectID and publish the sensors LibreNMS lists in the .json beside it, with the
same value (after LibreNMS's divisor) and, for states, the same severity.

The expectations come from the .json only (sensor OID, current value, divisor, state table);
the table printed at the end says, per device, how many sensors were expected, found, equal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lvgate.drivers.snmp.config import SnmpDeviceConfig
from lvgate.drivers.snmp.driver import SnmpSession
from lvgate.drivers.snmp.poller import PollResult, SnmpPoller
from tests.snmp_peers import Snmpsim, recordings, snmpsim_recordings

__all__ = ["snmpsim_recordings"]

# The profile a technician would choose for each recording, by hand from its sysDescr.
EXPECTED_PROFILE = {
    "akcp_sensorprobe8": "akcp-sensorprobe",
    "apc_smart-ups-x-750-nmc2": "apc-ups",
    "aruba-cx_6100-12g-poe": "aruba-cx",
    "cisco_catalyst-c9200l-stack": "cisco-ios",
    "cisco_catalyst-ws-c4506-e": "cisco-ios",
    "cyberpower_ol2200rtxl2u-rmcard": "cyberpower-ups",
    "eaton_9px-1000i-rt2u": "eaton-mge-ups",
    "eaton_connectups-xups": "eaton-xups",
    "hp-procurve_e2910al-24g-poe": "hp-procurve",
    "hpe-comware_5900af-48g-4xg-2qsfp": "hpe-comware",
    "huawei_s5720-56c-pwr-ei": "huawei-vrp",
    "hwgroup_poseidon-4002": "hwgroup-poseidon",
    "juniper_ex3400-48t": "juniper-junos",
    "megatec_netagent2-ups": "megatec-ups",
    "mikrotik_crs317-1g-16s": "mikrotik-routeros",
    "minuteman_e1500rtxl2u-deltaups": "ups-rfc1628",
    "ruijie_s6220-48xs4qxs": "ruijie",
    "tplink_tl-sg2008": "tplink",
}

# LibreNMS sensor class -> (lvgate base keys that may carry it, factor from LibreNMS's unit to ours).
# LibreNMS gives runtimes in minutes, lvgate in seconds.
_ANY_DEVICE = {
    "temperature": ({"temperature", "battery_temperature", "probe_temperature"}, 1.0),
    "humidity": ({"humidity"}, 1.0),
    "fanspeed": ({"fan_speed"}, 1.0),
    "state": (None, 1.0),  # any *_status key
}
_UPS_ONLY = {
    "charge": ({"battery_charge"}, 1.0),
    "runtime": ({"battery_runtime", "time_on_battery"}, 60.0),
    "delay": ({"battery_runtime"}, 1.0),
    "voltage": ({"input_voltage", "output_voltage", "bypass_voltage", "battery_voltage"}, 1.0),
    "frequency": ({"input_frequency", "output_frequency", "bypass_frequency"}, 1.0),
    "load": ({"load"}, 1.0),
    "current": ({"input_current", "output_current", "bypass_current", "battery_current"}, 1.0),
    "power": ({"input_power", "output_power", "bypass_power"}, 1.0),
}
SEVERITY = {"normal": 0, "warning": 1, "critical": 2, "unknown": 3}


@dataclass
class Expected:
    cls: str
    oid: str
    descr: str
    value: float | None
    severity: int | None = None


@dataclass
class DeviceReport:
    name: str
    profile: str | None
    expected: list[Expected] = field(default_factory=list)
    found: int = 0
    equal: int = 0
    out_of_scope: dict[str, int] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)


def load_expected(json_path: Path, device_class: str) -> tuple[list[Expected], dict[str, int]]:
    data: dict[str, Any] = json.loads(json_path.read_text(encoding="utf-8"))
    section = data.get("sensors") if isinstance(data.get("sensors"), dict) else None
    discovery = (section or {}).get("discovery", {})
    states: dict[tuple[str, int], int] = {
        (s["state_name"], int(s["state_value"])): int(s["state_generic_value"])
        for s in discovery.get("state_indexes", [])
    }
    scope = dict(_ANY_DEVICE) | (_UPS_ONLY if device_class == "ups" else {})
    expected: list[Expected] = []
    skipped: dict[str, int] = {}
    for sensor in discovery.get("sensors", []):
        cls = sensor["sensor_class"]
        if cls not in scope:
            skipped[cls] = skipped.get(cls, 0) + 1
            continue
        current = sensor["sensor_current"]
        item = Expected(cls, sensor["sensor_oid"].lstrip("."), sensor["sensor_descr"], current)
        if cls == "state":
            # a value the state table does not list is "unknown" (3), as LibreNMS shows it
            item.severity = 3 if current is None else states.get((sensor["state_name"], int(current)), 3)
        expected.append(item)
    return expected, skipped


def _keys_for(result: PollResult, oid: str) -> list[str]:
    return [key for key, source in result.sources.items() if source.oid == oid]


def compare(item: Expected, result: PollResult, values: dict[str, Any]) -> tuple[bool, bool, str]:
    """(found, equal, explanation) for one LibreNMS sensor."""
    scope = _ANY_DEVICE.get(item.cls) or _UPS_ONLY[item.cls]
    allowed, factor = scope
    candidates = [
        k
        for k in _keys_for(result, item.oid)
        if (allowed is None and k.partition(".")[0].endswith("_status")) or (allowed and k.partition(".")[0] in allowed)
    ]
    if not candidates:
        return False, False, f"{item.cls} {item.oid} ({item.descr}): no entity from this OID"
    for key in candidates:
        value = values[key]
        if item.cls == "state":
            mine = 3 if value is None else SEVERITY.get(str(value), -1)
            if mine == item.severity:
                return True, True, ""
        elif value is not None and item.value is not None:
            want = float(item.value) * factor
            if abs(float(value) - want) <= 0.01 * factor + 1e-9 * abs(want):
                return True, True, ""
    return (
        True,
        False,
        f"{item.cls} {item.oid} ({item.descr}): lvgate {[values[k] for k in candidates]}, LibreNMS {item.value if item.cls != 'state' else item.severity}",
    )


async def poll_recording(sim: Snmpsim, name: str) -> tuple[SnmpPoller, PollResult]:
    config = SnmpDeviceConfig(id=name.replace("_", "-")[:60], host=sim.host, port=sim.port, community=name)
    poller = SnmpSession().poller(config)
    assert isinstance(poller, SnmpPoller)
    result = await poller.poll_detailed()
    return poller, result


def _names() -> Iterator[str]:
    for path in recordings():
        yield path.stem


@pytest.fixture(scope="module")
def report_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    yield lines


async def test_every_recording_detected_and_matches_librenms(
    snmpsim_recordings: Snmpsim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports: list[DeviceReport] = []
    for path in recordings():
        name = path.stem
        poller, result = await poll_recording(snmpsim_recordings, name)
        assert poller.profile is not None
        report = DeviceReport(name, poller.profile.name)
        expected, skipped = load_expected(path.with_suffix(".json"), poller.profile.device_class)
        report.expected, report.out_of_scope = expected, skipped
        values = {r.key: r.value for r in result.readings}
        for item in expected:
            found, equal, why = compare(item, result, values)
            report.found += found
            report.equal += equal
            if why:
                report.misses.append(why)
        reports.append(report)
        await poller.close()

    lines = [
        f"{'device':34} {'profile':18} {'expected':>8} {'found':>6} {'equal':>6}  not compared (LibreNMS class: n)"
    ]
    for r in reports:
        not_compared = ", ".join(f"{k}: {v}" for k, v in sorted(r.out_of_scope.items())) or "-"
        lines.append(
            f"{r.name:34} {r.profile or '-':18} {len(r.expected):>8} {r.found:>6} {r.equal:>6}  {not_compared}"
        )
    total = sum(len(r.expected) for r in reports)
    lines.append(
        f"{'total':34} {'':18} {total:>8} {sum(r.found for r in reports):>6} {sum(r.equal for r in reports):>6}"
    )
    for r in reports:
        lines += [f"  {r.name}: {miss}" for miss in r.misses]
    table = "\n".join(lines)
    (tmp_path / "snmp_recordings_table.txt").write_text(table + "\n", encoding="utf-8")
    with capsys.disabled():
        print("\n" + table)

    wrong_profile = {r.name: r.profile for r in reports if EXPECTED_PROFILE.get(r.name) != r.profile}
    assert not wrong_profile, f"profiles detected wrongly: {wrong_profile}"
    # Known gaps are listed in KNOWN_MISSES with the reason; anything else is a failure.
    unexplained = [m for r in reports for m in r.misses if not any(k in m for k in KNOWN_MISSES)]
    assert not unexplained, "\n".join(unexplained)


# LibreNMS sensors lvgate does not reproduce on purpose (the reason is in the report).
KNOWN_MISSES: dict[str, str] = {
    # LibreNMS walked xupsTestBatteryStatus and kept the instances .0.0 and .0.0.0 the card also
    # answers (the latter is not even in the recording); lvgate reads the scalar .0 only.
    "1.3.6.1.4.1.534.1.8.2.0.0": "bogus extra instances of the xupsTestBatteryStatus scalar",
}

"""A live agent: Debian's snmpd on loopback, HOST-RESOURCES and IF-MIB over v2c and v3 authPriv."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from pydantic import SecretStr

from lvgate.drivers.base import DeviceError
from lvgate.drivers.snmp.config import SnmpDeviceConfig, V3User
from lvgate.drivers.snmp.driver import SnmpSession
from lvgate.drivers.snmp.poller import SnmpPoller
from tests.services import LOOPBACK
from tests.snmp_peers import COMMUNITY, V3_AUTH, V3_PRIV, V3_USER, V3_USER_SHA256, Snmpd, snmpd_agent

__all__ = ["snmpd_agent"]


def snmpwalk(agent: Snmpd, oid: str) -> dict[str, str]:
    """net-snmp's own snmpwalk, numeric: {index: value} under ``oid``."""
    tool = shutil.which("snmpwalk")
    if tool is None:
        pytest.skip("net-snmp's snmpwalk is not installed (apt-get install snmp)")
    out = subprocess.run(
        [tool, "-v2c", "-c", COMMUNITY, "-On", "-Oq", "-Oe", "-m", "", f"{LOOPBACK}:{agent.port}", oid],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows: dict[str, str] = {}
    for line in out.splitlines():
        name, _, value = line.partition(" ")
        rows[name.lstrip(".")[len(oid) + 1 :]] = value.strip().strip('"')
    return rows


def poller_for(agent: Snmpd, **kwargs: object) -> SnmpPoller:
    config = SnmpDeviceConfig(id="host-1", host=LOOPBACK, port=agent.port, timeout=1.0, retries=1, **kwargs)
    poller = SnmpSession().poller(config)
    assert isinstance(poller, SnmpPoller)
    return poller


def v3(user: str, auth: str = V3_AUTH, protocol: str = "SHA") -> V3User:
    return V3User(
        user=user, auth_protocol=protocol, auth_key=SecretStr(auth), priv_protocol="AES", priv_key=SecretStr(V3_PRIV)
    )


def check_host_readings(agent: Snmpd, values: dict[str, object]) -> None:
    # hrStorage: RAM (type .2) and fixed disks (.4), used / size from net-snmp's own snmpwalk
    types = snmpwalk(agent, "1.3.6.1.2.1.25.2.3.1.2")
    sizes = snmpwalk(agent, "1.3.6.1.2.1.25.2.3.1.5")
    used = snmpwalk(agent, "1.3.6.1.2.1.25.2.3.1.6")
    for index, kind in types.items():
        key = {".1.3.6.1.2.1.25.2.1.2": "memory_used", ".1.3.6.1.2.1.25.2.1.4": "disk_used"}.get(kind)
        if key is None or int(sizes[index]) == 0:
            continue
        expected = 100.0 * int(used[index]) / int(sizes[index])
        got = values[f"{key}.{index}"]
        assert isinstance(got, float)
        assert got == pytest.approx(expected, abs=2.0), key  # memory moves between the two reads
    loads = [int(v) for v in snmpwalk(agent, "1.3.6.1.2.1.25.3.3.1.2").values() if v.lstrip("-").isdigit()]
    if loads:
        assert "cpu_load" in values
    oper = snmpwalk(agent, "1.3.6.1.2.1.2.2.1.8")
    if_types = snmpwalk(agent, "1.3.6.1.2.1.2.2.1.3")
    physical_up = [i for i, t in if_types.items() if int(t) in (6, 62, 117) and oper.get(i) == "1"]
    assert values["ports_up"] == len(physical_up)
    assert isinstance(values["uptime"], float) and values["uptime"] > 0


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"version": "2c", "community": SecretStr(COMMUNITY)}, id="v2c"),
        pytest.param({"version": "3", "v3": v3(V3_USER)}, id="v3-SHA-AES"),
        pytest.param({"version": "3", "v3": v3(V3_USER_SHA256, protocol="SHA256")}, id="v3-SHA256-AES"),
    ],
)
async def test_host_resources_and_if_mib(snmpd_agent: Snmpd, settings: dict[str, object]) -> None:
    poller = poller_for(snmpd_agent, **settings)
    first = await poller.poll_detailed()
    second = await poller.poll_detailed()
    await poller.close()
    assert poller.profile is not None and poller.profile.name == "net-snmp-host"
    check_host_readings(snmpd_agent, {r.key: r.value for r in second.readings})
    # counters give rates from the second poll on, never on the first
    assert not any(r.key.startswith("port_in_rate") for r in first.readings)


async def test_wrong_v3_key_says_authentication_failed(snmpd_agent: Snmpd) -> None:
    poller = poller_for(snmpd_agent, version="3", v3=v3(V3_USER, auth="not-the-key"))
    with pytest.raises(DeviceError) as caught:
        await poller.poll()
    await poller.close()
    assert caught.value.reason == "auth"
    assert "authentication failed for host-1" in str(caught.value)
    assert "not-the-key" not in str(caught.value)


async def test_unknown_v3_user_says_authentication_failed(snmpd_agent: Snmpd) -> None:
    poller = poller_for(snmpd_agent, version="3", v3=v3("nobody"))
    with pytest.raises(DeviceError, match="authentication failed for host-1"):
        await poller.poll()
    await poller.close()

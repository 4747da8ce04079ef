"""OSPF neighbour state and the Q-BRIDGE VLAN list, with a manual profile override."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lvgate.drivers.snmp.config import SnmpDeviceConfig
from lvgate.drivers.snmp.driver import SnmpSession
from lvgate.drivers.snmp.poller import SnmpPoller
from tests.services import LOOPBACK
from tests.shared_fixtures import fixture_path
from tests.snmp_peers import Snmpsim, start_snmpsim

NBR = "1.3.6.1.2.1.14.10.1.6"
# A router with three OSPF neighbours: two full, one stuck in 2-way; VLANs 1, 10, 20.
ROUTER = f"""1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.99998.1
1.3.6.1.2.1.1.3.0|67|12345
{NBR}.10.0.0.1.0|2|8
{NBR}.10.0.0.2.0|2|8
{NBR}.10.0.0.3.0|2|4
1.3.6.1.2.1.17.7.1.4.3.1.1.1|4|default
1.3.6.1.2.1.17.7.1.4.3.1.1.10|4|cameras
1.3.6.1.2.1.17.7.1.4.3.1.1.20|4|access
"""


@pytest.fixture(scope="module")
def agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpsim]:
    work = tmp_path_factory.mktemp("routing")
    router = work / "router.snmprec"
    router.write_text(ROUTER, encoding="utf-8")
    sim = start_snmpsim(work / "sim", [router, fixture_path("snmp", "tplink_tl-sg2008.snmprec")])
    yield sim
    sim.process.terminate()


async def poll(sim: Snmpsim, community: str, **kwargs: object) -> dict[str, object]:
    config = SnmpDeviceConfig(id="sw", host=LOOPBACK, port=sim.port, community=community, **kwargs)
    poller = SnmpSession().poller(config)
    assert isinstance(poller, SnmpPoller)
    result = await poller.poll_detailed()
    await poller.close()
    return {r.key: r.value for r in result.readings}


async def test_ospf_neighbours_with_a_manual_profile(agents: Snmpsim) -> None:
    # no profile matches enterprise 99998: the override is what makes it a switch
    values = await poll(agents, "router", profile="generic-switch", expected_vlans=[1, 10, 20])
    assert values["ospf_neighbors"] == 3
    assert values["ospf_neighbors_full"] == 2
    assert values["ospf_neighbor_state.10_0_0_3_0"] == "two_way"
    assert values["ospf_neighbor_state.10_0_0_1_0"] == "full"
    assert values["vlan_count"] == 3 and values["vlans_as_expected"] is True


async def test_vlans_of_a_recorded_switch(agents: Snmpsim) -> None:
    recording = fixture_path("snmp", "tplink_tl-sg2008.snmprec")
    prefix = "1.3.6.1.2.1.17.7.1.4.3.1.1."
    recorded = sorted(
        int(line.split("|")[0][len(prefix) :]) for line in recording.read_text().splitlines() if line.startswith(prefix)
    )
    values = await poll(agents, "tplink_tl-sg2008", expected_vlans=recorded)
    assert values["vlan_count"] == len(recorded) and values["vlans_as_expected"] is True
    values = await poll(agents, "tplink_tl-sg2008", expected_vlans=[*recorded, 4000])
    assert values["vlans_as_expected"] is False

"""The client against real agents: sparse tables on snmpsim, and an agent that loops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

from lvgate.drivers.snmp.client import Credentials, SnmpClient, SnmpError, Target
from lvgate.drivers.snmp.oids import parse_oid
from lvgate.drivers.snmp.values import Kind
from tests.services import LOOPBACK
from tests.snmp_peers import Snmpsim, start_snmpsim

# A table of 3 columns, rows 1, 2, 3, 5 (4 is absent), column 3 without row 2; something after.
SPARSE = """1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.99999
1.3.6.1.4.1.99999.1.1.2.1|2|10
1.3.6.1.4.1.99999.1.1.2.2|2|20
1.3.6.1.4.1.99999.1.1.2.3|2|30
1.3.6.1.4.1.99999.1.1.2.5|2|50
1.3.6.1.4.1.99999.1.1.3.1|4|one
1.3.6.1.4.1.99999.1.1.3.3|4|three
1.3.6.1.4.1.99999.1.1.3.5|4|five
1.3.6.1.4.1.99999.1.1.4.1|70|18446744073709551615
1.3.6.1.4.1.99999.2.0|2|7
"""
TABLE = "1.3.6.1.4.1.99999.1.1"


@pytest.fixture(scope="module")
def sparse_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snmpsim]:
    work = tmp_path_factory.mktemp("sparse")
    recording = work / "sparse.snmprec"
    recording.write_text(SPARSE, encoding="utf-8")
    sim = start_snmpsim(work / "sim", [recording])
    yield sim
    sim.process.terminate()


def client_for(sim: Snmpsim, *, version: str = "2c", reps: int = 2) -> SnmpClient:
    target = Target(LOOPBACK, sim.port, timeout=1.0, retries=1, max_repetitions=reps)
    return SnmpClient("sparse", target, Credentials(version=version, community="sparse"))  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["1", "2c"])
async def test_sparse_table_rows_and_holes(sparse_agent: Snmpsim, version: str) -> None:
    client = client_for(sparse_agent, version=version)
    col2, col3, col4 = (parse_oid(f"{TABLE}.{n}") for n in (2, 3, 4))
    walks = await client.walk([col2, col3, col4])
    client.close()
    assert [(oid[-1], v.value) for oid, v in walks[col2].rows] == [(1, 10), (2, 20), (3, 30), (5, 50)]
    assert [(oid[-1], v.value) for oid, v in walks[col3].rows] == [(1, "one"), (3, "three"), (5, "five")]
    # Counter64 at its maximum stays an unsigned integer; SNMPv1 cannot carry it (RFC 3584 skips it)
    expected = [] if version == "1" else [(1, Kind.COUNTER64, (1 << 64) - 1)]
    assert [(oid[-1], v.kind, v.value) for oid, v in walks[col4].rows] == expected
    assert all(not w.problems for w in walks.values())


async def test_walk_at_the_end_of_the_mib(sparse_agent: Snmpsim) -> None:
    client = client_for(sparse_agent)
    last = parse_oid("1.3.6.1.4.1.99999.2")
    walks = await client.walk([last, parse_oid("1.3.6.1.4.1.99999.3")])
    client.close()
    assert [(oid, v.value) for oid, v in walks[last].rows] == [(parse_oid("1.3.6.1.4.1.99999.2.0"), 7)]
    assert walks[parse_oid("1.3.6.1.4.1.99999.3")].rows == []


async def test_get_many_with_missing_oids(sparse_agent: Snmpsim) -> None:
    client = client_for(sparse_agent)
    client.target = Target(LOOPBACK, sparse_agent.port, max_oids_per_pdu=2)
    oids = [parse_oid(f"{TABLE}.2.{i}") for i in (1, 2, 3, 4, 5)] + [parse_oid("1.3.6.1.4.1.99999.9.0")]
    values = await client.get(oids)
    client.close()
    assert [values[o].value for o in oids[:5]] == [10, 20, 30, None, 50]
    assert values[oids[3]].kind is Kind.NO_SUCH_INSTANCE
    assert values[oids[5]].missing
    assert client.pdus == 3  # 6 OIDs, 2 per PDU


class _LoopingAgent(asyncio.DatagramProtocol):
    """An agent that answers every GETNEXT/GETBULK with the same OID: a broken firmware."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.requests = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.requests += 1
        pmod = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
        message, _ = decoder.decode(data, asn1Spec=pmod.Message())
        request = pmod.apiMessage.get_pdu(message)
        response = pmod.apiPDU.get_response(request)
        pmod.apiPDU.set_varbinds(response, [(pmod.ObjectIdentifier(self.answer), pmod.Integer(1))])
        pmod.apiMessage.set_pdu(message, response)
        assert self.transport is not None
        self.transport.sendto(encoder.encode(message), addr)


@pytest.fixture
async def looping_agent() -> AsyncIterator[tuple[int, _LoopingAgent]]:
    loop = asyncio.get_running_loop()
    agent = _LoopingAgent("1.3.6.1.4.1.99999.1.1.2.1")
    transport, _ = await loop.create_datagram_endpoint(lambda: agent, local_addr=(LOOPBACK, 0))
    yield transport.get_extra_info("sockname")[1], agent
    transport.close()


async def test_non_increasing_oid_stops_the_walk(looping_agent: tuple[int, _LoopingAgent]) -> None:
    port, agent = looping_agent
    client = SnmpClient("looper", Target(LOOPBACK, port, timeout=1.0, retries=0), Credentials(community="x"))
    column = parse_oid("1.3.6.1.4.1.99999.1.1.2")
    walks = await asyncio.wait_for(client.walk([column]), timeout=10)
    client.close()
    # the first answer is a row; the second repeats it: the walk stops, saying why
    assert [oid for oid, _ in walks[column].rows] == [parse_oid("1.3.6.1.4.1.99999.1.1.2.1")]
    assert "non-increasing OID" in walks[column].problems[0]
    assert agent.requests == 2


async def test_silent_agent_times_out_with_a_clear_error(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(LOOPBACK, 0))
    port = transport.get_extra_info("sockname")[1]
    client = SnmpClient("mute", Target(LOOPBACK, port, timeout=0.2, retries=1), Credentials(community="x"))
    with pytest.raises(SnmpError) as caught:
        await client.get([parse_oid("1.3.6.1.2.1.1.2.0")])
    client.close()
    transport.close()
    assert caught.value.reason == "timeout"
    assert f"127.0.0.1:{port}" in caught.value.detail

"""The three checks against real peers on loopback: ICMP echo, TCP connect, HTTP(S)."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lvgate.cli import main as lvgate_main
from lvgate.drivers.reachability.config import HttpCheck, IcmpCheck, TcpCheck
from lvgate.drivers.reachability.driver import ReachabilitySession
from lvgate.drivers.reachability.icmp import IcmpUnavailable, Pinger, icmp_access
from tests.reachability_servers import LOOPBACK, http_server, self_signed
from tests.services import free_port


@pytest.fixture
async def session() -> AsyncIterator[ReachabilitySession]:
    session = ReachabilitySession(max_concurrent=8)
    try:
        yield session
    finally:
        await session.close()


def _icmp_or_skip(family: int = socket.AF_INET) -> None:
    try:
        icmp_access(family)
    except IcmpUnavailable as exc:
        pytest.skip(f"this process may open no ICMP socket: {exc}")


# --------------------------------------------------------------------------- ICMP


async def test_ping_loopback_is_reachable_with_a_small_rtt(session: ReachabilitySession) -> None:
    _icmp_or_skip()
    result = await session.run(LOOPBACK, IcmpCheck(kind="icmp", count=4, interval=0.01), timeout=1.0)
    assert result.ok, result.reason
    assert result.values["packet_loss"] == 0.0
    rtt = result.values["rtt"]
    assert isinstance(rtt, float)
    assert 0 < rtt < 50  # loopback: well under a millisecond normally; 50 ms bounds a loaded CI box


async def test_ping_ipv6_loopback(session: ReachabilitySession) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this Python")
    _icmp_or_skip(socket.AF_INET6)
    try:
        socket.getaddrinfo("::1", None)
    except OSError:
        pytest.skip("::1 is not configured")
    result = await session.run("::1", IcmpCheck(kind="icmp", count=2, interval=0.01), timeout=1.0)
    assert result.ok, result.reason
    assert result.values["packet_loss"] == 0.0


async def test_many_pings_share_one_socket_and_each_gets_its_own_replies(session: ReachabilitySession) -> None:
    _icmp_or_skip()
    check = IcmpCheck(kind="icmp", count=3, interval=0.0)
    results = await asyncio.gather(*(session.run(LOOPBACK, check, timeout=2.0) for _ in range(40)))
    assert all(r.ok and r.values["packet_loss"] == 0.0 for r in results)
    assert len(session.pinger._sockets) == 1


async def test_unprivileged_mode_works_or_names_the_fix() -> None:
    with open("/proc/sys/net/ipv4/ping_group_range") as f:
        low, high = (int(x) for x in f.read().split())
    import os

    allowed = low <= os.getgid() <= high
    pinger = Pinger("unprivileged")
    try:
        if allowed:
            result = await pinger.ping(LOOPBACK, socket.AF_INET, count=2, interval=0.01, timeout=1.0)
            assert result.received == 2
            assert pinger.privileged() is False
        else:
            with pytest.raises(IcmpUnavailable, match=r"ping_group_range.*CAP_NET_RAW"):
                await pinger.ping(LOOPBACK, socket.AF_INET, count=1)
    finally:
        pinger.close()


# --------------------------------------------------------------------------- TCP


async def test_tcp_connect_to_a_listening_server(session: ReachabilitySession) -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), LOOPBACK, 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await session.run(LOOPBACK, TcpCheck(kind="tcp", port=port), timeout=1.0)
    assert result.ok, result.reason
    connect = result.values["tcp_connect_time"]
    assert isinstance(connect, float) and connect >= 0


async def test_tcp_connect_to_a_closed_port_is_refused(session: ReachabilitySession) -> None:
    port = free_port()  # nothing listens there
    result = await session.run(LOOPBACK, TcpCheck(kind="tcp", port=port), timeout=1.0)
    assert not result.ok
    assert result.reason == "refused"
    assert result.values == {"tcp_connect_time": None}


# --------------------------------------------------------------------------- HTTP


async def test_http_200_with_body_match(session: ReachabilitySession) -> None:
    with http_server() as port:
        check = HttpCheck(kind="http", port=port, path="/ok", body_contains="all systems normal")
        result = await session.run(LOOPBACK, check, timeout=2.0)
    assert result.ok, result.reason
    assert result.values["http_status"] == 200
    assert isinstance(result.values["http_response_time"], float)
    assert "cert_days_left" not in result.values


async def test_http_body_mismatch_fails(session: ReachabilitySession) -> None:
    with http_server() as port:
        check = HttpCheck(kind="http", port=port, path="/ok", body_contains="degraded")
        result = await session.run(LOOPBACK, check, timeout=2.0)
    assert not result.ok
    assert result.reason is not None and "degraded" in result.reason
    assert result.values["http_status"] == 200


async def test_http_500_fails_with_its_status(session: ReachabilitySession) -> None:
    with http_server() as port:
        result = await session.run(LOOPBACK, HttpCheck(kind="http", port=port, path="/fail"), timeout=2.0)
    assert not result.ok
    assert result.reason == "status 500"
    assert result.values["http_status"] == 500


async def test_http_500_passes_when_expected(session: ReachabilitySession) -> None:
    with http_server() as port:
        check = HttpCheck(kind="http", port=port, path="/fail", expect_status=(500,))
        result = await session.run(LOOPBACK, check, timeout=2.0)
    assert result.ok


async def test_http_slow_answer_past_the_timeout(session: ReachabilitySession) -> None:
    with http_server() as port:
        result = await session.run(LOOPBACK, HttpCheck(kind="http", port=port, path="/slow"), timeout=0.3)
    assert not result.ok
    assert result.reason is not None and "0.3 s" in result.reason
    assert result.values == {"http_status": None, "http_response_time": None}


async def test_https_self_signed_certificate_days_left(session: ReachabilitySession, tmp_path: Path) -> None:
    # Valid for 10 days and 12 hours from now: 10 whole days left, whenever in the test it is read.
    expiry = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=10, hours=12)
    cert = self_signed(tmp_path / "tls", expiry)
    with http_server(cert) as port:
        insecure = HttpCheck(kind="http", scheme="https", port=port, path="/ok", verify_tls=False)
        unverified = await session.run(LOOPBACK, insecure, timeout=2.0)
        verified = await session.run(LOOPBACK, insecure.model_copy(update={"verify_tls": True}), timeout=2.0)
    assert unverified.ok, unverified.reason
    assert unverified.values["http_status"] == 200
    assert unverified.values["cert_days_left"] == 10
    # Verification on (the default): a self-signed certificate is refused, and said so.
    assert not verified.ok
    assert verified.reason is not None and "CERTIFICATE_VERIFY_FAILED" in verified.reason


async def test_https_expired_certificate_reads_negative_days(session: ReachabilitySession, tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    cert = self_signed(tmp_path / "tls", now - dt.timedelta(days=3, hours=1), not_before=now - dt.timedelta(days=30))
    with http_server(cert) as port:
        check = HttpCheck(kind="http", scheme="https", port=port, path="/ok", verify_tls=False)
        result = await session.run(LOOPBACK, check, timeout=2.0)
    assert result.values["cert_days_left"] == -4  # 3 days 1 hour ago: floor(-3.04) = -4


async def test_http_to_a_closed_port_is_refused(session: ReachabilitySession) -> None:
    result = await session.run(LOOPBACK, HttpCheck(kind="http", port=free_port()), timeout=1.0)
    assert not result.ok
    assert result.reason == "refused"


# --------------------------------------------------------------------------- lvgate probe


def test_probe_tcp_and_http(capsys: pytest.CaptureFixture[str]) -> None:
    with http_server() as port:
        assert lvgate_main(["probe", "reachability", "tcp", f"{LOOPBACK}:{port}"]) == 0
        assert f"tcp:{port} {LOOPBACK}: OK" in capsys.readouterr().out
        assert lvgate_main(["probe", "reachability", "http", f"http://{LOOPBACK}:{port}/fail"]) == 1
        out = capsys.readouterr().out
        assert "FAILED: status 500" in out and "http_status: 500" in out


def test_probe_ping(capsys: pytest.CaptureFixture[str]) -> None:
    _icmp_or_skip()
    assert lvgate_main(["probe", "reachability", "ping", LOOPBACK, "--count", "2", "--interval", "0.01"]) == 0
    assert "packet_loss: 0.0" in capsys.readouterr().out


def test_probe_shorthands_are_the_reachability_probe(capsys: pytest.CaptureFixture[str]) -> None:
    with http_server() as port:
        assert lvgate_main(["probe", "tcp", f"{LOOPBACK}:{port}"]) == 0
        assert f"tcp:{port} {LOOPBACK}: OK" in capsys.readouterr().out
        assert lvgate_main(["probe", "http", f"http://{LOOPBACK}:{port}/fail"]) == 1
        assert "FAILED: status 500" in capsys.readouterr().out


def test_probe_rejects_a_malformed_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert lvgate_main(["probe", "reachability", "tcp", "::1:80"]) == 2
    assert "[::1]:80" in capsys.readouterr().out

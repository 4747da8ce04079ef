"""The three checks (ICMP echo, TCP connect, HTTP request) against one target.

Each returns a :class:`CheckResult`: whether the target passed, why not, and the values it
measured under their vocabulary keys. A target that does not answer is a result, not an
exception; only a check that cannot run at all (no ICMP socket) raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from lvgate.drivers.reachability.certificate import CertificateError, days_left, not_after
from lvgate.drivers.reachability.config import HttpCheck, IcmpCheck, TcpCheck
from lvgate.drivers.reachability.icmp import Pinger
from lvgate.reading import Value

MAX_BODY = 1 << 20  # bytes of a body searched for `body_contains`; enough for a status page


@dataclass
class CheckResult:
    label: str
    ok: bool
    reason: str | None = None
    values: dict[str, Value] = field(default_factory=dict)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


async def resolve(host: str) -> tuple[int, str]:
    """(address family, numeric address) of ``host``; OSError when it does not resolve."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    if not infos:
        raise OSError(f"no address for {host}")
    family, _, _, _, sockaddr = infos[0]
    return family, str(sockaddr[0])


async def icmp_check(pinger: Pinger, host: str, check: IcmpCheck, timeout: float) -> CheckResult:
    try:
        family, address = await resolve(host)
    except OSError as exc:
        return CheckResult(check.label, False, f"cannot resolve {host}: {exc}")
    result = await pinger.ping(address, family, count=check.count, interval=check.interval, timeout=timeout)
    median = result.median_ms
    values: dict[str, Value] = {
        "rtt": None if median is None else round(median, 3),
        "packet_loss": round(result.loss_percent, 1),
    }
    if result.received == 0:
        return CheckResult(check.label, False, f"no echo reply to {result.sent} requests", values)
    return CheckResult(check.label, True, None, values)


async def tcp_check(host: str, check: TcpCheck, timeout: float) -> CheckResult:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, check.port)
    except TimeoutError:
        return CheckResult(check.label, False, f"no answer within {timeout:g} s", {"tcp_connect_time": None})
    except OSError as exc:
        reason = "refused" if isinstance(exc, ConnectionRefusedError) else (exc.strerror or str(exc))
        return CheckResult(check.label, False, reason, {"tcp_connect_time": None})
    elapsed = time.perf_counter() - started
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return CheckResult(check.label, True, None, {"tcp_connect_time": _ms(elapsed)})


def url_of(host: str, check: HttpCheck) -> httpx.URL:
    port = check.port or (443 if check.scheme == "https" else 80)
    path, _, query = check.path.partition("?")
    url = httpx.URL(scheme=check.scheme, host=host, port=port, path=path)
    return url.copy_with(query=query.encode()) if query else url


def _peer_days_left(response: httpx.Response) -> int | None:
    """Days until the peer certificate expires, read from its DER bytes (available even when
    verification is off, unlike the decoded form)."""
    stream: Any = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        return None
    try:
        return days_left(not_after(der), datetime.now(UTC))
    except CertificateError:
        return None


async def http_check(client: httpx.AsyncClient, host: str, check: HttpCheck, timeout: float) -> CheckResult:
    values: dict[str, Value] = {"http_status": None, "http_response_time": None}
    if check.scheme == "https":
        values["cert_days_left"] = None
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout), client.stream(check.method, url_of(host, check)) as response:
            if check.scheme == "https":
                values["cert_days_left"] = _peer_days_left(response)
            body = b""
            if check.body_contains is not None:
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= MAX_BODY:
                        break
            else:
                await response.aread()
    except TimeoutError:
        return CheckResult(check.label, False, f"no complete answer within {timeout:g} s", values)
    except httpx.HTTPError as exc:
        return CheckResult(check.label, False, _http_reason(exc), values)
    values["http_response_time"] = _ms(time.perf_counter() - started)
    values["http_status"] = response.status_code
    if not check.status_ok(response.status_code):
        return CheckResult(check.label, False, f"status {response.status_code}", values)
    if check.body_contains is not None and check.body_contains not in body.decode(errors="replace"):
        return CheckResult(check.label, False, f"body does not contain {check.body_contains!r}", values)
    return CheckResult(check.label, True, None, values)


def _http_reason(exc: httpx.HTTPError) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return f"timeout: {text}"
    cause: BaseException | None = exc
    for _ in range(8):  # httpx wraps the socket error a few levels down
        if cause is None:
            break
        if isinstance(cause, ConnectionRefusedError):
            return "refused"
        cause = cause.__cause__ or cause.__context__
    return text

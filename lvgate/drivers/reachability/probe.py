"""`lvgate probe reachability ping|tcp|http TARGET`: one check, run now, printed for a technician."""

from __future__ import annotations

import argparse

import httpx

from lvgate.drivers.reachability.config import DEFAULT_TIMEOUT, Check, HttpCheck, IcmpCheck, TcpCheck
from lvgate.drivers.reachability.icmp import IcmpUnavailable

KINDS = {
    "ping": "ICMP echo: TARGET is a host name or address",
    "tcp": "TCP connect: TARGET is HOST:PORT ([ADDR]:PORT for IPv6)",
    "http": "HTTP(S) request: TARGET is a URL",
}


def add_kind_arguments(parser: argparse.ArgumentParser, kind: str) -> None:
    """The arguments of one kind of probe (also used for the short `lvgate probe ping ...`)."""
    parser.add_argument("target", metavar="TARGET", help=KINDS[kind])
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds (default %(default)s)")
    if kind == "ping":
        parser.add_argument("--count", type=int, default=3, help="echo requests (default %(default)s)")
        parser.add_argument("--interval", type=float, default=0.2, help="seconds between them")
    if kind == "http":
        parser.add_argument("--expect-status", type=int, action="append", help="accepted status; repeat")
        parser.add_argument("--body-contains", help="text the body must contain")
        parser.add_argument("--insecure", action="store_true", help="do not verify the TLS certificate")
        parser.add_argument("--head", action="store_true", help="send HEAD instead of GET")
    parser.set_defaults(probe_kind=kind)


def add_arguments(parser: argparse.ArgumentParser) -> bool:
    sub = parser.add_subparsers(dest="probe_kind", metavar="{ping,tcp,http}", required=True)
    for kind, text in KINDS.items():
        add_kind_arguments(sub.add_parser(kind, help=text), kind)
    return True


def split_host_port(target: str) -> tuple[str, int]:
    """'host:port' or '[v6 address]:port' -> (host, port); ValueError naming the problem."""
    host, sep, port_text = target.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"'{target}' is not HOST:PORT")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is not between 1 and 65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"write an IPv6 address in brackets: [{host}]:{port}")
    return host, port


def check_of(args: argparse.Namespace) -> tuple[str, Check]:
    """(host, check) for the probe's arguments; ValueError for a malformed TARGET."""
    kind: str = args.probe_kind
    if kind == "ping":
        return args.target, IcmpCheck(kind="icmp", count=args.count, interval=args.interval)
    if kind == "tcp":
        host, port = split_host_port(args.target)
        return host, TcpCheck(kind="tcp", port=port)
    try:
        url = httpx.URL(args.target)
    except httpx.InvalidURL as exc:
        raise ValueError(f"'{args.target}' is not a URL: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"'{args.target}' is not an http:// or https:// URL")
    path = url.raw_path.decode() or "/"
    return url.host, HttpCheck(
        kind="http",
        scheme=url.scheme,  # checked just above
        port=url.port,
        path=path,
        method="HEAD" if args.head else "GET",
        expect_status=tuple(args.expect_status or ()),
        body_contains=args.body_contains,
        verify_tls=not args.insecure,
    )


async def run(args: argparse.Namespace) -> int:
    """0 when the target passes the check, 1 when it fails, 2 when the check cannot run."""
    from lvgate.drivers.reachability.driver import ReachabilitySession

    try:
        host, check = check_of(args)
    except ValueError as exc:
        print(f"lvgate probe {args.probe_kind}: {exc}")
        return 2
    session = ReachabilitySession(max_concurrent=1)
    try:
        result = await session.run(host, check, args.timeout)
    except IcmpUnavailable as exc:
        print(f"{check.label} {host}: {exc}")
        return 2
    finally:
        await session.close()
    verdict = "OK" if result.ok else f"FAILED: {result.reason}"
    print(f"{check.label} {host}: {verdict}")
    for key, value in result.values.items():
        print(f"  {key}: {'-' if value is None else value}")
    return 0 if result.ok else 1

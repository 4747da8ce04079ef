"""ICMP echo over one shared socket per address family.

Why not one socket per ping (as most ping libraries do): every raw ICMP socket receives a
copy of every ICMP packet the host gets, so 200 targets pinged at once through 200 raw
sockets would parse 200 x 200 replies. One socket per family, with replies matched to the
waiting ping by sequence number, keeps the work linear in the number of targets.

The socket is an unprivileged ICMP datagram socket where ``net.ipv4.ping_group_range``
admits the process's group (the kernel then fills in the identifier and checksum), a raw
socket otherwise (root or CAP_NET_RAW), and :class:`IcmpUnavailable` says how to fix it
when neither can be opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["auto", "unprivileged", "raw"]

ECHO_REQUEST: dict[int, int] = {socket.AF_INET: 8, socket.AF_INET6: 128}
ECHO_REPLY: dict[int, int] = {socket.AF_INET: 0, socket.AF_INET6: 129}
_PROTO: dict[int, int] = {socket.AF_INET: socket.IPPROTO_ICMP, socket.AF_INET6: socket.IPPROTO_ICMPV6}
_SOL_RAW = 255
_ICMP_FILTER = 1  # Linux raw-socket option: a bit set = that ICMP type is dropped by the kernel


class IcmpUnavailable(Exception):
    """Neither an unprivileged nor a raw ICMP socket can be opened by this process."""


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): ones' complement of the ones' complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(family: int, ident: int, seq: int, payload: bytes) -> bytes:
    """An ICMP (v4) or ICMPv6 echo request. The v6 checksum covers a pseudo-header the kernel
    knows and we do not, so it is left 0 for the kernel to fill in."""
    kind = ECHO_REQUEST[family]
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    if family == socket.AF_INET6:
        return header + payload
    return struct.pack("!BBHHH", kind, 0, checksum(header + payload), ident, seq) + payload


def parse_echo_reply(family: int, packet: bytes, has_ip_header: bool) -> tuple[int, int] | None:
    """(identifier, sequence) of an echo reply, or None for any other packet."""
    if has_ip_header:  # raw IPv4 sockets hand over the IP header too
        if len(packet) < 20:
            return None
        packet = packet[(packet[0] & 0x0F) * 4 :]
    if len(packet) < 8 or packet[0] != ECHO_REPLY[family] or packet[1] != 0:
        return None
    ident, seq = struct.unpack_from("!HH", packet, 4)
    return ident, seq


def _open(family: int, mode: Mode) -> tuple[socket.socket, bool]:
    """(socket, privileged) for ``family`` in ``mode``; IcmpUnavailable naming the fix."""
    errors: list[str] = []
    if mode in ("auto", "unprivileged"):
        try:
            return socket.socket(family, socket.SOCK_DGRAM, _PROTO[family]), False
        except PermissionError as exc:
            errors.append(f"unprivileged ICMP socket: {exc.strerror}")
    if mode in ("auto", "raw"):
        try:
            return socket.socket(family, socket.SOCK_RAW, _PROTO[family]), True
        except PermissionError as exc:
            errors.append(f"raw ICMP socket: {exc.strerror}")
    raise IcmpUnavailable(
        "cannot send ICMP echo (" + "; ".join(errors) + f"). Allow unprivileged ping for group {os.getgid()} with "
        f"`sysctl -w net.ipv4.ping_group_range='0 2147483647'`, or run with CAP_NET_RAW "
        "(`setcap cap_net_raw+ep` on the interpreter, or AmbientCapabilities=CAP_NET_RAW in the systemd unit)"
    )


def icmp_access(family: int = socket.AF_INET, mode: Mode = "auto") -> str:
    """Which ICMP socket this process may open ("unprivileged" or "raw"); IcmpUnavailable if none."""
    sock, privileged = _open(family, mode)
    sock.close()
    return "raw" if privileged else "unprivileged"


@dataclass
class PingResult:
    sent: int
    rtts_ms: list[float] = field(default_factory=list)

    @property
    def received(self) -> int:
        return len(self.rtts_ms)

    @property
    def loss_percent(self) -> float:
        return 100.0 * (self.sent - self.received) / self.sent if self.sent else 100.0

    @property
    def median_ms(self) -> float | None:
        if not self.rtts_ms:
            return None
        ordered = sorted(self.rtts_ms)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


class _FamilySocket:
    """One ICMP socket and the pings waiting on it, keyed by sequence number."""

    def __init__(self, family: int, mode: Mode) -> None:
        self.family = family
        self.sock, self.privileged = _open(family, mode)
        self.sock.setblocking(False)
        if self.privileged and family == socket.AF_INET:
            # Let the kernel drop every ICMP type but echo reply before Python sees it.
            with contextlib.suppress(OSError):
                self.sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("I", ~(1 << 0) & 0xFFFFFFFF))
        # Datagram sockets get their identifier from the kernel (the "port"); raw ones use ours.
        self.ident = self.sock.getsockname()[1] if not self.privileged else os.getpid() & 0xFFFF
        self.has_ip_header = self.privileged and family == socket.AF_INET
        self.waiting: dict[int, asyncio.Future[float]] = {}
        self.sent_at: dict[int, float] = {}
        self._seq = itertools.count(1)
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        now = time.perf_counter()
        for _ in range(256):  # drain what is queued, bounded so one burst cannot starve the loop
            try:
                packet = self.sock.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            parsed = parse_echo_reply(self.family, packet, self.has_ip_header)
            if parsed is None:
                continue
            ident, seq = parsed
            if self.privileged and ident != self.ident:
                continue  # another program's ping, seen by our raw socket
            future = self.waiting.pop(seq, None)
            if future is not None and not future.done():
                future.set_result((now - self.sent_at.pop(seq)) * 1000)

    def next_seq(self) -> int:
        for _ in range(0x10000):
            seq = next(self._seq) & 0xFFFF
            if seq and seq not in self.waiting:
                return seq
        raise RuntimeError("65535 ICMP echoes in flight on one socket")

    async def echo(self, address: str, timeout: float, payload: bytes) -> float | None:
        """Round-trip time in ms of one echo to ``address``, or None after ``timeout`` s."""
        seq = self.next_seq()
        future: asyncio.Future[float] = self.loop.create_future()
        self.waiting[seq] = future
        self.sent_at[seq] = time.perf_counter()
        try:
            self.sock.sendto(echo_request(self.family, self.ident, seq, payload), (address, 0))
            return await asyncio.wait_for(future, timeout)
        except (TimeoutError, OSError):  # OSError: unreachable network, no route: a lost echo
            return None
        finally:
            self.waiting.pop(seq, None)
            self.sent_at.pop(seq, None)

    def close(self) -> None:
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()
        for future in self.waiting.values():
            future.cancel()


class Pinger:
    """Sends echo requests for every ping of a driver session through shared sockets."""

    def __init__(self, mode: Mode = "auto") -> None:
        self.mode: Mode = mode
        self._sockets: dict[int, _FamilySocket] = {}

    def _socket(self, family: int) -> _FamilySocket:
        if family not in self._sockets:
            self._sockets[family] = _FamilySocket(family, self.mode)
        return self._sockets[family]

    def privileged(self, family: int = socket.AF_INET) -> bool:
        """Whether ``family`` goes through a raw socket (opens it if needed)."""
        return self._socket(family).privileged

    async def ping(
        self, address: str, family: int, count: int = 3, interval: float = 0.2, timeout: float = 1.0
    ) -> PingResult:
        """Send ``count`` echoes ``interval`` s apart to a numeric ``address``; wait ``timeout`` s for each."""
        sock = self._socket(family)
        payload = b"lvgate-reachability"
        echoes: list[asyncio.Task[float | None]] = []
        for index in range(count):
            if index:
                await asyncio.sleep(interval)
            echoes.append(asyncio.create_task(sock.echo(address, timeout, payload)))
        rtts = await asyncio.gather(*echoes)
        return PingResult(sent=count, rtts_ms=[r for r in rtts if r is not None])

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()

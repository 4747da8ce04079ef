"""Modbus buses: TCP, RTU on a serial port, RTU tunnelled through TCP.

A bus is what one set of wires (or one TCP connection) can carry: one request at a time.
Every unit on it shares its lock, so requests never overlap, and its clock, so the silence
between frames (3.5 character times on a serial line) is kept. Before a request goes out,
whatever is still in the receive buffer is thrown away: a reply that arrives after its
timeout can never be read as the answer to the next request. Over TCP the transaction id
does the same job.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass

import serial

from lvgate.drivers.modbus.frames import (
    ExceptionReply,
    FrameError,
    check_reply_pdu,
    check_rtu_reply,
    mbap_fields,
    mbap_frame,
    rtu_frame,
    rtu_reply_length,
)

log = logging.getLogger(__name__)


class LinkError(Exception):
    """The port or connection is not there (unplugged, refused); the bus retries with back-off."""


def char_time(baudrate: int, bytesize: int = 8, parity: str = "N", stopbits: int = 1) -> float:
    """Seconds one character occupies the line: start bit, data, parity, stop bits."""
    return (1 + bytesize + (0 if parity == "N" else 1) + stopbits) / baudrate


def frame_gap(baudrate: int, bytesize: int = 8, parity: str = "N", stopbits: int = 1) -> float:
    """The silence that ends an RTU frame: 3.5 characters, fixed at 1.75 ms above 19200 baud
    (Modbus over serial line, section 2.5.1.1)."""
    if baudrate > 19200:
        return 0.00175
    return 3.5 * char_time(baudrate, bytesize, parity, stopbits)


@dataclass
class BusStats:
    requests: int = 0
    timeouts: int = 0
    bad_frames: int = 0
    discarded_bytes: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    busy_s: float = 0.0  # time spent inside exchanges (for bench/)


class _Pipe(abc.ABC):
    """A byte pipe filled by the event loop: a serial port or a TCP connection."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[None] | None = None  # set while a request waits for bytes
        self.broken: str | None = None

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _data(self, data: bytes) -> None:
        self.buffer += data
        self._wake()

    def _lost(self, why: str) -> None:
        self.broken = self.broken or why
        self._wake()

    @abc.abstractmethod
    async def write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def stale(self) -> bool:
        """True when the pipe should be reopened although it did not report an error."""
        return False


class _SerialPipe(_Pipe):
    def __init__(self, path: str, baudrate: int, bytesize: int, parity: str, stopbits: int) -> None:
        super().__init__()
        self.path = path
        self.port = serial.Serial(
            path, baudrate=baudrate, bytesize=bytesize, parity=parity, stopbits=stopbits, timeout=0, exclusive=True
        )
        self.fd = self.port.fileno()
        self.rdev = os.fstat(self.fd).st_rdev
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 4096)
        except OSError as exc:  # EIO when the other end of a pty or a USB adapter goes away
            self.loop.remove_reader(self.fd)
            self._lost(f"{self.path}: {exc.strerror or exc}")
            return
        if not data:
            self.loop.remove_reader(self.fd)
            self._lost(f"{self.path}: end of file")
            return
        self._data(data)

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + 1.0
        while view:
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                written = 0
            except OSError as exc:
                self._lost(f"{self.path}: {exc.strerror or exc}")
                raise LinkError(self.broken) from exc
            view = view[written:]
            if view:
                if time.monotonic() > deadline:
                    raise LinkError(f"{self.path}: output stalled")
                await asyncio.sleep(0.001)

    def stale(self) -> bool:
        # A re-plugged adapter (or a re-created pty) is a new device behind the same path.
        try:
            return os.stat(self.path).st_rdev != self.rdev
        except OSError:
            return True

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.loop.remove_reader(self.fd)
        with contextlib.suppress(Exception):
            self.port.close()


class _TcpPipe(_Pipe, asyncio.Protocol):
    def __init__(self) -> None:
        _Pipe.__init__(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost(f"connection closed{f': {exc}' if exc else ''}")

    async def write(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            raise LinkError(self.broken or "not connected")
        self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Bus(abc.ABC):
    """One queue of requests on one line; opened lazily, reopened with capped back-off."""

    #: RTU frames are delimited by silence, so bytes waiting before a request are stale.
    #: A TCP stream may hold half a late reply: there the transaction id sorts things out.
    framed_by_silence = True

    def __init__(self, name: str, *, timeout: float, retries: int, gap: float, reopen_max: float = 30.0) -> None:
        self.name = name
        self.timeout = timeout
        self.retries = retries
        self.gap = gap
        self.reopen_max = reopen_max
        self.lock = asyncio.Lock()
        self.stats = BusStats()
        self._pipe: _Pipe | None = None
        self._quiet_since = 0.0  # monotonic time the line last fell silent
        self._reopen_delay = 0.0
        self._next_open = 0.0

    @abc.abstractmethod
    async def _open(self) -> _Pipe: ...

    @abc.abstractmethod
    async def _exchange(self, pipe: _Pipe, unit: int, pdu: bytes, timeout: float) -> bytes: ...

    async def _ensure_open(self) -> _Pipe:
        pipe = self._pipe
        if pipe is not None and (pipe.broken or pipe.stale()):
            log.info("bus %s: %s; reopening", self.name, pipe.broken or "device changed behind the path")
            self._drop()
            pipe = None
        if pipe is not None:
            return pipe
        now = time.monotonic()
        if now < self._next_open:
            raise LinkError(f"{self.name} unavailable, next attempt in {self._next_open - now:.1f} s")
        try:
            self._pipe = await self._open()
        except (TimeoutError, OSError, serial.SerialException) as exc:
            self._reopen_delay = min(max(0.5, self._reopen_delay * 2), self.reopen_max)
            self._next_open = time.monotonic() + self._reopen_delay
            raise LinkError(f"cannot open {self.name}: {exc}") from exc
        if self._reopen_delay:
            log.info("bus %s open again", self.name)
        self._reopen_delay = 0.0
        self._quiet_since = time.monotonic()
        return self._pipe

    def _drop(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
        self._pipe = None

    async def request(
        self, unit: int, pdu: bytes, *, timeout: float | None = None, retries: int | None = None
    ) -> bytes:
        """Send ``pdu`` to ``unit`` and return the checked reply PDU.

        Raises ExceptionReply (never retried: the device answered), TimeoutError,
        FrameError or LinkError after the retries are used up.
        """
        wait = self.timeout if timeout is None else timeout
        attempts = 1 + (self.retries if retries is None else retries)
        async with self.lock:
            started = time.perf_counter()
            try:
                last: Exception = TimeoutError("no attempt")
                for _ in range(attempts):
                    pipe = self._pipe
                    if pipe is None or pipe.broken or pipe.stale():
                        pipe = await self._ensure_open()
                    if self.gap:
                        pause = self._quiet_since + self.gap - time.monotonic()
                        if pause > 0:
                            await asyncio.sleep(pause)
                    if pipe.buffer and self.framed_by_silence:  # late replies, noise: never this answer
                        self.stats.discarded_bytes += len(pipe.buffer)
                        pipe.buffer.clear()
                    self.stats.requests += 1
                    try:
                        return await self._exchange(pipe, unit, pdu, wait)
                    except ExceptionReply:
                        raise
                    except TimeoutError as exc:
                        self.stats.timeouts += 1
                        last = exc
                    except FrameError as exc:
                        self.stats.bad_frames += 1
                        if not self.framed_by_silence:  # a TCP stream out of step: start afresh
                            self._drop()
                        last = exc
                    except LinkError as exc:
                        self._drop()
                        last = exc
                    finally:
                        self._quiet_since = time.monotonic()
                raise last
            finally:
                self.stats.busy_s += time.perf_counter() - started

    async def close(self) -> None:
        async with self.lock:
            self._drop()

    @staticmethod
    async def _wait_data(pipe: _Pipe, deadline: float) -> None:
        if pipe.broken:
            raise LinkError(pipe.broken)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no reply")
        # A bare future and a timer: one of these per request, so no task as wait_for would make.
        loop = asyncio.get_running_loop()
        waiter = pipe.waiter = loop.create_future()
        timer = loop.call_later(remaining, _expire, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            pipe.waiter = None
        if pipe.broken:
            raise LinkError(pipe.broken)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("no reply"))


class _RtuBus(Bus):
    """RTU framing: unit + PDU + CRC; a frame ends after 3.5 characters of silence."""

    char_s: float = 0.0

    async def _exchange(self, pipe: _Pipe, unit: int, pdu: bytes, timeout: float) -> bytes:
        frame = rtu_frame(unit, pdu)
        await pipe.write(frame)
        self.stats.bytes_out += len(frame)
        # The request itself takes time on a real line before the timeout starts to matter.
        deadline = time.monotonic() + timeout + len(frame) * self.char_s
        while True:
            try:
                length = rtu_reply_length(bytes(pipe.buffer))
            except FrameError:
                await self._settle(pipe)
                raise
            if length is not None and len(pipe.buffer) >= length:
                reply = bytes(pipe.buffer[:length])
                del pipe.buffer[:length]
                self.stats.bytes_in += length
                return check_rtu_reply(reply, unit, pdu)
            try:
                await self._wait_data(pipe, deadline)
            except TimeoutError:
                if pipe.buffer:
                    got = bytes(pipe.buffer)
                    raise FrameError("short", f"{len(got)} bytes then silence: {got.hex(' ')}") from None
                raise

    async def _settle(self, pipe: _Pipe) -> None:
        """After garbage, wait for the line to fall silent so the next frame starts clean."""
        for _ in range(50):
            size = len(pipe.buffer)
            await asyncio.sleep(max(self.gap, 0.002))
            if len(pipe.buffer) == size:
                break
        pipe.buffer.clear()


class SerialRtuBus(_RtuBus):
    def __init__(
        self,
        path: str,
        *,
        baudrate: int,
        bytesize: int,
        parity: str,
        stopbits: int,
        timeout: float,
        retries: int,
        gap: float | None = None,
    ) -> None:
        line = (baudrate, bytesize, parity, stopbits)
        super().__init__(path, timeout=timeout, retries=retries, gap=frame_gap(*line) if gap is None else gap)
        self.path = path
        self.line = line
        self.char_s = char_time(*line)

    async def _open(self) -> _Pipe:
        baudrate, bytesize, parity, stopbits = self.line
        return _SerialPipe(self.path, baudrate, bytesize, parity, stopbits)


async def _connect(host: str, port: int, timeout: float) -> _TcpPipe:
    loop = asyncio.get_running_loop()
    _, pipe = await asyncio.wait_for(loop.create_connection(_TcpPipe, host, port), timeout)
    return pipe


class RtuOverTcpBus(_RtuBus):
    """A serial-to-Ethernet converter in transparent mode: RTU frames inside a TCP stream."""

    def __init__(self, host: str, port: int, *, timeout: float, retries: int, gap: float) -> None:
        super().__init__(f"rtu+tcp://{host}:{port}", timeout=timeout, retries=retries, gap=gap)
        self.host, self.port = host, port

    async def _open(self) -> _Pipe:
        return await _connect(self.host, self.port, self.timeout)


class TcpBus(Bus):
    """Modbus TCP: MBAP header with a transaction id; replies to other ids are dropped."""

    framed_by_silence = False

    def __init__(self, host: str, port: int, *, timeout: float, retries: int, gap: float = 0.0) -> None:
        super().__init__(f"tcp://{host}:{port}", timeout=timeout, retries=retries, gap=gap)
        self.host, self.port = host, port
        self._transaction = 0

    async def _open(self) -> _Pipe:
        return await _connect(self.host, self.port, self.timeout)

    async def _exchange(self, pipe: _Pipe, unit: int, pdu: bytes, timeout: float) -> bytes:
        self._transaction = (self._transaction + 1) & 0xFFFF
        frame = mbap_frame(self._transaction, unit, pdu)
        await pipe.write(frame)
        self.stats.bytes_out += len(frame)
        deadline = time.monotonic() + timeout
        buffer = pipe.buffer
        while True:
            if len(buffer) >= 7:
                transaction, length, replier = mbap_fields(buffer)
                total = 6 + length
                if len(buffer) >= total:
                    reply = bytes(buffer[7:total])
                    del buffer[:total]
                    self.stats.bytes_in += total
                    if transaction != self._transaction:
                        self.stats.discarded_bytes += total  # a late reply to an earlier request
                        continue
                    if replier != unit:
                        raise FrameError("mismatch", f"reply from unit {replier}, asked unit {unit}")
                    if not reply:
                        raise FrameError("short", "empty PDU")
                    return check_reply_pdu(reply, pdu)
            await self._wait_data(pipe, deadline)

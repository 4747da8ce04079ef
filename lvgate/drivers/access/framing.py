"""Cut a serial byte stream into frames, rejecting garbage and resynchronising.

Pure and clock-free: the caller passes the time with each call, so the splitter is
tested with any split of the stream into reads and any timing. A frame is the bytes
between an optional start byte and an end marker. What cannot be a frame is rejected
with a reason and counted; the splitter then waits for the next frame boundary:
- with a start byte: bytes outside a frame are noise; a new start inside a frame
  abandons the partial one;
- without one (text lines): an over-long line is dropped up to its end marker.
A partial frame that stops growing for ``timeout_ms`` is dropped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str  # a short word, counted per reason
    detail: str
    data: bytes


@dataclass
class Splitter:
    end: bytes
    start: bytes = b""
    skip: bytes = b""  # single bytes dropped where a frame would begin (the LF of CR LF)
    max_length: int = 64
    timeout_ms: int = 500
    rejected: Counter[str] = field(default_factory=Counter)
    _buffer: bytearray = field(default_factory=bytearray)
    _inside: bool = False  # a start byte was seen (start mode only)
    _discarding: bool = False  # dropping an over-long line up to its end (line mode)
    _noise: bytearray = field(default_factory=bytearray)
    _last_ms: int = 0

    def __post_init__(self) -> None:
        if not self.end:
            raise ValueError("a frame needs an end marker")

    def feed(self, data: bytes, now_ms: int) -> list[bytes | Rejected]:
        """Frames (without start and end markers) and rejections found in ``data``, in order."""
        out: list[bytes | Rejected] = self.expire(now_ms)
        if data:
            self._last_ms = now_ms
        for byte in data:
            self._take(byte, out)
        self._flush_noise(out)
        return out

    def expire(self, now_ms: int) -> list[bytes | Rejected]:
        """Drop a partial frame that has not grown for ``timeout_ms``."""
        out: list[bytes | Rejected] = []
        if (self._buffer or self._inside) and now_ms - self._last_ms >= self.timeout_ms:
            self._reject(out, "partial", "frame not finished in time", bytes(self._buffer))
            self._reset()
        return out

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def _reset(self) -> None:
        self._buffer.clear()
        self._inside = False
        self._discarding = False

    def _reject(self, out: list[bytes | Rejected], reason: str, detail: str, data: bytes) -> None:
        self.rejected[reason] += 1
        out.append(Rejected(reason, detail, data))

    def _flush_noise(self, out: list[bytes | Rejected]) -> None:
        if self._noise:
            self._reject(out, "noise", f"{len(self._noise)} bytes outside a frame", bytes(self._noise))
            self._noise.clear()

    def _take(self, byte: int, out: list[bytes | Rejected]) -> None:
        if self.start:
            self._take_started(byte, out)
        else:
            self._take_line(byte, out)

    def _ends(self) -> bool:
        return self._buffer.endswith(self.end)

    def _take_started(self, byte: int, out: list[bytes | Rejected]) -> None:
        if byte == self.start[0]:
            self._flush_noise(out)
            if self._inside:
                self._reject(out, "partial", "a new frame began before this one ended", bytes(self._buffer))
            self._buffer.clear()
            self._inside = True
            return
        if not self._inside:
            self._noise.append(byte)
            return
        self._buffer.append(byte)
        if self._ends():
            out.append(bytes(self._buffer[: -len(self.end)]))
            self._reset()
        elif len(self._buffer) > self.max_length:
            self._reject(out, "too_long", f"more than {self.max_length} bytes without an end", bytes(self._buffer))
            self._reset()

    def _take_line(self, byte: int, out: list[bytes | Rejected]) -> None:
        if not self._buffer and not self._discarding and byte in self.skip:
            return
        self._buffer.append(byte)
        if self._ends():
            if self._discarding:
                self._discarding = False
            else:
                out.append(bytes(self._buffer[: -len(self.end)]))
            self._buffer.clear()
        elif len(self._buffer) > self.max_length + len(self.end):
            if not self._discarding:
                self._reject(out, "too_long", f"more than {self.max_length} bytes without an end", bytes(self._buffer))
                self._discarding = True
            # keep only what could still be the start of the end marker
            del self._buffer[: len(self._buffer) - len(self.end) + 1]

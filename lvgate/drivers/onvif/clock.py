"""The camera's clock, read with GetSystemDateAndTime before authenticating.

The offset (camera UTC minus our UTC) dates every WS-UsernameToken, so a camera whose clock
is wrong still accepts us. The drift published to the inspection corrects for cameras that
report their local wall time in the UTC field (installers set the clock by hand in local
time): then the TimeZone's standard offset is taken off, when the config says so or when
UTCDateTime equals LocalDateTime under a zone that is not UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from lvgate.drivers.onvif.safexml import NS, text

# POSIX TZ: name, then the offset WEST of Greenwich ("CST-8" is UTC+8), e.g. "EST+5:00:00EDT...".
_POSIX_TZ = re.compile(r"^(?:<[^>]+>|[A-Za-z]+)([+-]?)(\d{1,2})(?::(\d{1,2}))?(?::(\d{1,2}))?")


def posix_tz_offset(tz: str) -> float | None:
    """Standard-time offset EAST of UTC in seconds, from a POSIX TZ string; None if unparsable."""
    match = _POSIX_TZ.match(tz.strip())
    if match is None:
        return None
    sign, hours, minutes, seconds = match.groups()
    west = int(hours) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)
    return float(west if sign == "-" else -west)


def _datetime(el: Element | None) -> datetime | None:
    if el is None:
        return None
    try:
        parts = [text(el, f"tt:Date/tt:{n}") for n in ("Year", "Month", "Day")]
        parts += [text(el, f"tt:Time/tt:{n}") for n in ("Hour", "Minute", "Second")]
        if any(p is None for p in parts):
            return None
        y, mo, d, h, mi, s = (int(p) for p in parts if p is not None)
        return datetime(y, mo, d, h, mi, min(s, 59), tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class CameraClock:
    utc: datetime | None
    local: datetime | None
    tz: str | None
    ntp: bool

    @property
    def local_as_utc(self) -> bool:
        """UTC field equal to local time under a zone with a non-zero offset."""
        offset = posix_tz_offset(self.tz) if self.tz else None
        return bool(self.utc and self.local and self.utc == self.local and offset)

    def offset(self, our_now: float) -> float:
        """Camera clock minus ours, in seconds, as the camera will check token timestamps."""
        reported = self.utc or self.local
        return 0.0 if reported is None else reported.timestamp() - our_now

    def drift(self, our_now: float, reports_local: bool | None = None) -> float | None:
        """How far the camera's real UTC is from ours (seconds); ``reports_local`` forces the
        local-time-as-UTC correction on (True) or off (False); None means detect it."""
        if self.utc is None and self.local is None:
            return None
        raw = self.offset(our_now)
        local = self.local_as_utc if reports_local is None else reports_local
        if self.utc is None and self.local is not None:
            local = True  # only local time given: convert it with the zone
        if local and self.tz:
            tz_offset = posix_tz_offset(self.tz)
            if tz_offset is not None:
                return raw - tz_offset
        return raw


def parse_clock(response: Element) -> CameraClock:
    sdt = response.find("tds:SystemDateAndTime", NS)
    if sdt is None:
        sdt = response
    return CameraClock(
        utc=_datetime(sdt.find("tt:UTCDateTime", NS)),
        local=_datetime(sdt.find("tt:LocalDateTime", NS)),
        tz=text(sdt, "tt:TimeZone/tt:TZ"),
        ntp=(text(sdt, "tt:DateTimeType") or "").upper() == "NTP",
    )

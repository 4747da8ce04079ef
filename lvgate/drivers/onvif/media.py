"""What a camera is and what it streams: parsers for the device and media replies."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit
from xml.etree.ElementTree import Element

from lvgate.drivers.onvif.safexml import NS, text

SERVICE_NS = {
    "device": "http://www.onvif.org/ver10/device/wsdl",
    "media": "http://www.onvif.org/ver10/media/wsdl",
    "media2": "http://www.onvif.org/ver20/media/wsdl",
    "events": "http://www.onvif.org/ver10/events/wsdl",
    "imaging": "http://www.onvif.org/ver20/imaging/wsdl",
    "ptz": "http://www.onvif.org/ver20/ptz/wsdl",
}
_CAPABILITY = {"device": "Device", "media": "Media", "events": "Events", "imaging": "Imaging", "ptz": "PTZ"}


@dataclass(frozen=True, slots=True)
class Identity:
    manufacturer: str | None
    model: str | None
    firmware: str | None
    serial: str | None
    hardware_id: str | None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "manufacturer": self.manufacturer,
            "model": self.model,
            "firmware": self.firmware,
            "serial": self.serial,
            "hardware_id": self.hardware_id,
        }


@dataclass(frozen=True, slots=True)
class MediaProfile:
    token: str
    name: str | None
    encoding: str | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    stream_uri: str | None = None
    snapshot_uri: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "token": self.token,
            "name": self.name,
            "encoding": self.encoding,
            "resolution": f"{self.width}x{self.height}" if self.width and self.height else None,
            "frame_rate": self.frame_rate,
            "stream_uri": self.stream_uri,
            "snapshot_uri": self.snapshot_uri,
        }


def _empty_to_none(value: str | None) -> str | None:
    return value or None


def parse_identity(response: Element) -> Identity:
    return Identity(
        manufacturer=_empty_to_none(text(response, "tds:Manufacturer")),
        model=_empty_to_none(text(response, "tds:Model")),
        firmware=_empty_to_none(text(response, "tds:FirmwareVersion")),
        serial=_empty_to_none(text(response, "tds:SerialNumber")),
        hardware_id=_empty_to_none(text(response, "tds:HardwareId")),
    )


def parse_services(response: Element) -> dict[str, str]:
    """Service name -> XAddr from GetServices (names as in SERVICE_NS)."""
    by_ns = {uri: name for name, uri in SERVICE_NS.items()}
    found: dict[str, str] = {}
    for service in response.findall("tds:Service", NS):
        name = by_ns.get(text(service, "tds:Namespace") or "")
        xaddr = text(service, "tds:XAddr")
        if name and xaddr:
            found.setdefault(name, xaddr)
    return found


def parse_capabilities(response: Element) -> dict[str, str]:
    """Service name -> XAddr from GetCapabilities (ONVIF 1.x cameras without GetServices)."""
    found: dict[str, str] = {}
    caps = response.find("tds:Capabilities", NS)
    if caps is None:
        return found
    for name, element in _CAPABILITY.items():
        xaddr = text(caps, f"tt:{element}/tt:XAddr")
        if xaddr:
            found[name] = xaddr
    return found


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _parse_profiles(response: Element, profile: str, name: str, encoder: str) -> list[MediaProfile]:
    """Profiles of a GetProfiles reply; media1 and media2 differ only in where things are."""
    profiles = []
    for p in response.findall(profile, NS):
        enc = p.find(encoder, NS)
        profiles.append(
            MediaProfile(
                token=p.get("token", ""),
                name=text(p, name),
                encoding=text(enc, "tt:Encoding"),
                width=_int(text(enc, "tt:Resolution/tt:Width")),
                height=_int(text(enc, "tt:Resolution/tt:Height")),
                frame_rate=_float(text(enc, "tt:RateControl/tt:FrameRateLimit")),
            )
        )
    return profiles


def parse_profiles_media1(response: Element) -> list[MediaProfile]:
    return _parse_profiles(response, "trt:Profiles", "tt:Name", "tt:VideoEncoderConfiguration")


def parse_profiles_media2(response: Element) -> list[MediaProfile]:
    return _parse_profiles(response, "tr2:Profiles", "tr2:Name", "tr2:Configurations/tr2:VideoEncoder")


def merge_encoder(profiles: list[MediaProfile], details: list[MediaProfile]) -> list[MediaProfile]:
    """Fill encoder fields missing in media2 profiles from media1 profiles of the same token."""
    by_token = {d.token: d for d in details}
    merged = []
    for p in profiles:
        d = by_token.get(p.token)
        if d is not None and p.encoding is None:
            p = replace(p, encoding=d.encoding, width=d.width, height=d.height, frame_rate=d.frame_rate)
        merged.append(p)
    return merged


def parse_uri(response: Element) -> str | None:
    """GetStreamUri/GetSnapshotUri: media1 nests the URI in MediaUri, media2 answers it directly."""
    for path in ("trt:MediaUri/tt:Uri", "tr2:Uri"):
        uri = text(response, path)
        if uri:
            return uri
    return None


def rebase(url: str, base: str) -> str:
    """``url``'s path and query on ``base``'s scheme, host and port.

    Cameras advertise the addresses they believe they have (a private address behind NAT,
    a stale DHCP lease); the gateway only ever talks to the address it was configured with.
    """
    u, b = urlsplit(url), urlsplit(base)
    return urlunsplit((b.scheme, b.netloc, u.path or "/", u.query, ""))

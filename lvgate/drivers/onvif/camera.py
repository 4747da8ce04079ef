"""One camera's health model: how far it gets (unreachable -> reachable -> authenticated ->
streaming), why it stops there, what it is, its clock, and what it streams."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from enum import IntEnum
from xml.sax.saxutils import escape

from lvgate.drivers.onvif.clock import CameraClock, parse_clock
from lvgate.drivers.onvif.media import (
    Identity,
    MediaProfile,
    merge_encoder,
    parse_capabilities,
    parse_identity,
    parse_profiles_media1,
    parse_profiles_media2,
    parse_services,
    parse_uri,
    rebase,
)
from lvgate.drivers.onvif.network import NetworkInterface, parse_network_interfaces
from lvgate.drivers.onvif.soap import OnvifError, Reply, SoapClient

log = logging.getLogger(__name__)


class Level(IntEnum):
    UNREACHABLE = 0
    REACHABLE = 1
    AUTHENTICATED = 2
    STREAMING = 3

    @property
    def word(self) -> str:
        return self.name.lower()


_REASON = {
    "timeout": "timeout",
    "refused": "connection refused",
    "fault": "SOAP fault",
    "auth": "authentication failed",
    "not_found": "service not found",
    "bad_reply": "bad reply",
}


@dataclass
class CameraState:
    level: Level = Level.UNREACHABLE
    reason: str = "not checked"
    detail: str = ""
    clock: CameraClock | None = None
    clock_offset: float = 0.0
    drift: float | None = None
    identity: Identity | None = None
    interfaces: list[NetworkInterface] | None = None  # None: not allowed or not answered
    services: dict[str, str] = field(default_factory=dict)
    media: str | None = None  # "media2" or "media"
    profiles: list[MediaProfile] = field(default_factory=list)
    unsupported: dict[str, str] = field(default_factory=dict)

    def stop(self, level: Level, error: OnvifError) -> CameraState:
        self.level = level
        self.reason = _REASON[error.kind]
        self.detail = str(error)
        return self


def _stream_body(media: str, token: str) -> tuple[str, str]:
    t = escape(token)
    if media == "media2":
        return (
            "GetStreamUri",
            f"<tr2:GetStreamUri><tr2:Protocol>RTSP</tr2:Protocol><tr2:ProfileToken>{t}</tr2:ProfileToken></tr2:GetStreamUri>",
        )
    return "GetStreamUri", (
        "<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport>"
        f"<tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup><trt:ProfileToken>{t}</trt:ProfileToken>"
        "</trt:GetStreamUri>"
    )


def _snapshot_body(media: str, token: str) -> tuple[str, str]:
    prefix = "tr2" if media == "media2" else "trt"
    return (
        "GetSnapshotUri",
        f"<{prefix}:GetSnapshotUri><{prefix}:ProfileToken>{escape(token)}</{prefix}:ProfileToken></{prefix}:GetSnapshotUri>",
    )


class OnvifCamera:
    """Talks to one camera through ``soap``; every address it advertises is rebased on ``device_url``."""

    def __init__(self, soap: SoapClient, device_url: str, *, reports_local: bool | None = None) -> None:
        self.soap = soap
        self.device_url = device_url
        self.reports_local = reports_local
        self.state = CameraState()

    @property
    def device(self) -> str:
        return self.soap.device

    async def read_clock(self, state: CameraState) -> OnvifError | None:
        """GetSystemDateAndTime, unauthenticated; sets the offset used to date tokens."""
        try:
            reply = await self.soap.call(
                self.device_url, "GetSystemDateAndTime", "<tds:GetSystemDateAndTime/>", auth=False
            )
        except OnvifError as exc:
            return exc
        now = time.time()
        state.clock = parse_clock(reply.el)
        state.clock_offset = state.clock.offset(now)
        state.drift = state.clock.drift(now, self.reports_local)
        self.soap.clock_offset = state.clock_offset
        return None

    async def check(self) -> CameraState:
        state = CameraState()
        self.state = state
        error = await self.read_clock(state)
        if error is not None:
            if error.kind in ("timeout", "refused"):
                return state.stop(Level.UNREACHABLE, error)
            if error.kind == "bad_reply":
                return state.stop(Level.REACHABLE, error)
            # Some cameras want credentials even for the time: go on with offset 0.
            log.info("%s", error)
        state.level, state.reason = Level.REACHABLE, "answers"
        try:
            reply = await self.soap.call(self.device_url, "GetDeviceInformation", "<tds:GetDeviceInformation/>")
        except OnvifError as exc:
            return state.stop(Level.UNREACHABLE if exc.kind in ("timeout", "refused") else Level.REACHABLE, exc)
        state.identity = parse_identity(reply.el)
        state.level, state.reason = Level.AUTHENTICATED, "credentials accepted"
        try:
            await self._network(state)
            await self._discover(state)
            await self._media(state)
        except OnvifError as exc:
            if exc.kind in ("timeout", "refused", "bad_reply"):
                return state.stop(Level.UNREACHABLE if exc.kind != "bad_reply" else Level.AUTHENTICATED, exc)
            raise
        if any(p.stream_uri for p in state.profiles):
            state.level, state.reason = Level.STREAMING, "stream URI available"
        elif not state.reason.startswith("no "):
            state.reason = "no stream URI"
        return state

    async def _optional(self, state: CameraState, feature: str, url: str, operation: str, body: str) -> Reply | None:
        """Call an advertised service; a fault or 404 marks ``feature`` unsupported (returns None)."""
        try:
            return await self.soap.call(url, operation, body)
        except OnvifError as exc:
            if exc.kind in ("fault", "not_found", "auth"):
                state.unsupported[feature] = exc.detail
                return None
            raise

    async def _network(self, state: CameraState) -> None:
        """MAC/IP for the identity when the camera lets this user read them; a refusal or a
        reply that cannot be read leaves them out and the camera where it is."""
        try:
            reply = await self._optional(
                state, "GetNetworkInterfaces", self.device_url, "GetNetworkInterfaces", "<tds:GetNetworkInterfaces/>"
            )
        except OnvifError as exc:
            if exc.kind != "bad_reply":
                raise
            log.warning("%s", exc)
            state.unsupported["GetNetworkInterfaces"] = exc.detail
            return
        if reply is not None:
            state.interfaces = parse_network_interfaces(reply.el)

    async def _discover(self, state: CameraState) -> None:
        reply = await self._optional(
            state,
            "GetServices",
            self.device_url,
            "GetServices",
            "<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>",
        )
        services = parse_services(reply.el) if isinstance(reply, Reply) else {}
        if not services:
            reply = await self._optional(
                state,
                "GetCapabilities",
                self.device_url,
                "GetCapabilities",
                "<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>",
            )
            services = parse_capabilities(reply.el) if isinstance(reply, Reply) else {}
        state.services = {name: rebase(url, self.device_url) for name, url in services.items()}

    async def _media(self, state: CameraState) -> None:
        media1: list[MediaProfile] | None = None
        if "media" in state.services:
            reply = await self._optional(state, "media", state.services["media"], "GetProfiles", "<trt:GetProfiles/>")
            if isinstance(reply, Reply):
                media1 = parse_profiles_media1(reply.el)
        if "media2" in state.services:
            reply = await self._optional(state, "media2", state.services["media2"], "GetProfiles", "<tr2:GetProfiles/>")
            if isinstance(reply, Reply):
                state.media = "media2"
                state.profiles = merge_encoder(parse_profiles_media2(reply.el), media1 or [])
        if state.media is None and media1 is not None:
            state.media, state.profiles = "media", media1
        if state.media is None:
            state.reason = "no media service"
            return
        state.profiles = [await self._uris(state, p) for p in state.profiles]

    async def _uris(self, state: CameraState, profile: MediaProfile) -> MediaProfile:
        found: dict[str, str | None] = {"stream_uri": None, "snapshot_uri": None}
        order = [state.media] + (["media"] if state.media == "media2" and "media" in state.services else [])
        for feature, make in (("stream_uri", _stream_body), ("snapshot_uri", _snapshot_body)):
            for media in order:
                assert media is not None
                key = f"{media}.{feature}"
                if key in state.unsupported:
                    continue
                operation, body = make(media, profile.token)
                reply = await self._optional(state, key, state.services[media], operation, body)
                if isinstance(reply, Reply):
                    found[feature] = parse_uri(reply.el)
                    break
        return replace(profile, stream_uri=found["stream_uri"], snapshot_uri=found["snapshot_uri"])

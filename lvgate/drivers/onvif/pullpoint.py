"""A PullPoint event subscription: create, pull, renew before expiry, and start over when the
camera forgot it (expiry, reboot). Durations are sent as xs:duration in whole seconds."""

from __future__ import annotations

import contextlib
import time

from lvgate.drivers.onvif.events import EventMap, NormalisedEvent, normalise, parse_notifications, parse_time
from lvgate.drivers.onvif.media import rebase
from lvgate.drivers.onvif.safexml import NS, text
from lvgate.drivers.onvif.soap import OnvifError, Reply, SoapClient


def seconds(value: float) -> str:
    return f"PT{max(1, round(value))}S"


class PullPoint:
    def __init__(self, soap: SoapClient, events_url: str, device_url: str, lifetime: float, event_map: EventMap):
        self.soap = soap
        self.events_url = events_url
        self.device_url = device_url
        self.lifetime = lifetime
        self.event_map = event_map
        self.address: str | None = None
        self.expires_at = 0.0  # on our clock

    def _expiry(self, reply: Reply, current_path: str, termination_path: str) -> None:
        current = parse_time(text(reply.el, current_path))
        termination = parse_time(text(reply.el, termination_path))
        if termination is None:
            self.expires_at = time.time() + self.lifetime
            return
        # Termination is on the camera's clock: measure it from the camera's CurrentTime.
        camera_now = current if current is not None else time.time() + self.soap.clock_offset
        self.expires_at = time.time() + (termination - camera_now)

    @property
    def active(self) -> bool:
        return self.address is not None and time.time() < self.expires_at

    def due_for_renewal(self) -> bool:
        margin = max(1.0, min(10.0, self.lifetime * 0.25))
        return self.address is not None and self.expires_at - time.time() < margin

    async def subscribe(self) -> None:
        body = (
            "<tev:CreatePullPointSubscription><tev:InitialTerminationTime>"
            f"{seconds(self.lifetime)}</tev:InitialTerminationTime></tev:CreatePullPointSubscription>"
        )
        reply = await self.soap.call(self.events_url, "CreatePullPointSubscription", body)
        address = text(reply.el, "tev:SubscriptionReference/wsa:Address")
        if not address:
            raise OnvifError(self.soap.device, "CreatePullPointSubscription", "bad_reply", "no subscription address")
        self.address = rebase(address, self.device_url)
        self._expiry(reply, "wsnt:CurrentTime", "wsnt:TerminationTime")

    async def renew(self) -> None:
        assert self.address is not None
        body = f"<wsnt:Renew><wsnt:TerminationTime>{seconds(self.lifetime)}</wsnt:TerminationTime></wsnt:Renew>"
        reply = await self.soap.call(self.address, "Renew", body)
        self._expiry(reply, "wsnt:CurrentTime", "wsnt:TerminationTime")

    async def pull(self, wait: float, limit: int = 100) -> list[NormalisedEvent]:
        assert self.address is not None
        body = (
            f"<tev:PullMessages><tev:Timeout>{seconds(wait)}</tev:Timeout>"
            f"<tev:MessageLimit>{limit}</tev:MessageLimit></tev:PullMessages>"
        )
        reply = await self.soap.call(self.address, "PullMessages", body, extra_timeout=wait)
        if reply.el.find("tev:TerminationTime", NS) is not None:
            self._expiry(reply, "tev:CurrentTime", "tev:TerminationTime")
        notes = parse_notifications(reply.el, reply.prefixes, self.event_map)
        return [normalise(n, self.event_map) for n in notes]

    async def unsubscribe(self) -> None:
        if self.address is None:
            return
        with contextlib.suppress(OnvifError):  # the camera drops it at expiry anyway
            await self.soap.call(self.address, "Unsubscribe", "<wsnt:Unsubscribe/>")
        self.address = None

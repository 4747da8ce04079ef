"""A small SOAP 1.2 client for ONVIF: WS-UsernameToken digest, bounded replies, clear errors.

Only the handful of ONVIF operations lvgate needs are sent, as literal XML bodies built by
the caller; replies are parsed by :mod:`safexml`. Failures are sorted by how far the camera
got, so the status model can say why: ``unreachable`` (timeout, refused), ``fault`` (a SOAP
fault, an HTTP 404/405), ``auth`` (credentials refused) or ``bad_reply`` (not XML, too big).
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import httpx

from lvgate.drivers.onvif.safexml import MAX_REPLY_BYTES, NS, ParsedXml, XmlReplyError, parse, text

FailureKind = Literal["timeout", "refused", "fault", "auth", "not_found", "bad_reply"]

_AUTH_SUBCODES = {"NotAuthorized", "FailedAuthentication", "InvalidSecurity", "InvalidSecurityToken"}


class OnvifError(Exception):
    """One failed operation: ``kind`` says how far it got, the message names camera and operation."""

    def __init__(self, device: str, operation: str, kind: FailureKind, detail: str) -> None:
        self.device = device
        self.operation = operation
        self.kind = kind
        self.detail = detail
        super().__init__(f"camera '{device}', {operation}: {kind}: {detail}")


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """WS-Security UsernameToken profile: Base64(SHA-1(nonce + created + password))."""
    return base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()


def iso_utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def security_header(username: str, password: str, camera_now: float) -> str:
    nonce = os.urandom(16)
    created = iso_utc(camera_now)
    return (
        f'<wsse:Security xmlns:wsse="{NS["wsse"]}" xmlns:wsu="{NS["wsu"]}" s:mustUnderstand="1">'
        f"<wsse:UsernameToken><wsse:Username>{escape(username)}</wsse:Username>"
        '<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/'
        f'oasis-200401-wss-username-token-profile-1.0#PasswordDigest">{password_digest(nonce, created, password)}'
        "</wsse:Password>"
        '<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/'
        f'oasis-200401-wss-soap-message-security-1.0#Base64Binary">{base64.b64encode(nonce).decode()}</wsse:Nonce>'
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )


def envelope(body: str, header: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{NS["s"]}" '
        f'xmlns:tds="{NS["tds"]}" xmlns:trt="{NS["trt"]}" xmlns:tr2="{NS["tr2"]}" xmlns:tev="{NS["tev"]}" '
        f'xmlns:tt="{NS["tt"]}" xmlns:wsnt="{NS["wsnt"]}" xmlns:wsa="{NS["wsa"]}">'
        f"<s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def fault_of(doc: ParsedXml) -> tuple[str, str] | None:
    """(subcode, reason) of a SOAP fault reply, None when the body is not a fault."""
    fault = doc.root.find("s:Body/s:Fault", NS)
    if fault is None:
        return None
    codes = [c.text.strip() for c in fault.iter(f"{{{NS['s']}}}Value") if c.text]
    subcode = codes[-1].rsplit(":", 1)[-1] if codes else "unknown"
    reason = text(fault, "s:Reason/s:Text") or ""
    return subcode, reason


@dataclass(frozen=True, slots=True)
class Reply:
    """The first element of a reply's SOAP Body and the prefixes its document declared."""

    el: Element
    prefixes: dict[str, str]


class SoapClient:
    """Posts operations to one camera. ``clock_offset`` (camera minus us, seconds) dates tokens."""

    def __init__(
        self,
        device: str,
        http: httpx.AsyncClient,
        username: str | None,
        password: str | None,
        *,
        max_reply: int = MAX_REPLY_BYTES,
        timeout: float = 5.0,
    ) -> None:
        self.timeout = timeout
        self.device = device
        self.http = http
        self.username = username
        self.password = password
        self.max_reply = max_reply
        self.clock_offset = 0.0

    async def call(
        self, url: str, operation: str, body: str, *, auth: bool = True, extra_timeout: float = 0.0
    ) -> Reply:
        """Send ``body`` and return the first element of the reply's SOAP Body."""
        header = ""
        if auth and self.username is not None:
            header = security_header(self.username, self.password or "", time.time() + self.clock_offset)
        payload = envelope(body, header)
        try:
            async with self.http.stream(
                "POST",
                url,
                content=payload,
                headers={"Content-Type": "application/soap+xml; charset=utf-8"},
                timeout=self.timeout + extra_timeout,
            ) as response:
                data = await self._read_bounded(response, operation)
                status = response.status_code
        except httpx.TimeoutException as exc:
            raise OnvifError(self.device, operation, "timeout", f"no answer from {url}") from exc
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise OnvifError(self.device, operation, "refused", f"{url}: {exc or type(exc).__name__}") from exc
        if status == 401:
            raise OnvifError(self.device, operation, "auth", "HTTP 401, credentials refused")
        if status in (404, 405, 501) and not data.strip().startswith(b"<"):
            raise OnvifError(self.device, operation, "not_found", f"HTTP {status} at {url}")
        try:
            doc = parse(data, device=self.device, operation=operation, limit=self.max_reply)
        except XmlReplyError as exc:
            raise OnvifError(self.device, operation, "bad_reply", f"{exc.problem} (HTTP {status})") from exc
        fault = fault_of(doc)
        if fault is not None:
            subcode, reason = fault
            kind: FailureKind = "auth" if subcode in _AUTH_SUBCODES else "fault"
            raise OnvifError(self.device, operation, kind, f"SOAP fault {subcode}: {reason}".rstrip(": "))
        if status >= 400:
            raise OnvifError(self.device, operation, "not_found" if status == 404 else "fault", f"HTTP {status}")
        body_el = doc.root.find("s:Body", NS)
        if body_el is None or len(body_el) == 0:
            raise OnvifError(self.device, operation, "bad_reply", "no SOAP Body in reply")
        return Reply(body_el[0], doc.prefixes)

    async def _read_bounded(self, response: httpx.Response, operation: str) -> bytes:
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_reply:
            raise OnvifError(
                self.device,
                operation,
                "bad_reply",
                f"reply of {declared} bytes exceeds the {self.max_reply}-byte bound",
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_reply:
                raise OnvifError(self.device, operation, "bad_reply", f"reply exceeds the {self.max_reply}-byte bound")
            chunks.append(chunk)
        return b"".join(chunks)

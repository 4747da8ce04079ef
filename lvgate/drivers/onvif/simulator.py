"""A recorded camera on loopback: serves a directory of real ONVIF replies, one file per
operation (``GetProfiles.xml``, ``media2.GetProfiles.xml``), as a camera would.

It behaves like a strict camera: every request except GetSystemDateAndTime must carry a
WS-UsernameToken whose digest matches and whose Created time is within ``max_skew`` of the
camera's own clock (ours plus ``clock_offset``); snapshots want HTTP digest. The clock and
the event subscription times of the recorded replies are rewritten to the camera's clock.
Used by ``lvgate simulate onvif`` and by the tests (tests/onvif_responder.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lvgate.drivers.onvif.safexml import NS, XmlReplyError, local_name, parse, text

_MEDIA2 = "http://www.onvif.org/ver20/media/wsdl"
_MAX_REQUEST = 256 * 1024
_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")

_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" '
    'xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" '
    'xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:ter="http://www.onvif.org/ver10/error" '
    'xmlns:wsrf-rw="http://docs.oasis-open.org/wsrf/rw-2"><env:Body>{body}</env:Body></env:Envelope>'
)

# Payloads a hostile or broken camera might send, for `override`.
XXE_REPLY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><r>&x;</r></env:Body></env:Envelope>'
)
BOMB_REPLY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><r>&d;</r></env:Body></env:Envelope>'
)


def xs_duration(value: str | None, default: float) -> float:
    match = _DURATION.match((value or "").strip())
    if not match or not any(match.groups()):
        return default
    h, m, s = match.groups()
    return int(h or 0) * 3600 + int(m or 0) * 60 + float(s or 0)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fault(subcode: str, reason: str, code: str = "env:Sender") -> bytes:
    body = (
        f"<env:Fault><env:Code><env:Value>{code}</env:Value><env:Subcode><env:Value>{subcode}</env:Value>"
        f'</env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason></env:Fault>'
    )
    return _ENVELOPE.format(body=body).encode()


@dataclass
class RecordedCamera:
    recording: Path
    username: str = "admin"
    password: str = "secret"
    clock_offset: float = 0.0
    max_skew: float = 300.0
    pull_wait: float = 0.2
    max_lifetime: float | None = None
    local_as_utc: bool = False
    snapshot: bytes | None = None
    #: operation -> misbehaviour: fault | denied | 404 | garbage | truncated | xxe | bomb | huge
    override: dict[str, str] = field(default_factory=dict)
    #: operation -> reply served as if it were in the recording (replies no recording has)
    extra: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    subscriptions_created: int = 0
    renewals: int = 0
    base_url: str = ""
    _subs: dict[str, float] = field(default_factory=dict)
    _pulled: set[str] = field(default_factory=set)
    _nonces: set[str] = field(default_factory=set)
    _digest_nonce: str = field(default_factory=lambda: base64.b16encode(os.urandom(8)).decode())
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.files = {p.stem: p.read_bytes() for p in sorted(self.recording.glob("*.xml"))} | self.extra
        recorded = self.files.get("GetSystemDateAndTime", b"").decode()
        utc, local = _read_block(recorded, "UTCDateTime"), _read_block(recorded, "LocalDateTime")
        self.local_shift = local - utc if utc is not None and local is not None else 0.0

    def now(self) -> float:
        """The camera's clock, as it reports it and checks tokens against."""
        shift = self.local_shift if self.local_as_utc else 0.0
        return time.time() + self.clock_offset + shift

    # ---- WS-Security ---------------------------------------------------------------------
    def check_token(self, header: object) -> str | None:
        """None when the UsernameToken is valid; else why it is not."""
        from xml.etree.ElementTree import Element

        assert header is None or isinstance(header, Element)
        token = header.find("wsse:Security/wsse:UsernameToken", NS) if header is not None else None
        if token is None:
            return "no UsernameToken"
        user, digest = text(token, "wsse:Username"), text(token, "wsse:Password")
        nonce_b64, created = text(token, "wsse:Nonce"), text(token, "wsu:Created")
        if not (user and digest and nonce_b64 and created):
            return "incomplete UsernameToken"
        try:
            nonce = base64.b64decode(nonce_b64, validate=True)
            created_ts = datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return "garbled nonce or Created"
        expected = base64.b64encode(hashlib.sha1(nonce + created.encode() + self.password.encode()).digest())
        if user != self.username or expected.decode() != digest:
            return "wrong username or password"
        if abs(created_ts - self.now()) > self.max_skew:
            return f"Created {created} is {created_ts - self.now():+.0f} s off the camera clock"
        if nonce_b64 in self._nonces:
            return "nonce replayed"
        self._nonces.add(nonce_b64)
        return None

    # ---- SOAP ----------------------------------------------------------------------------
    def handle_soap(self, path: str, request: bytes) -> tuple[int, bytes]:
        try:
            doc = parse(request, device="client", operation="request", limit=_MAX_REQUEST)
        except XmlReplyError as exc:
            return 400, fault("ter:WellFormed", str(exc))
        body = doc.root.find("s:Body", NS)
        if body is None or len(body) == 0:
            return 400, fault("ter:WellFormed", "no SOAP Body")
        op_el = body[0]
        op = local_name(op_el.tag)
        key = f"media2.{op}" if op_el.tag.startswith(f"{{{_MEDIA2}}}") else op
        self.requests.append(key)
        if key != "GetSystemDateAndTime":
            problem = self.check_token(doc.root.find("s:Header", NS))
            if problem is not None:
                return 400, fault("ter:NotAuthorized", f"Sender not authorized: {problem}")
        misbehaviour = self.override.get(key)
        if misbehaviour is not None:
            return self._misbehave(key, misbehaviour)
        if key == "GetSystemDateAndTime":
            return 200, self._clock_reply()
        if key == "CreatePullPointSubscription":
            return 200, self._create(op_el)
        if key in ("PullMessages", "Renew", "Unsubscribe"):
            return self._subscription_op(key, path, op_el)
        if key not in self.files:
            return 400, fault("ter:ActionNotSupported", f"{key} is not in this recording")
        return 200, self.files[key]

    def _misbehave(self, key: str, kind: str) -> tuple[int, bytes]:
        recorded = self.files.get(key, fault("ter:Action", "x"))
        return {
            "fault": (400, fault("ter:ActionNotSupported", f"{key} not supported")),
            # a valid token whose user may not do this (e.g. network settings need an administrator)
            "denied": (400, fault("ter:NotAuthorized", f"Sender not authorized to {key}")),
            "404": (404, b"Not Found"),
            "garbage": (200, b"HTTP/1.0 garbage \x00\xff not xml"),
            "truncated": (200, recorded[: len(recorded) // 2]),
            "xxe": (200, XXE_REPLY),
            "bomb": (200, BOMB_REPLY),
            "huge": (200, b"<a>" + b"x" * 2_000_000 + b"</a>"),
        }[kind]

    def _clock_reply(self) -> bytes:
        template = self.files.get("GetSystemDateAndTime")
        if template is None:
            template = _ENVELOPE.format(
                body="<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>Manual</tt:DateTimeType>"
                "<tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
                "<tt:UTCDateTime><tt:Time><tt:Hour>0</tt:Hour><tt:Minute>0</tt:Minute><tt:Second>0</tt:Second></tt:Time>"
                "<tt:Date><tt:Year>2000</tt:Year><tt:Month>1</tt:Month><tt:Day>1</tt:Day></tt:Date></tt:UTCDateTime>"
                "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
            ).encode()
        doc = template.decode()
        now = self.now()  # already local wall time when local_as_utc
        doc = _write_block(doc, "UTCDateTime", now)
        doc = _write_block(doc, "LocalDateTime", now if self.local_as_utc else now + self.local_shift)
        return doc.encode()

    def _create(self, op_el: object) -> bytes:
        from xml.etree.ElementTree import Element

        assert isinstance(op_el, Element)
        lifetime = xs_duration(text(op_el, "tev:InitialTerminationTime"), 60.0)
        if self.max_lifetime is not None:
            lifetime = min(lifetime, self.max_lifetime)
        sub_id = f"sub{next(self._ids)}"
        now = self.now()
        self._subs[sub_id] = now + lifetime
        self.subscriptions_created += 1
        address = f"{self.base_url}/onvif/Subscription?Idx={sub_id}"
        recorded = self.files.get("CreatePullPointSubscription")
        if recorded is None:
            body = (
                f"<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa:Address>{address}"
                "</wsa:Address></tev:SubscriptionReference><wsnt:CurrentTime>0</wsnt:CurrentTime>"
                "<wsnt:TerminationTime>0</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>"
            )
            recorded = _ENVELOPE.format(body=body).encode()
        doc = re.sub(r"(<[\w-]+:Address>)[^<]*(</)", rf"\g<1>{address}\g<2>", recorded.decode(), count=1)
        return _times(doc, now, self._subs[sub_id]).encode()

    def _subscription_op(self, key: str, path: str, op_el: object) -> tuple[int, bytes]:
        from xml.etree.ElementTree import Element

        assert isinstance(op_el, Element)
        sub_id = path.rpartition("Idx=")[2]
        now = self.now()
        if sub_id not in self._subs or self._subs[sub_id] < now:
            self._subs.pop(sub_id, None)
            return 400, fault("wsrf-rw:ResourceUnknownFault", f"no subscription {sub_id}")
        if key == "Unsubscribe":
            del self._subs[sub_id]
            return 200, _ENVELOPE.format(body="<wsnt:UnsubscribeResponse/>").encode()
        if key == "Renew":
            self.renewals += 1
            lifetime = xs_duration(text(op_el, "wsnt:TerminationTime"), 60.0)
            if self.max_lifetime is not None:
                lifetime = min(lifetime, self.max_lifetime)
            self._subs[sub_id] = now + lifetime
            body = (
                f"<wsnt:RenewResponse><wsnt:TerminationTime>{_iso(now + lifetime)}</wsnt:TerminationTime>"
                f"<wsnt:CurrentTime>{_iso(now)}</wsnt:CurrentTime></wsnt:RenewResponse>"
            )
            return 200, _ENVELOPE.format(body=body).encode()
        if sub_id not in self._pulled and "PullMessages" in self.files:
            self._pulled.add(sub_id)
            return 200, _times(self.files["PullMessages"].decode(), now, self._subs[sub_id]).encode()
        body = (
            f"<tev:PullMessagesResponse><tev:CurrentTime>{_iso(now)}</tev:CurrentTime>"
            f"<tev:TerminationTime>{_iso(self._subs[sub_id])}</tev:TerminationTime></tev:PullMessagesResponse>"
        )
        return 200, _ENVELOPE.format(body=body).encode()

    # ---- snapshots (HTTP digest, RFC 7616 with MD5 and qop=auth) ---------------------------
    def handle_get(self, method: str, target: str, authorization: str | None) -> tuple[int, dict[str, str], bytes]:
        challenge = {
            "WWW-Authenticate": f'Digest realm="lvgate-sim", nonce="{self._digest_nonce}", qop="auth", algorithm=MD5'
        }
        if self.snapshot is None:
            return 404, {}, b"no snapshot"
        if not authorization or not authorization.startswith("Digest "):
            return 401, challenge, b""
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', authorization[7:]))
        ha1 = hashlib.md5(f"{self.username}:lvgate-sim:{self.password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"{method}:{fields.get('uri', '')}".encode()).hexdigest()
        expected = hashlib.md5(
            f"{ha1}:{self._digest_nonce}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}".encode()
        ).hexdigest()
        if fields.get("username") != self.username or fields.get("response") != expected:
            return 401, challenge, b""
        return 200, {"Content-Type": "image/jpeg"}, self.snapshot


def _read_block(doc: str, name: str) -> float | None:
    block = re.search(rf"<[\w-]+:{name}>(.*?)</[\w-]+:{name}>", doc, re.S)
    if block is None:
        return None
    values = {}
    for part in ("Year", "Month", "Day", "Hour", "Minute", "Second"):
        m = re.search(rf"<[\w-]+:{part}>\s*(\d+)\s*<", block.group(1))
        if m is None:
            return None
        values[part] = int(m.group(1))
    return datetime(
        values["Year"], values["Month"], values["Day"], values["Hour"], values["Minute"], values["Second"], tzinfo=UTC
    ).timestamp()


def _write_block(doc: str, name: str, ts: float) -> str:
    block = re.search(rf"<[\w-]+:{name}>(.*?)</[\w-]+:{name}>", doc, re.S)
    if block is None:
        return doc
    dt = datetime.fromtimestamp(ts, UTC)
    inner = block.group(1)
    for part, value in (("Year", dt.year), ("Month", dt.month), ("Day", dt.day), ("Hour", dt.hour),
                        ("Minute", dt.minute), ("Second", dt.second)):  # fmt: skip
        inner = re.sub(rf"(<[\w-]+:{part}>)\s*\d+\s*(<)", rf"\g<1>{value}\g<2>", inner)
    return doc[: block.start(1)] + inner + doc[block.end(1) :]


def _times(doc: str, now: float, termination: float) -> str:
    doc = re.sub(r"(<[\w-]+:CurrentTime>)[^<]*(<)", rf"\g<1>{_iso(now)}\g<2>", doc)
    return re.sub(r"(<[\w-]+:TerminationTime>)[^<]*(<)", rf"\g<1>{_iso(termination)}\g<2>", doc)


class CameraServer:
    """A minimal HTTP/1.1 server (keep-alive, Content-Length bodies) for one RecordedCamera."""

    def __init__(self, camera: RecordedCamera, host: str = "127.0.0.1", port: int = 0) -> None:
        self.camera = camera
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.camera.base_url = f"http://{self.host}:{self.port}"

    @property
    def device_url(self) -> str:
        return f"http://{self.host}:{self.port}/onvif/device_service"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = h.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                if length > _MAX_REQUEST:
                    await self._respond(writer, 413, {}, b"")
                    return
                body = await reader.readexactly(length) if length else b""
                if method == "POST":
                    status, payload = self.camera.handle_soap(target, body)
                    quiet_pull = b"PullMessagesResponse" in payload and b"NotificationMessage" not in payload
                    if status == 200 and self.camera.pull_wait and quiet_pull:
                        await asyncio.sleep(self.camera.pull_wait)  # a long poll that found nothing
                    extra = {"Content-Type": "application/soap+xml; charset=utf-8"}
                else:
                    status, extra, payload = self.camera.handle_get(method, target, headers.get("authorization"))
                await self._respond(writer, status, extra, payload)
        except (ConnectionError, ValueError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            if task is not None:
                self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    @staticmethod
    async def _respond(writer: asyncio.StreamWriter, status: int, headers: dict[str, str], payload: bytes) -> None:
        head = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}", f"Content-Length: {len(payload)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
        await writer.drain()

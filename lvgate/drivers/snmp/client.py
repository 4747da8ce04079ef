"""An SNMP command generator for one device: GET of many OIDs per PDU and bounded table walks.

Built on pysnmp's asyncio API with MIB lookup switched off: every OID is numeric, so nothing
is parsed at start-up. Each request goes through a per-device semaphore, and every PDU sent
is counted (the benchmark and the probe report it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pyasn1.type import univ
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
    next_cmd,
)
from pysnmp.hlapi.v3arch.asyncio import auth as v3auth
from pysnmp.proto import errind, rfc1902, rfc1905

from lvgate.drivers.snmp.oids import Oid, format_oid, in_subtree
from lvgate.drivers.snmp.values import Kind, SnmpValue

log = logging.getLogger(__name__)

AuthProtocol = Literal["none", "MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"]
PrivProtocol = Literal["none", "DES", "AES", "AES192", "AES256"]

_AUTH = {
    "none": v3auth.USM_AUTH_NONE,
    "MD5": v3auth.USM_AUTH_HMAC96_MD5,
    "SHA": v3auth.USM_AUTH_HMAC96_SHA,
    "SHA224": v3auth.USM_AUTH_HMAC128_SHA224,
    "SHA256": v3auth.USM_AUTH_HMAC192_SHA256,
    "SHA384": v3auth.USM_AUTH_HMAC256_SHA384,
    "SHA512": v3auth.USM_AUTH_HMAC384_SHA512,
}
_PRIV = {
    "none": v3auth.USM_PRIV_NONE,
    "DES": v3auth.USM_PRIV_CBC56_DES,
    "AES": v3auth.USM_PRIV_CFB128_AES,
    "AES192": v3auth.USM_PRIV_CFB192_AES,
    "AES256": v3auth.USM_PRIV_CFB256_AES,
}
# Error indications that mean the credentials are wrong, not that the device is away.
_AUTH_FAILURES = (
    errind.WrongDigest,
    errind.UnknownUserName,
    errind.DecryptionError,
    errind.AuthenticationError,
    errind.AuthenticationFailure,
    errind.UnsupportedSecurityLevel,
    errind.UnknownSecurityName,
)


@dataclass(frozen=True)
class Credentials:
    version: Literal["1", "2c", "3"] = "2c"
    community: str = "public"
    user: str = ""
    auth_protocol: AuthProtocol = "none"
    auth_key: str = field(default="", repr=False)
    priv_protocol: PrivProtocol = "none"
    priv_key: str = field(default="", repr=False)
    context: str = ""


@dataclass(frozen=True)
class Target:
    host: str
    port: int = 161
    timeout: float = 2.0
    retries: int = 1
    max_repetitions: int = 25
    max_oids_per_pdu: int = 40
    max_concurrent: int = 2


class SnmpError(Exception):
    """A request failed as a whole. ``reason``: timeout, auth, error, protocol."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(detail)


@dataclass
class WalkResult:
    rows: list[tuple[Oid, SnmpValue]]
    problems: list[str] = field(default_factory=list)


def convert(value: Any) -> SnmpValue:
    """A pysnmp value as an SnmpValue (order matters: IpAddress is an OctetString)."""
    if isinstance(value, rfc1905.NoSuchObject):
        return SnmpValue(Kind.NO_SUCH_OBJECT, None)
    if isinstance(value, rfc1905.NoSuchInstance):
        return SnmpValue(Kind.NO_SUCH_INSTANCE, None)
    if isinstance(value, rfc1905.EndOfMibView):
        return SnmpValue(Kind.END_OF_MIB_VIEW, None)
    if isinstance(value, rfc1902.Counter64):
        return SnmpValue(Kind.COUNTER64, int(value))
    if isinstance(value, rfc1902.Counter32):
        return SnmpValue(Kind.COUNTER32, int(value))
    if isinstance(value, rfc1902.TimeTicks):
        return SnmpValue(Kind.TIMETICKS, int(value))
    if isinstance(value, rfc1902.Gauge32 | rfc1902.Unsigned32):
        return SnmpValue(Kind.GAUGE, int(value))
    if isinstance(value, univ.Integer):
        return SnmpValue(Kind.INTEGER, int(value))
    if isinstance(value, rfc1902.IpAddress):
        return SnmpValue(Kind.IPADDRESS, ".".join(str(b) for b in value.asOctets()))
    if isinstance(value, univ.ObjectIdentifier):
        return SnmpValue(Kind.OID, format_oid(tuple(value)))
    if isinstance(value, univ.OctetString):
        raw = bytes(value.asOctets())
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return SnmpValue(Kind.STRING, raw)
        if all(ch.isprintable() or ch in "\r\n\t" for ch in text.rstrip("\x00")):
            return SnmpValue(Kind.STRING, text.rstrip("\x00"))
        return SnmpValue(Kind.STRING, raw)
    return SnmpValue(Kind.NULL, None)


def _chunks(items: Sequence[Oid], size: int) -> Iterable[Sequence[Oid]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SnmpClient:
    """Talks to one agent. ``pdus`` counts the requests sent (not the retries pysnmp makes)."""

    def __init__(self, device: str, target: Target, credentials: Credentials, engine: SnmpEngine | None = None) -> None:
        self.device = device
        self.target = target
        self.credentials = credentials
        # An engine costs ~0.7 s of CPU and a few MiB on first use: devices share one (see
        # SnmpSession) unless a caller has only this one device.
        self.engine = engine if engine is not None else SnmpEngine()
        self.semaphore = asyncio.Semaphore(target.max_concurrent)
        self.pdus = 0
        self._transport: UdpTransportTarget | None = None

    def _auth(self) -> CommunityData | UsmUserData:
        c = self.credentials
        if c.version == "3":
            return UsmUserData(
                c.user,
                authKey=c.auth_key or None,
                privKey=c.priv_key or None,
                authProtocol=_AUTH[c.auth_protocol],
                privProtocol=_PRIV[c.priv_protocol],
            )
        return CommunityData(c.community, mpModel=0 if c.version == "1" else 1)

    async def _transport_target(self) -> UdpTransportTarget:
        if self._transport is None:
            self._transport = await UdpTransportTarget.create(
                (self.target.host, self.target.port), timeout=self.target.timeout, retries=self.target.retries
            )
        return self._transport

    def _fail(self, indication: Any) -> SnmpError:
        if isinstance(indication, _AUTH_FAILURES):
            return SnmpError("auth", f"authentication failed for {self.device}: {indication}")
        if isinstance(indication, errind.RequestTimedOut):
            return SnmpError(
                "timeout",
                f"no response from {self.target.host}:{self.target.port} "
                f"after {self.target.retries + 1} tries of {self.target.timeout:g} s",
            )
        return SnmpError("error", f"{self.target.host}:{self.target.port}: {indication}")

    async def _request(self, kind: str, oids: Sequence[Oid], repetitions: int = 0) -> list[tuple[Oid, SnmpValue]]:
        """One PDU; (errorStatus, errorIndex) come back as an SnmpError('protocol', ...)."""
        var_binds = [ObjectType(ObjectIdentity(format_oid(oid))) for oid in oids]
        transport = await self._transport_target()
        context = ContextData(contextName=self.credentials.context)
        async with self.semaphore:
            self.pdus += 1
            try:
                if kind == "get":
                    result = await get_cmd(self.engine, self._auth(), transport, context, *var_binds, lookupMib=False)
                elif kind == "next":
                    result = await next_cmd(self.engine, self._auth(), transport, context, *var_binds, lookupMib=False)
                else:
                    result = await bulk_cmd(
                        self.engine,
                        self._auth(),
                        transport,
                        context,
                        0,
                        repetitions,
                        *var_binds,
                        lookupMib=False,
                    )
            except errind.ErrorIndication as exc:
                raise self._fail(exc) from exc
        indication, status, index, binds = result
        if indication:
            raise self._fail(indication)
        if int(status):
            err = SnmpError("protocol", f"{self.target.host}: {status.prettyPrint()} at varbind {int(index)}")
            err.index = int(index)  # type: ignore[attr-defined]
            raise err
        return [(tuple(name), convert(value)) for name, value in binds]

    async def get(self, oids: Sequence[Oid]) -> dict[Oid, SnmpValue]:
        """GET every OID, ``max_oids_per_pdu`` at a time, the PDUs in parallel (bounded by the
        semaphore). A v1 noSuchName drops that OID (as noSuchObject) and asks again for the rest."""
        unique = list(dict.fromkeys(oids))
        results: dict[Oid, SnmpValue] = {}

        async def one(chunk: Sequence[Oid]) -> None:
            pending = list(chunk)
            while pending:
                try:
                    answer = await self._request("get", pending)
                except SnmpError as exc:
                    index = getattr(exc, "index", 0)
                    if exc.reason != "protocol" or not 1 <= index <= len(pending):
                        raise
                    results[pending.pop(index - 1)] = SnmpValue(Kind.NO_SUCH_OBJECT, None)
                    continue
                for (_, value), asked in zip(answer, pending, strict=False):
                    results[asked] = value
                return

        await asyncio.gather(*(one(chunk) for chunk in _chunks(unique, self.target.max_oids_per_pdu)))
        return results

    async def walk(self, columns: Sequence[Oid], max_rows: int = 10_000) -> dict[Oid, WalkResult]:
        """Walk several columns (or subtrees) together: one GETBULK carries every column still
        open, so a table of N columns costs about rows/(max_repetitions/N) PDUs.

        A column ends when the agent leaves its subtree, answers endOfMibView or an exception
        value, or returns an OID not greater than the last one (a looping agent). ``max_rows``
        bounds every column, so a walk always ends."""
        results = {col: WalkResult([]) for col in dict.fromkeys(columns)}
        cursor: dict[Oid, Oid] = {col: col for col in results}
        open_cols = list(results)
        budget = self.target.max_oids_per_pdu * max(1, self.target.max_repetitions)
        v1 = self.credentials.version == "1"
        while open_cols:
            batch = open_cols[: self.target.max_oids_per_pdu]
            reps = 1 if v1 else max(1, min(self.target.max_repetitions, budget // len(batch)))
            try:
                answer = await self._request("next" if v1 else "bulk", [cursor[c] for c in batch], reps)
            except SnmpError as exc:
                if v1 and exc.reason == "protocol":  # v1 noSuchName at the end of the MIB
                    index = getattr(exc, "index", 1)
                    col = batch[max(0, min(index, len(batch)) - 1)]
                    open_cols.remove(col)
                    continue
                raise
            closed: set[Oid] = set()
            advanced: set[Oid] = set()
            for position, (oid, value) in enumerate(answer):
                col = batch[position % len(batch)]
                if col in closed:
                    continue
                result = results[col]
                if value.kind is Kind.END_OF_MIB_VIEW or not in_subtree(oid, col):
                    closed.add(col)
                    continue
                if oid <= cursor[col]:
                    result.problems.append(
                        f"non-increasing OID {format_oid(oid)} after {format_oid(cursor[col])}: walk stopped"
                    )
                    closed.add(col)
                    continue
                cursor[col] = oid
                advanced.add(col)
                result.rows.append((oid, value))
                if len(result.rows) >= max_rows:
                    result.problems.append(f"more than {max_rows} rows: walk stopped")
                    closed.add(col)
            if not advanced and not closed:  # an agent that answers nothing usable: give up
                for col in batch:
                    results[col].problems.append("agent returned no usable varbind: walk stopped")
                closed.update(batch)
            open_cols = [c for c in open_cols if c not in closed]
        return results

    def close(self) -> None:
        dispatcher = getattr(self.engine, "transport_dispatcher", None)
        if dispatcher is not None:
            dispatcher.close_dispatcher()

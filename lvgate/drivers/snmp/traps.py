"""Trap and inform receiver (v1, v2c, v3): every notification becomes a DeviceEvent at once.

Which trap means which event word is data (``profiles/snmp/notifications/traps.yaml``); a trap nobody
mapped is published as the generic word ``trap`` with its OID and varbinds.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml
from pysnmp.carrier.asyncio.dgram import udp, udp6
from pysnmp.entity import config as snmp_config
from pysnmp.entity import engine
from pysnmp.entity.rfc3413 import ntfrcv
from pysnmp.proto.rfc1902 import OctetString

from lvgate.drivers.base import DeviceEvent, DeviceSink
from lvgate.drivers.snmp.client import _AUTH, _PRIV, convert
from lvgate.drivers.snmp.config import SnmpDeviceConfig, V3User
from lvgate.drivers.snmp.oids import format_oid
from lvgate.drivers.snmp.profile import snmp_profiles_dir
from lvgate.mqtt_schema.vocabulary import vocabulary
from lvgate.reading import now_ms

log = logging.getLogger(__name__)

SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


@dataclass(frozen=True)
class TrapMeaning:
    event: str
    severity: str
    name: str


@cache
def trap_table() -> dict[str, TrapMeaning]:
    path = snmp_profiles_dir() / "notifications" / "traps.yaml"
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        str(oid).lstrip("."): TrapMeaning(spec["event"], spec.get("severity", "info"), spec.get("name", ""))
        for oid, spec in raw["traps"].items()
    }


def to_event(device: str, device_class: str, var_binds: list[tuple[str, Any]], source: str | None) -> DeviceEvent:
    """A DeviceEvent from a notification's varbinds (numeric OID strings, pysnmp or plain values)."""
    values = {oid: (convert(v).as_text() if not isinstance(v, str | int) else str(v)) for oid, v in var_binds}
    trap_oid = values.pop(SNMP_TRAP_OID, "")
    uptime = values.pop(SYS_UPTIME, None)
    meaning = trap_table().get(trap_oid)
    allowed = vocabulary()[device_class].events
    kind = meaning.event if meaning and meaning.event in allowed else "trap"
    data: dict[str, Any] = {"trap_oid": trap_oid, "varbinds": values}
    if meaning:
        data["trap"] = meaning.name
    if uptime is not None:
        data["uptime_ticks"] = uptime
    if source:
        data["source"] = source
    if_index = next((v for oid, v in values.items() if oid.startswith("1.3.6.1.2.1.2.2.1.1.")), None)
    if if_index is not None:
        data["if_index"] = if_index
    return DeviceEvent(device, kind, now_ms(), meaning.severity if meaning else "info", data)


def _add_user(snmp_engine: engine.SnmpEngine, user: V3User, engine_id: str | None) -> None:
    kwargs: dict[str, Any] = {}
    if engine_id:
        kwargs["securityEngineId"] = OctetString(hexValue=engine_id.removeprefix("0x"))
    snmp_config.add_v3_user(
        snmp_engine,
        user.user,
        _AUTH[user.auth_protocol],
        user.auth_key.get_secret_value() if user.auth_key else None,
        _PRIV[user.priv_protocol],
        user.priv_key.get_secret_value() if user.priv_key else None,
        **kwargs,
    )


async def receive_traps(config: SnmpDeviceConfig, sink: DeviceSink, device_class: str | None = None) -> None:
    """Listen on the configured address until cancelled, handing each notification to ``sink``."""
    assert config.traps is not None
    listen = config.traps
    klass = device_class or config.device_class or "switch"
    snmp_engine = engine.SnmpEngine()
    ipv6 = ":" in listen.address
    transport = (udp6.Udp6Transport() if ipv6 else udp.UdpTransport()).open_server_mode((listen.address, listen.port))
    snmp_config.add_transport(snmp_engine, (*(udp6 if ipv6 else udp).DOMAIN_NAME, 1), transport)
    community = listen.community or config.community
    snmp_config.add_v1_system(snmp_engine, "lvgate-traps", community.get_secret_value())
    user = listen.v3 or config.v3
    if user is not None:
        _add_user(snmp_engine, user, None)  # informs: our engine is authoritative
        if listen.engine_id:
            _add_user(snmp_engine, user, listen.engine_id)  # traps: the sender's engine is

    def on_notification(
        snmp_engine: engine.SnmpEngine,
        state_reference: Any,
        context_engine_id: Any,
        context_name: Any,
        var_binds: Any,
        cb_ctx: Any,
    ) -> None:
        try:
            info = snmp_engine.message_dispatcher.get_transport_info(state_reference)
            source = str(info[1][0]) if info and info[1] else None
        except Exception:  # the source address is a nicety, never a reason to drop a trap
            source = None
        binds = [(format_oid(tuple(name)), value) for name, value in var_binds]
        event = to_event(config.id, klass, binds, source)
        log.info("device '%s': trap %s -> %s", config.id, event.data.get("trap_oid"), event.kind)
        sink.event(event)

    ntfrcv.NotificationReceiver(snmp_engine, on_notification)
    log.info("device '%s': receiving traps on %s:%d", config.id, listen.address, listen.port)
    try:
        await asyncio.Event().wait()
    finally:
        snmp_engine.close_dispatcher()

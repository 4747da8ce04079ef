"""`lvgate probe snmp HOST`: system info, the detected profile and every entity it would publish."""

from __future__ import annotations

import argparse
import os

from pydantic import SecretStr, ValidationError

from lvgate.drivers.base import DeviceError
from lvgate.drivers.snmp.client import SnmpClient
from lvgate.drivers.snmp.config import SnmpDeviceConfig, V3User
from lvgate.mqtt_schema.vocabulary import entity_kind


def _config(args: argparse.Namespace) -> SnmpDeviceConfig:
    v3 = None
    if args.version == "3":
        auth = os.environ.get(args.auth_key_env or "", "") or None
        priv = os.environ.get(args.priv_key_env or "", "") or None
        v3 = V3User(
            user=args.user or "",
            auth_protocol=args.auth_protocol if auth else "none",
            auth_key=SecretStr(auth) if auth else None,
            priv_protocol=args.priv_protocol if priv else "none",
            priv_key=SecretStr(priv) if priv else None,
        )
    return SnmpDeviceConfig(
        id="probe",
        host=args.host,
        port=args.port,
        version=args.version,
        community=SecretStr(args.community),
        v3=v3,
        profile=args.profile,
        timeout=args.timeout,
    )


async def run_probe(args: argparse.Namespace) -> int:
    from lvgate.drivers.snmp.poller import SnmpPoller

    try:
        config = _config(args)
    except ValidationError as exc:
        print(f"bad arguments: {exc}")
        return 2
    poller = SnmpPoller(config, SnmpClient(config.id, config.target(), config.credentials()))
    try:
        result = await poller.poll_detailed()
        identity = await poller.identity() or {}
    except DeviceError as exc:
        print(f"{args.host}: {exc.reason}: {exc.detail}")
        return 1
    finally:
        await poller.close()
    assert poller.profile is not None
    print(f"device      {identity.get('description', '')[:100]}")
    print(f"sysObjectID {identity.get('sys_object_id')}   sysName {identity.get('sys_name')}")
    print(f"location    {identity.get('location')}")
    for field in ("model", "serial", "hardware", "firmware", "software"):
        if identity.get(field):
            print(f"{field:11} {identity[field]}")
    print(f"profile     {poller.profile.name} ({poller.profile.device_class}, {poller.profile.manufacturer})")
    print(f"requests    {poller.client.pdus} PDUs")
    print()
    for reading in sorted(result.readings, key=lambda r: r.key):
        unit = entity_kind(poller.profile.device_class, reading.key).unit or ""
        source = result.sources.get(reading.key)
        label = f"  {source.label}" if source and source.label else ""
        flag = "" if reading.quality.value == "good" else f" [{reading.quality.value}]"
        print(f"  {reading.key:36} {reading.value!s:>14} {unit:6}{flag}  {source.oid if source else ''}{label}")
    for problem in result.problems:
        print(f"  ! {problem}")
    return 0

"""``lvgate probe onvif HOST``: what a technician wants to see before trusting the config."""

from __future__ import annotations

import argparse
import os
from xml.etree.ElementTree import Element

import httpx

from lvgate.drivers.onvif.camera import OnvifCamera
from lvgate.drivers.onvif.safexml import NS, local_name
from lvgate.drivers.onvif.soap import OnvifError, SoapClient

_WSTOP_TOPIC = "{http://docs.oasis-open.org/wsn/t-1}topic"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("host", help="camera address")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--path", default="/onvif/device_service")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password-env", default="LVGATE_CAMERA_PASSWORD", help="variable holding the password")
    parser.add_argument("--timeout", type=float, default=5.0)


def topic_names(topic_set: Element) -> list[str]:
    """Leaf topics of a GetEventProperties TopicSet (elements marked wstop:topic="true")."""
    names: list[str] = []

    def walk(el: Element, path: list[str]) -> None:
        for child in el:
            here = [*path, local_name(child.tag)]
            if child.get(_WSTOP_TOPIC) == "true":
                names.append("/".join(here))
            if local_name(child.tag) != "MessageDescription":
                walk(child, here)

    walk(topic_set, [])
    return names


async def run_probe(args: argparse.Namespace) -> int:
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{args.port}{args.path}"
    password = os.environ.get(args.password_env)
    async with httpx.AsyncClient(timeout=args.timeout, trust_env=False) as http:
        soap = SoapClient(args.host, http, args.username, password, timeout=args.timeout)
        state = await OnvifCamera(soap, url).check()
        print(f"status: {state.level.word} ({state.reason})")
        if state.detail:
            print(f"  {state.detail}")
        if state.drift is not None:
            local = " (reports local time as UTC)" if state.clock and state.clock.local_as_utc else ""
            print(f"clock drift: {state.drift:+.0f} s{local}")
        if state.identity is not None:
            for key, value in state.identity.as_dict().items():
                print(f"{key}: {value}")
        for iface in state.interfaces or []:
            print(f"interface {iface.token}: mac {iface.mac}, ip {iface.ip}, enabled {iface.enabled}")
        for p in state.profiles:
            print(f"profile {p.token} ({p.name}): {p.encoding} {p.width}x{p.height} @ {p.frame_rate} fps")
            print(f"  stream:   {p.stream_uri}\n  snapshot: {p.snapshot_uri}")
        for feature, why in sorted(state.unsupported.items()):
            print(f"unsupported: {feature}: {why}")
        if "events" in state.services:
            try:
                reply = await soap.call(state.services["events"], "GetEventProperties", "<tev:GetEventProperties/>")
                topic_set = reply.el.find("wstop:TopicSet", {**NS, "wstop": "http://docs.oasis-open.org/wsn/t-1"})
                for name in topic_names(topic_set) if topic_set is not None else []:
                    print(f"event topic: {name}")
            except OnvifError as exc:
                print(f"event topics: {exc}")
    return 0 if state.level.value >= 2 else 1

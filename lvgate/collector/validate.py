"""Is an incoming message what the contract says? Parse it once and say why not.

With ``schema`` validation every payload is checked against the JSON Schemas of
``lvgate.mqtt_schema``; ``basic`` checks only the shape the collector relies on (for
throughput). Either way the topic's ids must match the payload's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import orjson

from lvgate.collector.fastschema import Check, compile_schema
from lvgate.collector.points import PayloadError
from lvgate.mqtt_schema.schemas import schemas
from lvgate.mqtt_schema.topics import parse_device_topic
from lvgate.mqtt_schema.validate import match_topic, topic_consistency, validate_message


def loads(payload: bytes) -> Any:
    """json.loads, three times faster (orjson) for the payloads orjson takes.

    orjson refuses a few documents that the json module reads (NaN, Infinity, lone surrogate
    escapes, integers beyond 64 bits): those go through json.loads, so what is accepted, and
    the error message of what is not, stay those of the json module.
    """
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return json.loads(payload)


@cache
def _compiled(name: str) -> Check | None:
    return compile_schema(schemas()[name])


def prepare() -> None:
    """Compile every schema now (a few hundred ms), not when its first message arrives."""
    for name in schemas():
        _compiled(name)


def _fast_parse(base: str, topic: str, payload: bytes) -> Any:
    """The document when it surely follows the contract (compiled check); None: ask jsonschema."""
    match = match_topic(base, topic)
    check = _compiled(match.schema) if match is not None else None
    if match is None or check is None:
        return None
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:  # NaN, a lone surrogate, not UTF-8...: jsonschema's path decides
        return None
    if not check(document) or topic_consistency(match, document):
        return None
    return document


Leaf = Literal["telemetry", "availability", "events", "info", "bridge_state", "bridge_info"]
_DEVICE_LEAVES: dict[str, Leaf] = {"telemetry": "telemetry", "availability": "availability", "events": "events",
                                   "info": "info"}  # fmt: skip
_REQUIRED: dict[Leaf, dict[str, type | tuple[type, ...]]] = {
    "telemetry": {"ts": str, "site": str, "room": str, "gateway": str, "device": str, "device_class": str,
                  "readings": dict},
    "availability": {"state": str, "ts": str},
    "events": {"ts": str, "device": str, "event": str, "data": dict},
    "info": {"device": str},
    "bridge_state": {"state": str},
    "bridge_info": {"gateway": str, "site": str, "room": str, "devices": list},
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Message:
    leaf: Leaf
    gateway: str
    device: str | None
    body: dict[str, Any]


def route(base: str, topic: str) -> tuple[Leaf, str, str | None] | None:
    """(leaf, gateway, device) of a topic the collector takes in, or None."""
    parsed = parse_device_topic(base, topic)
    if parsed is not None:
        gateway, device, leaf = parsed
        return (_DEVICE_LEAVES[leaf], gateway, device) if leaf in _DEVICE_LEAVES else None
    prefix = base + "/"
    parts = topic[len(prefix) :].split("/") if topic.startswith(prefix) else []
    if len(parts) == 3 and parts[1] == "bridge" and parts[2] in ("state", "info"):
        return ("bridge_state" if parts[2] == "state" else "bridge_info"), parts[0], None
    return None


def check_message(
    base: str, topic: str, payload: bytes, *, mode: Literal["schema", "basic"], max_bytes: int
) -> Message | None:
    """The parsed message; None for an empty retained payload (a cleared topic). Raises PayloadError."""
    where = route(base, topic)
    if where is None:
        raise PayloadError(f"not a topic the collector takes: '{topic}'")
    leaf, gateway, device = where
    if len(payload) > max_bytes:
        raise PayloadError(f"payload of {len(payload)} bytes is over the {max_bytes} byte limit")
    if not payload:
        if leaf in ("telemetry", "events"):
            raise PayloadError("empty payload")
        return None
    body: Any = None
    if mode == "schema":
        # Most messages pass the compiled check; jsonschema (slow) only for the rest, and it
        # alone decides what is rejected and why.
        body = _fast_parse(base, topic, payload)
        problems = validate_message(base, topic, payload) if body is None else []
        if problems:
            raise PayloadError("; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))
    if body is None:
        try:
            body = loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PayloadError(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise PayloadError("not a JSON object")
    for key, kind in _REQUIRED[leaf].items():
        if not isinstance(body.get(key), kind):
            raise PayloadError(f"'{key}' missing or of the wrong type")
    if device is not None and "device" in body and body["device"] != device:
        raise PayloadError(f"payload device '{body['device']}' is not the topic's '{device}'")
    if "gateway" in body and body["gateway"] != gateway:
        raise PayloadError(f"payload gateway '{body['gateway']}' is not the topic's '{gateway}'")
    return Message(leaf, gateway, device, body)

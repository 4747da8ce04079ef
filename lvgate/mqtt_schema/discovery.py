"""Home Assistant MQTT discovery, in the device-based form.

One retained config per device on ``<prefix>/device/<node_id>/config`` carries the device
block (``dev``), the origin (``o``), the availability shared by its entities and one
component (``cmps``) per entity key. Field names follow the Home Assistant MQTT documentation
(integrations/mqtt, "Device discovery payload"; the abbreviations ``dev``, ``o``, ``cmps`` and
``p`` are the ones it uses in its own example). Entities read the device's retained state
topic; a unique_id is built from gateway id + device id + entity key, never from a display name.

Jinja detail: templates index with ``['values']`` because ``value_json.values`` would find the
dict's ``values`` method first.
"""

from __future__ import annotations

import hashlib
import re
from importlib.metadata import PackageNotFoundError, metadata
from typing import Any

from lvgate import __version__
from lvgate.mqtt_schema.topics import Topics
from lvgate.mqtt_schema.vocabulary import EntityKind, entity_kind, vocabulary

DISCOVERY_PREFIX = "homeassistant"
# Home Assistant announces itself here (birth message "online"): the cue to send discovery again.
HA_STATUS_TOPIC = "homeassistant/status"
ORIGIN_NAME = "lvgate"

# The gateway's own entities (vocabulary class ``gateway``) are read from its health message.
GATEWAY_HEALTH_FIELDS = {"uptime": "uptime_s", "queue_depth": "queue_depth"}

_NOT_OBJECT_ID = re.compile(r"[^A-Za-z0-9_-]")
_NOT_ENTITY_ID = re.compile(r"[^a-z0-9]+")


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def object_id(text: str) -> str:
    """A discovery topic level: only ``[A-Za-z0-9_-]``, as Home Assistant requires.

    Replacing characters could make two ids equal, so an altered id gets a hash of the original.
    """
    cleaned = _NOT_OBJECT_ID.sub("_", text)
    return cleaned if cleaned == text and cleaned else f"{cleaned}_{_short_hash(text)}"


def entity_slug(*parts: str) -> str:
    """The part of an entity id after the platform: lowercase ``[a-z0-9_]``, no ``__``, no edge ``_``."""
    slug = _NOT_ENTITY_ID.sub("_", "_".join(parts).lower()).strip("_")
    return slug or f"lvgate_{_short_hash('/'.join(parts))}"


def gateway_identifier(gateway_id: str) -> str:
    return f"lvgate_{gateway_id}"


def device_identifier(gateway_id: str, device_id: str) -> str:
    return f"lvgate_{gateway_id}_{device_id}"


def unique_id(gateway_id: str, device_id: str, key: str) -> str:
    # ':' cannot occur in an id (ID_PATTERN), so the three parts can never run into each other.
    return f"lvgate:{gateway_id}:{device_id}:{key}"


def node_id(gateway_id: str, device_id: str | None = None) -> str:
    parts = [gateway_id] if device_id is None else [gateway_id, device_id]
    return "_".join(["lvgate", *(object_id(p) for p in parts)])


def discovery_topic(node: str, prefix: str = DISCOVERY_PREFIX) -> str:
    return f"{prefix}/device/{node}/config"


def _support_url() -> str | None:
    try:
        urls = metadata("lvgate").get_all("Project-URL") or []
    except PackageNotFoundError:
        return None
    return urls[0].split(",", 1)[-1].strip() if urls else None


def origin(sw_version: str = __version__, support_url: str | None = None) -> dict[str, str]:
    block = {"name": ORIGIN_NAME, "sw": sw_version}
    url = support_url or _support_url()
    if url:
        block["url"] = url
    return block


def label(key: str) -> str:
    """``battery_runtime`` -> ``Battery runtime``; ``temperature.1010`` -> ``Temperature 1010``."""
    base, _, instance = key.partition(".")
    words = base.replace("_", " ")
    text = words[:1].upper() + words[1:]
    return f"{text} {instance}" if instance else text


def _availability_entry(topic: str) -> dict[str, str]:
    return {"topic": topic, "value_template": "{{ value_json['state'] }}"}


def _platform(kind: EntityKind) -> str:
    return "binary_sensor" if kind.type == "bool" else "sensor"


def _template(expression: str, kind: EntityKind) -> str:
    """Render the JSON value: a missing or null value becomes 'None' (unknown in Home Assistant)."""
    if kind.type != "bool":
        return f"{{{{ {expression} | default(None) }}}}"
    on, off = ("OFF", "ON") if str(kind.ha.get("invert", "")).lower() == "true" else ("ON", "OFF")
    return f"{{% set v = {expression} | default(None) %}}{{{{ 'None' if v is none else ('{on}' if v else '{off}') }}}}"


def _component(kind: EntityKind, key: str, ids: tuple[str, str], state_topic: str, expression: str) -> dict[str, Any]:
    platform = _platform(kind)
    gateway_id, device_id = ids
    component: dict[str, Any] = {
        "p": platform,
        "name": label(key),
        "unique_id": unique_id(gateway_id, device_id, key),
        "default_entity_id": f"{platform}.{entity_slug('lvgate', gateway_id, device_id, key)}",
        "state_topic": state_topic,
        "value_template": _template(expression, kind),
    }
    ha = kind.ha
    if kind.type == "enum":
        component["device_class"] = "enum"
        component["options"] = list(kind.states)
    elif ha.get("device_class"):
        component["device_class"] = ha["device_class"]
    if platform == "sensor" and kind.type != "enum":
        if kind.unit:
            component["unit_of_measurement"] = kind.unit
        if ha.get("state_class"):
            component["state_class"] = ha["state_class"]
    if ha.get("entity_category"):
        component["entity_category"] = ha["entity_category"]
    return component


def _quoted(key: str) -> str:
    if "'" in key or "\\" in key:
        raise ValueError(f"entity key {key!r} cannot be quoted in a template")
    return f"'{key}'"


def device_config(
    *,
    gateway_id: str,
    base_topic: str,
    device_id: str,
    display_name: str,
    device_class: str,
    entity_keys: list[str],
    identity: dict[str, Any] | None = None,
    sw_version: str = __version__,
    support_url: str | None = None,
    prefix: str = DISCOVERY_PREFIX,
) -> tuple[str, dict[str, Any]]:
    """(topic, payload) of one device's retained discovery config; publish it with retain.

    KeyError when an entity key is not in the vocabulary of ``device_class``.
    """
    topics = Topics(base_topic, gateway_id)
    state_topic = topics.device(device_id, "state")
    components: dict[str, dict[str, Any]] = {}
    for key in entity_keys:
        # an instance key (temperature.1010) is its base key's kind
        kind = entity_kind(device_class, key.partition(".")[0])
        expression = f"value_json['values'][{_quoted(key)}]"
        components[object_id(key)] = _component(kind, key, (gateway_id, device_id), state_topic, expression)
    dev: dict[str, Any] = {
        "ids": [device_identifier(gateway_id, device_id)],
        "name": display_name,
        "via_device": gateway_identifier(gateway_id),
        **_identity_fields(identity or {}),
    }
    dev.setdefault("mdl", vocabulary()[device_class].title)
    payload: dict[str, Any] = {
        "dev": dev,
        "o": origin(sw_version, support_url),
        "availability": [
            _availability_entry(topics.bridge("state")),
            _availability_entry(topics.device(device_id, "availability")),
        ],
        "availability_mode": "all",
        "qos": 1,
        "cmps": components,
    }
    return discovery_topic(node_id(gateway_id, device_id), prefix), payload


# Identity keys drivers report -> device registry fields (abbreviated as in the HA docs).
_IDENTITY = {
    "manufacturer": "mf",
    "model": "mdl",
    "model_id": "mdl_id",
    "serial": "sn",
    "serial_number": "sn",
    "firmware": "sw",
    "sw_version": "sw",
    "hardware": "hw",
    "hw_version": "hw",
}


def _identity_fields(identity: dict[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, field in _IDENTITY.items():
        value = identity.get(key)
        if value not in (None, "") and field not in fields:
            fields[field] = str(value)
    return fields


def gateway_config(
    *,
    gateway_id: str,
    base_topic: str,
    room: str | None = None,
    sw_version: str = __version__,
    support_url: str | None = None,
    prefix: str = DISCOVERY_PREFIX,
) -> tuple[str, dict[str, Any]]:
    """(topic, payload) of the gateway's own retained discovery config (uptime, queue depth)."""
    topics = Topics(base_topic, gateway_id)
    health = topics.bridge("health")
    components: dict[str, dict[str, Any]] = {}
    for key, kind in vocabulary()["gateway"].entities.items():
        if key not in GATEWAY_HEALTH_FIELDS:
            raise KeyError(f"gateway entity '{key}' has no field in bridge/health (GATEWAY_HEALTH_FIELDS)")
        expression = f"value_json[{_quoted(GATEWAY_HEALTH_FIELDS[key])}]"
        components[key] = _component(kind, key, (gateway_id, "bridge"), health, expression)
    dev: dict[str, Any] = {
        "ids": [gateway_identifier(gateway_id)],
        "name": f"lvgate {gateway_id}",
        "mf": "lvgate",
        "mdl": vocabulary()["gateway"].title,
        "sw": sw_version,
    }
    if room:
        dev["sa"] = room
    payload: dict[str, Any] = {
        "dev": dev,
        "o": origin(sw_version, support_url),
        "availability": [_availability_entry(topics.bridge("state"))],
        "qos": 1,
        "cmps": components,
    }
    return discovery_topic(node_id(gateway_id), prefix), payload


def clear_device(gateway_id: str, device_id: str, prefix: str = DISCOVERY_PREFIX) -> tuple[str, bytes]:
    """(topic, empty payload): publish it retained to remove a device from Home Assistant."""
    return discovery_topic(node_id(gateway_id, device_id), prefix), b""

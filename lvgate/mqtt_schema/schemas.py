"""JSON Schemas (draft 2020-12) of every payload on the lvgate topic tree.

The schemas are built here, in Python, so that the per-device-class parts (which entity keys a
``ups`` may publish, the value type and unit of each, the event words of each class) come from
``vocabulary.yaml`` and cannot drift from it. ``docs/schemas/*.schema.json`` are written from
:func:`schemas` by ``lvgate mqtt-schema docs --write-to docs``; a test keeps them equal.

Conventions every schema shares: ``schema_version`` is the constant 1; times are ISO 8601 UTC
with milliseconds and ``Z`` (``2026-03-01T08:15:00.250Z``); quality ``q`` is good/uncertain/bad;
unknown properties are refused, except inside free-form maps (identity, event data, config).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from lvgate.drivers.base import ID_PATTERN
from lvgate.mqtt_schema.catalog import COMMANDS
from lvgate.mqtt_schema.topics import SCHEMA_VERSION
from lvgate.mqtt_schema.vocabulary import DeviceClass, EntityKind, vocabulary

Schema = dict[str, Any]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
# Month 01-12, day 01-31, hour 00-23, minutes and seconds 00-59, exactly three decimals, UTC.
ISO_MS_UTC = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$"
QUALITIES = ("good", "uncertain", "bad")
SEVERITIES = ("info", "warning", "critical")
FAULT_LEVELS = ("I", "II", "III", "IV")
ALARM_STATES = ("raised", "acknowledged", "cleared")
COLLECTOR_ID_PATTERN = r"^[A-Za-z0-9_.-]+$"  # a collector's collector_id (its config checks the same)

TS: Schema = {
    "type": "string",
    "format": "date-time",
    "pattern": ISO_MS_UTC,
    "description": "UTC time, ISO 8601 with milliseconds and Z, e.g. 2026-03-01T08:15:00.250Z",
}
VERSION: Schema = {"const": SCHEMA_VERSION, "description": f"payload schema version, always {SCHEMA_VERSION}"}
ID: Schema = {"type": "string", "pattern": ID_PATTERN, "description": "stable id from the gateway config"}
TEXT: Schema = {"type": "string", "minLength": 1}
NAME: Schema = {"type": "string", "minLength": 1, "description": "display name, any Unicode"}
COUNT: Schema = {"type": "integer", "minimum": 0}
SCALAR: Schema = {"type": ["string", "number", "boolean", "null"]}


TRANSACTION: Schema = {"type": ["string", "integer"]}


def _obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None, **extra: Any) -> Schema:
    """A closed object: ``required`` keys must be there, ``optional`` ones may be, nothing else."""
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
        "additionalProperties": False,
        **extra,
    }


def _doc(name: str, title: str, body: Schema) -> Schema:
    return {"$schema": DRAFT, "$id": f"urn:lvgate:mqtt:{name}:v{SCHEMA_VERSION}", "title": title, **body}


def value_schema(kind: EntityKind) -> Schema:
    """What the value of one entity may be; null always allowed (a reading that could not be had)."""
    if kind.type == "enum":
        return {"enum": [*kind.states, None]}
    json_type = {"float": "number", "int": "integer", "bool": "boolean"}[kind.type]
    return {"type": [json_type, "null"]}


def reading_entry_schema(kind: EntityKind) -> Schema:
    optional: dict[str, Schema] = {"ts": {**TS, "description": "when measured, if not the message's ts"}}
    if kind.unit:
        optional["u"] = {"const": kind.unit, "description": "SI unit from the vocabulary"}
    entry = _obj({"v": value_schema(kind), "q": {"enum": list(QUALITIES)}}, optional)
    entry["allOf"] = QUALITY_RULES
    return entry


# A bad reading has no value; a null value is never good.
QUALITY_RULES: list[Schema] = [
    {
        "if": {"properties": {"q": {"const": "bad"}}},
        "then": {"properties": {"v": {"type": "null", "description": "a reading of quality bad has no value"}}},
    },
    {
        "if": {"properties": {"v": {"type": "null"}}, "required": ["v"]},
        "then": {"properties": {"q": {"enum": ["uncertain", "bad"], "description": "a null value is never good"}}},
    },
]
_UNIT_WORDS = {"%": "pct", "°": "deg", "/": "_per_", "µ": "u", "²": "2", "³": "3"}


def _entry_name(kind: EntityKind) -> str:
    """A readable $defs name shared by every key with the same type, unit and states."""
    parts: list[str] = [kind.type]
    if kind.unit:
        parts.append("".join(_UNIT_WORDS.get(c, c) for c in kind.unit))
    parts.extend(kind.states)
    return re.sub(r"[^A-Za-z0-9_]", "_", "reading_" + "_".join(parts))


def _shared_entries(classes: dict[str, DeviceClass]) -> tuple[dict[str, Schema], dict[tuple[str, str], str]]:
    """One reading-entry schema per (type, unit, states), and (class, key) -> its $defs name."""
    defs: dict[str, Schema] = {"quality_rules": {"allOf": QUALITY_RULES}}
    names: dict[tuple[str, str], str] = {}
    for class_name, dc in classes.items():
        for key, kind in dc.entities.items():
            name = _entry_name(kind)
            entry = reading_entry_schema(kind)
            entry["allOf"] = [{"$ref": "#/$defs/quality_rules"}]
            if defs.setdefault(name, entry) != entry:
                raise ValueError(f"two reading schemas named {name}")
            names[(class_name, key)] = name
    return defs, names


def _instance_pattern(key: str) -> str:
    """Keys with an instance suffix, ``<key>.<instance>`` (see vocabulary.split_key)."""
    return "^" + re.escape(key) + r"\.[A-Za-z0-9_-]{1,64}$"


def _per_class(field: str, defs_prefix: str, classes: dict[str, DeviceClass]) -> list[Schema]:
    """``if device_class == c then <field> follows $defs/<prefix>_<c>`` for every class."""
    return [
        {
            "if": {"properties": {"device_class": {"const": name}}, "required": ["device_class"]},
            "then": {"properties": {field: {"$ref": f"#/$defs/{defs_prefix}_{name}"}}},
        }
        for name in classes
    ]


def telemetry_schema() -> Schema:
    classes = vocabulary()
    body = _obj(
        {
            "schema_version": VERSION,
            "ts": {**TS, "description": "measurement time of the earliest reading in the message"},
            "site": TEXT,
            "room": TEXT,
            "gateway": ID,
            "device": ID,
            "device_class": {"enum": list(classes)},
            "readings": {"type": "object", "minProperties": 1, "description": "entity key -> reading"},
        },
        allOf=_per_class("readings", "readings", classes),
    )
    entries, entry_of = _shared_entries(classes)
    body["$defs"] = {
        **{
            f"readings_{name}": {
                "type": "object",
                "properties": {key: {"$ref": f"#/$defs/{entry_of[(name, key)]}"} for key in dc.entities},
                "patternProperties": {
                    _instance_pattern(key): {"$ref": f"#/$defs/{entry_of[(name, key)]}"} for key in dc.entities
                },
                "additionalProperties": False,
            }
            for name, dc in classes.items()
        },
        **entries,
    }
    return _doc("telemetry", "Telemetry: measurements of one device", body)


def state_schema() -> Schema:
    classes = vocabulary()
    body = _obj(
        {
            "schema_version": VERSION,
            "ts": {**TS, "description": "measurement time of the newest value"},
            "device": ID,
            "values": {"type": "object", "description": "entity key -> latest value (null: not available)"},
            "quality": {
                "type": "object",
                "additionalProperties": {"enum": ["uncertain", "bad"]},
                "description": "entity key -> quality, only for values that are not good",
            },
        },
        {"device_class": {"enum": list(classes), "description": "lets a consumer check keys per class"}},
        allOf=_per_class("values", "values", classes),
    )
    body["$defs"] = {
        f"values_{name}": {
            "type": "object",
            "properties": {key: value_schema(kind) for key, kind in dc.entities.items()},
            "patternProperties": {_instance_pattern(key): value_schema(kind) for key, kind in dc.entities.items()},
            "additionalProperties": False,
        }
        for name, dc in classes.items()
    }
    return _doc("state", "Retained state: latest value of every entity", body)


def availability_schema() -> Schema:
    return _doc(
        "availability",
        "Device availability",
        _obj(
            {"schema_version": VERSION, "state": {"enum": ["online", "offline"]}, "ts": TS},
            {"reason": {**TEXT, "description": "why offline: timeout, refused, exception, ..."}},
        ),
    )


def events_schema() -> Schema:
    classes = vocabulary()
    body = _obj(
        {
            "schema_version": VERSION,
            "ts": {**TS, "description": "when it happened at the device"},
            "site": TEXT,
            "room": TEXT,
            "gateway": ID,
            "device": ID,
            "device_class": {"enum": list(classes)},
            "event": {"type": "string", "description": "an event word of the device class"},
            "severity": {"enum": list(SEVERITIES)},
            "data": {"type": "object", "description": "details of the event; card numbers never in clear"},
        },
        allOf=_per_class("event", "events", classes),
    )
    body["$defs"] = {
        f"events_{name}": {"enum": list(dc.events), "description": f"event words of {name}"}
        for name, dc in classes.items()
    }
    return _doc("events", "Device event", body)


def alarm_schema() -> Schema:
    return _obj(
        {
            "id": {**TEXT, "description": "alarm id, stable while the alarm lives"},
            "rule": {**TEXT, "description": "the rule that raised it"},
            "level": {"enum": list(FAULT_LEVELS), "description": "fault level of the maintenance contract"},
            "state": {"enum": list(ALARM_STATES)},
            "raised": {**TS, "description": "when the alarm was raised"},
            "message": TEXT,
        },
        {
            "entity": {"type": "string", "description": "entity key the alarm is about"},
            "value": SCALAR,
            "acknowledged": {**TS, "description": "when it was acknowledged"},
            "cleared": {**TS, "description": "when its condition cleared"},
        },
    )


def alarms_schema() -> Schema:
    return _doc(
        "alarms",
        "Active alarms of a device",
        _obj(
            {"schema_version": VERSION, "ts": TS, "device": ID, "alarms": {"type": "array", "items": alarm_schema()}},
            {
                "collector": {
                    "type": "string",
                    "pattern": COLLECTOR_ID_PATTERN,
                    "description": "collector_id of the collector whose alarm book published this list",
                }
            },
        ),
    )


def device_info_schema() -> Schema:
    return _doc(
        "device_info",
        "Device identity and inventory",
        _obj(
            {
                "schema_version": VERSION,
                "device": ID,
                "name": NAME,
                "device_class": {"enum": list(vocabulary())},
                "driver": TEXT,
                "profile": {"type": ["string", "null"]},
                "identity": {
                    "type": "object",
                    "additionalProperties": SCALAR,
                    "description": "manufacturer, model, serial, firmware, ... as the device reports them",
                },
            }
        ),
    )


def bridge_state_schema() -> Schema:
    return _doc(
        "bridge_state",
        "Gateway online/offline (offline is the last will)",
        _obj({"schema_version": VERSION, "state": {"enum": ["online", "offline"]}}, {"ts": TS, "reason": TEXT}),
    )


def _device_entry(extra: dict[str, Schema] | None = None) -> Schema:
    return _obj(
        {
            "id": ID,
            "name": NAME,
            "driver": TEXT,
            "profile": {"type": ["string", "null"]},
            "device_class": {"enum": list(vocabulary())},
            **(extra or {}),
        }
    )


def bridge_info_schema() -> Schema:
    return _doc(
        "bridge_info",
        "Gateway information",
        _obj(
            {
                "schema_version": VERSION,
                "version": TEXT,
                "gateway": ID,
                "site": TEXT,
                "room": TEXT,
                "config_digest": TEXT,
                "started": TS,
                "devices": {"type": "array", "items": _device_entry()},
            }
        ),
    )


def bridge_health_schema() -> Schema:
    device = _obj(
        {
            "polls": COUNT,
            "failures": COUNT,
            "success_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "last_poll_ms": {"type": "number", "minimum": 0, "description": "duration of the last poll"},
            "online": {"type": ["boolean", "null"], "description": "null until the first poll"},
        }
    )
    return _doc(
        "bridge_health",
        "Gateway health",
        _obj(
            {
                "schema_version": VERSION,
                "ts": TS,
                "uptime_s": {"type": "number", "minimum": 0},
                "rss_bytes": COUNT,
                "queue_depth": {**COUNT, "description": "messages waiting in the on-disk queue"},
                "queue_dropped": {
                    "type": "object",
                    "additionalProperties": COUNT,
                    "description": "messages dropped because a queue bound was hit, by reason"
                    " (dropped_history, dropped_events, dropped_age)",
                },
                "devices": {"type": "object", "additionalProperties": device},
            }
        ),
    )


def _request_params(command: str) -> dict[str, Schema]:
    if command == "poll_now":
        return {"device": {**ID, "description": "the device to poll; every polled device when absent"}}
    return {}


def _response_data(command: str) -> Schema:
    digest = {**TEXT, "description": "digest of the config now running"}
    ids = {"type": "array", "items": ID}
    if command == "poll_now":
        polled = _obj({"readings": COUNT, "online": {"type": ["boolean", "null"]}})
        return _obj({"devices": {"type": "object", "additionalProperties": polled, "description": "by device id"}})
    if command == "reload_config":
        return _obj(
            {"config_digest": digest, "added": ids, "removed": ids, "changed": ids},
            {"restart_needed": {"type": "array", "items": TEXT, "description": "settings that apply after a restart"}},
        )
    if command == "get_config":
        return _obj(
            {"config_digest": digest, "file": TEXT, "config": {"type": "object", "description": "secrets redacted"}}
        )
    if command == "list_devices":
        extra: dict[str, Schema] = {
            "online": {"type": ["boolean", "null"]},
            "reason": {"type": ["string", "null"], "description": "why the device is offline"},
            "entities": {"type": "array", "items": TEXT},
        }
        return _obj({"devices": {"type": "array", "items": _device_entry(extra)}})
    raise KeyError(command)


def request_schema(command: str) -> Schema:
    return _doc(
        f"bridge_request_{command}",
        f"Request: {command}",
        _obj(
            {"transaction": {**TRANSACTION, "description": "chosen by the caller, echoed in the response"}},
            {"schema_version": VERSION, **_request_params(command)},
        ),
    )


def response_schema(command: str) -> Schema:
    body = _obj(
        {
            "schema_version": VERSION,
            "transaction": {
                **TRANSACTION,
                "type": ["string", "integer", "null"],
                "description": "the request's; null if unreadable",
            },
            "status": {"enum": ["ok", "error"]},
        },
        {"data": _response_data(command), "error": {**TEXT, "description": "what went wrong"}},
        allOf=[
            {
                "if": {"properties": {"status": {"const": "ok"}}},
                "then": {"required": ["data"]},
                "else": {"required": ["error"]},
            }
        ],
    )
    return _doc(f"bridge_response_{command}", f"Response: {command}", body)


@cache
def schemas() -> dict[str, Schema]:
    """Every payload schema by name (the names the topic table uses)."""
    named: dict[str, Schema] = {
        "bridge_state": bridge_state_schema(),
        "bridge_info": bridge_info_schema(),
        "bridge_health": bridge_health_schema(),
        "telemetry": telemetry_schema(),
        "state": state_schema(),
        "availability": availability_schema(),
        "events": events_schema(),
        "alarms": alarms_schema(),
        "device_info": device_info_schema(),
    }
    for command in COMMANDS:
        named[f"bridge_request_{command}"] = request_schema(command)
        named[f"bridge_response_{command}"] = response_schema(command)
    return named

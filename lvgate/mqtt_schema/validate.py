"""Check one MQTT message against the contract: which schema its topic calls for, and every problem.

Validators are built once per schema (the vocabulary-derived schemas are large), so checking a
message costs one JSON parse and one walk of the payload. Each problem names the JSON path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from lvgate.mqtt_schema.catalog import BRIDGE_LEAVES, COMMANDS, DEVICE_LEAVES
from lvgate.mqtt_schema.schemas import schemas
from lvgate.mqtt_schema.topics import sanitize_segment
from lvgate.mqtt_schema.vocabulary import vocabulary
from lvgate.spelling import did_you_mean


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """What a topic under the base is: its schema, and the ids its levels carry."""

    schema: str
    gateway: str
    device: str | None
    retained: bool


def match_topic(base: str, topic: str) -> TopicMatch | None:
    prefix = base.rstrip("/") + "/"
    if not topic.startswith(prefix):
        return None
    parts = topic[len(prefix) :].split("/")
    if len(parts) < 3:
        return None
    gateway = parts[0]
    if parts[1] == "bridge":
        if len(parts) == 3 and parts[2] in BRIDGE_LEAVES:
            spec = BRIDGE_LEAVES[parts[2]]
            return TopicMatch(spec.schema, gateway, None, spec.retained)
        if len(parts) == 4 and parts[2] in ("request", "response") and parts[3] in COMMANDS:
            return TopicMatch(f"bridge_{parts[2]}_{parts[3]}", gateway, None, False)
        return None
    if len(parts) == 3 and parts[2] in DEVICE_LEAVES:
        spec = DEVICE_LEAVES[parts[2]]
        return TopicMatch(spec.schema, gateway, parts[1], spec.retained)
    return None


def schema_for_topic(base: str, topic: str) -> str | None:
    """The name of the schema a message on ``topic`` must follow, or None if not an lvgate topic."""
    match = match_topic(base, topic)
    return match.schema if match else None


@cache
def validator(name: str) -> Draft202012Validator:
    schema = schemas()[name]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _unknown_keys(error: ValidationError) -> str | None:
    """A readable message for keys a closed object does not allow (jsonschema lists every regex)."""
    schema, instance = error.schema, error.instance
    if error.validator != "additionalProperties" or not isinstance(schema, dict) or not isinstance(instance, dict):
        return None
    known = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    extras = [k for k in instance if k not in known and not any(p.search(k) for p in patterns)]
    if not extras:
        return None
    hints = "".join(did_you_mean(k, known) for k in extras[:1])
    return f"{error.json_path}: unknown key(s) {', '.join(repr(k) for k in extras)}{hints}"


def _describe(error: ValidationError) -> str:
    unknown = _unknown_keys(error)
    if unknown:
        return unknown
    text = f"{error.json_path}: {error.message}"
    why = error.schema.get("description") if isinstance(error.schema, dict) else None
    return f"{text} ({why})" if why else text


@cache
def _class_validator(name: str, device_class: str) -> Draft202012Validator | None:
    """The schema with its ``if device_class == ...`` branches resolved for one class.

    Same subschemas, so the same verdicts and messages, without evaluating every class's ``if``.
    """
    schema = schemas()[name]
    branches = schema.get("allOf", [])
    chosen = [
        b["then"]
        for b in branches
        if b.get("if", {}).get("properties", {}).get("device_class") == {"const": device_class}
    ]
    if len(chosen) != 1 or len(branches) != len(vocabulary()):
        return None
    (field, ref), *_ = chosen[0]["properties"].items()
    properties = {**schema["properties"], field: {**schema["properties"][field], **ref}}
    return Draft202012Validator({**{k: v for k, v in schema.items() if k != "allOf"}, "properties": properties})


def validate_document(name: str, document: Any) -> list[str]:
    """Every way ``document`` breaks schema ``name``; empty when it follows it."""
    checker = validator(name)
    device_class = document.get("device_class") if isinstance(document, dict) else None
    if isinstance(device_class, str) and device_class in vocabulary():
        checker = _class_validator(name, device_class) or checker
    errors = sorted(checker.iter_errors(document), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [_describe(e) for e in errors]


def _unknown_topic(base: str, topic: str) -> str:
    prefix = base.rstrip("/") + "/"
    parts = topic[len(prefix) :].split("/") if topic.startswith(prefix) else []
    if len(parts) == 4 and parts[1] == "bridge" and parts[2] in ("request", "response"):
        return f"topic '{topic}': unknown command '{parts[3]}'{did_you_mean(parts[3], COMMANDS)}"
    if len(parts) == 3 and parts[1] != "bridge":
        return f"topic '{topic}': unknown device topic '{parts[2]}'{did_you_mean(parts[2], DEVICE_LEAVES)}"
    if len(parts) == 3:
        return f"topic '{topic}': unknown bridge topic '{parts[2]}'{did_you_mean(parts[2], BRIDGE_LEAVES)}"
    return f"topic '{topic}' is not an lvgate topic under base '{base}'"


def validate_message(base: str, topic: str, payload: bytes) -> list[str]:
    """Every problem of one message as published; empty when it follows the contract.

    An empty payload on a retained topic is valid: it is how a retained message is cleared.
    """
    match = match_topic(base, topic)
    if match is None:
        return [_unknown_topic(base, topic)]
    if not payload:
        return [] if match.retained else [f"topic '{topic}': empty payload ({match.schema} is not retained)"]
    try:
        document = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return [f"$: payload is not UTF-8 (byte {exc.start})"]
    except json.JSONDecodeError as exc:
        return [f"$: payload is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
    problems = validate_document(match.schema, document)
    problems.extend(topic_consistency(match, document))
    return problems


def topic_consistency(match: TopicMatch, document: Any) -> list[str]:
    """The ids in the payload must be the ones the topic was built from."""
    if not isinstance(document, dict):
        return []
    problems = []
    for field, segment in (("device", match.device), ("gateway", match.gateway)):
        value = document.get(field)
        if segment is not None and isinstance(value, str) and sanitize_segment(value) != segment:
            problems.append(f"$.{field}: '{value}' is not the topic's {field} '{segment}'")
    return problems

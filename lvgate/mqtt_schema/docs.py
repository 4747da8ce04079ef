"""Generate ``docs/mqtt.md`` (and ``docs/schemas/*.schema.json``) from the contract itself.

Everything in the document comes from code and data: the topic table (``catalog.py``), the
vocabulary (``vocabulary.yaml``), the JSON Schemas (``schemas.py``), the examples
(``examples.py``) and the Home Assistant discovery builders. A test keeps the committed files
equal to what this module generates; regenerate with ``lvgate mqtt-schema docs --write-to docs``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lvgate.mqtt_schema import discovery, examples
from lvgate.mqtt_schema.catalog import COMMANDS, REQUEST, RESPONSE, TopicSpec, all_topics
from lvgate.mqtt_schema.schemas import QUALITIES, Schema, schemas
from lvgate.mqtt_schema.topics import SCHEMA_VERSION
from lvgate.mqtt_schema.vocabulary import EntityKind, vocabulary

DOC_SW_VERSION = "X.Y.Z"  # the docs must not change with every release


def _json(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2)


def _type_of(schema: Schema) -> str:
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{json.dumps(v, ensure_ascii=False)}`" for v in schema["enum"])
    kind = schema.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    text = " or ".join(kinds)
    if "pattern" in schema and schema.get("format") == "date-time":
        text = "time (ISO 8601 UTC, ms, Z)"
    if kind == "array" and isinstance(schema.get("items"), dict):
        text = f"array of {_type_of(schema['items'])}"
    return text


def _nested(sub: Schema) -> Schema | None:
    """The object schema inside an array or a map, to document it in its own table."""
    for inner in (sub.get("items"), sub.get("additionalProperties")):
        if isinstance(inner, dict) and "properties" in inner:
            return inner
    return None


def _field_table(schema: Schema, prefix: str = "") -> list[str]:
    rows = [] if prefix else ["| field | type | required | meaning |", "|---|---|---|---|"]
    required = set(schema.get("required", []))
    nested: list[tuple[str, Schema]] = []
    for name, sub in schema.get("properties", {}).items():
        meaning = sub.get("description", "")
        rows.append(f"| `{prefix}{name}` | {_type_of(sub)} | {'yes' if name in required else 'no'} | {meaning} |")
        inner = _nested(sub)
        if inner is not None:
            nested.append((f"{prefix}{name}{'[]' if 'items' in sub else '.*'}.", inner))
    for sub_prefix, inner in nested:
        rows += _field_table(inner, sub_prefix)
    return rows


def _reading_table() -> list[str]:
    return [
        "Each reading (`readings.<key>`), with the value type and unit of its key in the vocabulary:",
        "",
        "| field | type | required | meaning |",
        "|---|---|---|---|",
        "| `v` | per the vocabulary (number, integer, boolean or one of the states), or null | yes | the value |",
        "| `q` | one of " + ", ".join(f"`{q}`" for q in QUALITIES) + " | yes | quality |",
        "| `u` | the key's unit | no | present when the key has a unit |",
        "| `ts` | time (ISO 8601 UTC, ms, Z) | no | when measured, if not the message's `ts` |",
        "",
    ]


def _topic_section(spec: TopicSpec, schema_name: str, example: tuple[str, dict[str, Any]], title: str) -> list[str]:
    schema = schemas()[schema_name]
    topic, payload = example
    return [
        f"### {title}",
        "",
        f"{spec.summary} Retained: {'yes' if spec.retained else 'no'}; QoS {spec.qos}; "
        f"published by the {spec.publisher}. Schema: [`{schema_name}`](schemas/{schema_name}.schema.json).",
        "",
        *_field_table(schema),
        "",
        *(_reading_table() if schema_name == "telemetry" else []),
        f"Example on `{topic}`:",
        "",
        "```json",
        _json(payload),
        "```",
        "",
    ]


def _conventions() -> list[str]:
    return [
        "## Conventions",
        "",
        "- Topics start with the configurable base (default `lvgate`) and the gateway id: "
        "`{base}/{gateway}/...`. The `{gateway}` and `{device}` levels are ids from the config, "
        "sanitised so that they can never hold `+`, `#`, `/`, NUL or control characters (nor start "
        "with `$`). Display names, which may be any Unicode, travel only in payloads.",
        "- Every payload is a UTF-8 JSON object with `schema_version` "
        f"{SCHEMA_VERSION}. Unknown fields are refused by the schemas, except inside free-form maps "
        "(identity, event data, config).",
        "- Times (`ts`, `raised`, `started`, ...) are UTC in ISO 8601 with milliseconds and `Z`, "
        "e.g. `2026-03-01T08:15:00.250Z`: readable in any MQTT tool, sortable as text. A reading is "
        "stamped with the time it was **measured**, never the time it was sent; a reading measured "
        "at another moment than its message's `ts` carries its own `ts`.",
        "- Quality `q` is one of " + ", ".join(f"`{q}`" for q in QUALITIES) + ". A `bad` reading has "
        "the value `null`; a `null` value is never `good`.",
        "- Entity keys are vocabulary keys of the device's class (below). A device with several "
        "sensors of one kind adds an instance: `temperature.1010` has the type and unit of "
        "`temperature`; the instance holds only `[A-Za-z0-9_-]` (1 to 64 characters).",
        "- Everything is published with QoS 1 except the device `state` snapshot: QoS 0, retained (the "
        "next poll replaces it and it is sent again after every reconnect; the readings themselves "
        "travel on `telemetry`). Telemetry and events go through the gateway's "
        "on-disk queue: after an outage they arrive late, in order, once, with their original times.",
        "- An empty payload on a retained topic clears it (a removed device).",
        "- Check a message: `lvgate mqtt-schema validate TOPIC PAYLOAD` (exit 0 when valid). The "
        "JSON Schemas (draft 2020-12) are in [`schemas/`](schemas/).",
        "",
    ]


def _topic_table() -> list[str]:
    rows = [
        "## Topics",
        "",
        "| topic | retained | QoS | published by | schema | what |",
        "|---|---|---|---|---|---|",
    ]
    for spec in all_topics():
        rows.append(
            f"| `{{base}}/{{gateway}}/{spec.pattern}` | {'yes' if spec.retained else 'no'} | {spec.qos} | "
            f"{spec.publisher} | `{spec.schema}` | {spec.summary} |"
        )
    rows += ["", "Commands (`{command}`):", ""]
    rows += [f"- `{name}`: {text}." for name, text in COMMANDS.items()]
    rows.append("")
    return rows


def _entity_row(key: str, kind: EntityKind) -> str:
    states = ", ".join(f"`{s}`" for s in kind.states)
    ha = ", ".join(f"{k}: `{v}`" for k, v in kind.ha.items())
    return f"| `{key}` | {kind.type} | {kind.unit or ''} | {states} | {ha} |"


def _vocabulary() -> list[str]:
    lines = [
        "## Vocabulary",
        "",
        "The same physical quantity has the same key, unit and status words whatever the vendor "
        "or protocol of the device. Units are SI and written once, here.",
        "",
    ]
    for name, dc in vocabulary().items():
        lines += [
            f"### `{name}`: {dc.title}",
            "",
            "| key | type | unit | states | Home Assistant |",
            "|---|---|---|---|---|",
            *(_entity_row(key, kind) for key, kind in dc.entities.items()),
            "",
            "Events: " + (", ".join(f"`{e}`" for e in dc.events) if dc.events else "none") + ".",
            "",
        ]
    return lines


def _discovery() -> list[str]:
    keys = list(vocabulary()["env_sensor"].entities)[:3]
    topic, payload = discovery.device_config(
        gateway_id=examples.GATEWAY,
        base_topic=examples.BASE,
        device_id="th-1",
        display_name="温湿度 B1 / rack #3",
        device_class="env_sensor",
        entity_keys=keys,
        identity={"manufacturer": "Renke", "model": "RS-WS-N01-8"},
        sw_version=DOC_SW_VERSION,
    )
    gw_topic, gw_payload = discovery.gateway_config(
        gateway_id=examples.GATEWAY, base_topic=examples.BASE, room=examples.ROOM, sw_version=DOC_SW_VERSION
    )
    clear_topic, _ = discovery.clear_device(examples.GATEWAY, "th-1")
    return [
        "## Home Assistant discovery",
        "",
        "Each gateway publishes, retained, one device-based discovery config per device on "
        "`homeassistant/device/<node_id>/config` and one for itself. The node id holds only "
        "`[A-Za-z0-9_-]` (an id that had to be altered gets a short hash of the original). Entities "
        "read the device's retained `state` topic; `unique_id` is `lvgate:<gateway>:<device>:<key>`, "
        "never derived from a display name. An entity is available when both the gateway "
        "(`bridge/state`) and the device (`availability`) are online (`availability_mode: all`). "
        "Booleans are binary sensors (`ON`/`OFF`); enum keys are `enum` sensors with their states as "
        "options. Discovery, availability and states are sent again after every reconnect and when "
        "Home Assistant publishes `online` on `homeassistant/status`. A removed device's config is "
        f"cleared with an empty retained payload (e.g. on `{clear_topic}`).",
        "",
        f"A room sensor, on `{topic}` (three of its entities shown):",
        "",
        "```json",
        _json(payload),
        "```",
        "",
        f"The gateway itself, on `{gw_topic}`:",
        "",
        "```json",
        _json(gw_payload),
        "```",
        "",
    ]


def render_markdown() -> str:
    """The whole of ``docs/mqtt.md``."""
    found = examples.examples()
    lines = [
        "# lvgate MQTT contract",
        "",
        "<!-- Generated by `lvgate mqtt-schema docs` from lvgate/mqtt_schema (topic table, "
        "vocabulary.yaml, JSON Schemas). Do not edit by hand: a test compares this file with the "
        "generated text. -->",
        "",
        "What every lvgate gateway publishes and answers, for the collector, dashboards, Home "
        "Assistant, Node-RED, a BMS or scripts.",
        "",
        *_conventions(),
        *_topic_table(),
        "## Payloads",
        "",
    ]
    for spec in all_topics():
        if spec in (REQUEST, RESPONSE):
            for command in COMMANDS:
                name = spec.schema.format(command=command)
                title = f"`{{base}}/{{gateway}}/{spec.pattern.format(command=command)}`"
                lines += _topic_section(spec, name, found[name], title)
            continue
        lines += _topic_section(spec, spec.schema, found[spec.schema], f"`{{base}}/{{gateway}}/{spec.pattern}`")
    error = examples.error_response()
    lines += ["A command that failed is answered with `status: error`:", "", "```json", _json(error), "```", ""]
    lines += [*_vocabulary(), *_discovery()]
    return "\n".join(lines).rstrip("\n") + "\n"


def schema_files() -> dict[str, str]:
    """File name -> text of every JSON Schema, as written under ``docs/schemas/``."""
    return {f"{name}.schema.json": _json(schema) + "\n" for name, schema in schemas().items()}


def write_docs(directory: Path) -> list[Path]:
    """Write ``mqtt.md`` and ``schemas/*.schema.json`` into ``directory``; stale schema files go."""
    written = [directory / "mqtt.md"]
    directory.mkdir(parents=True, exist_ok=True)
    written[0].write_text(render_markdown(), encoding="utf-8")
    schema_dir = directory / "schemas"
    schema_dir.mkdir(exist_ok=True)
    files = schema_files()
    for stale in schema_dir.glob("*.schema.json"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        path = schema_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written

"""ONVIF events: notification messages -> normalised camera events, as profile data.

Both PullMessages replies and the metadata stream of Axis cameras carry wsnt:NotificationMessage
elements; they are decoded the same way. The topic map is YAML (edge_config/profiles/onvif).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Literal
from xml.etree.ElementTree import Element

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from lvgate.drivers.base import ProfileError
from lvgate.drivers.onvif.safexml import NS
from lvgate.paths import profile_dir

Severity = Literal["info", "warning", "critical"]


class TopicRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str
    event: Literal["motion", "tamper", "video_loss", "digital_input", "storage_failure", "unknown"]
    state: str | None = None
    severity: Severity = "info"


class EventMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    namespaces: dict[str, str]
    rules: list[TopicRule]
    active_values: list[str]


@cache
def load_event_map(path: Path | None = None) -> EventMap:
    path = path or profile_dir("onvif") / "events.yaml"
    try:
        return EventMap.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ProfileError(f"{path}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Notification:
    """One decoded notification: the raw topic, its canonical form and its items."""

    topic: str
    canonical: str
    utc_time: str | None
    operation: str | None
    source: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NormalisedEvent:
    kind: str
    active: bool | None
    severity: Severity
    topic: str
    utc_time: str | None
    operation: str | None
    source: dict[str, str]
    data: dict[str, str]

    def payload(self) -> dict[str, object]:
        return {
            "active": self.active,
            "topic": self.topic,
            "camera_time": self.utc_time,
            "operation": self.operation,
            "source": self.source,
            "data": self.data,
        }


def canonical_topic(raw: str, prefixes: dict[str, str], event_map: EventMap) -> str:
    """Rewrite each ``prefix:Name`` segment with the profile's prefix for the same namespace."""
    by_uri = {uri: prefix for prefix, uri in event_map.namespaces.items()}
    segments = []
    for segment in raw.strip().split("/"):
        prefix, sep, name = segment.rpartition(":")
        if sep and prefix in prefixes and prefixes[prefix] in by_uri:
            segment = f"{by_uri[prefixes[prefix]]}:{name}"
        segments.append(segment)
    return "/".join(segments)


def _items(message: Element | None, part: str) -> dict[str, str]:
    if message is None:
        return {}
    return {
        item.get("Name", ""): item.get("Value", "")
        for item in message.findall(f"tt:{part}/tt:SimpleItem", NS)
        if item.get("Name")
    }


def parse_notifications(root: Element, prefixes: dict[str, str], event_map: EventMap) -> list[Notification]:
    found = []
    for note in root.iter(f"{{{NS['wsnt']}}}NotificationMessage"):
        topic_el = note.find("wsnt:Topic", NS)
        raw = " ".join((topic_el.text or "").split()) if topic_el is not None else ""
        message = note.find("wsnt:Message/tt:Message", NS)
        found.append(
            Notification(
                topic=raw,
                canonical=canonical_topic(raw, prefixes, event_map),
                utc_time=message.get("UtcTime") if message is not None else None,
                operation=message.get("PropertyOperation") if message is not None else None,
                source=_items(message, "Source"),
                data=_items(message, "Data"),
            )
        )
    return found


def normalise(note: Notification, event_map: EventMap) -> NormalisedEvent:
    active_values = {v.lower() for v in event_map.active_values}
    for rule in event_map.rules:
        if fnmatch.fnmatchcase(note.canonical, rule.topic):
            active: bool | None = None
            if rule.state is not None and rule.state in note.data:
                active = note.data[rule.state].strip().lower() in active_values
            return NormalisedEvent(
                rule.event, active, rule.severity, note.topic, note.utc_time, note.operation, note.source, note.data
            )
    return NormalisedEvent("unknown", None, "info", note.topic, note.utc_time, note.operation, note.source, note.data)


def parse_time(value: str | None) -> float | None:
    """xs:dateTime (as cameras write it) -> POSIX seconds; None when absent or garbled."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None

"""The topic tree every consumer relies on.

    {base}/{gateway}/bridge/state          retained  gateway online/offline (last will)
    {base}/{gateway}/bridge/info           retained  version, config digest, devices
    {base}/{gateway}/bridge/health                   uptime, memory, per-device poll stats, queue
    {base}/{gateway}/bridge/request/{cmd}            commands, answered on bridge/response/{cmd}
    {base}/{gateway}/{device}/telemetry              every measurement, QoS 1, replayed after outages
    {base}/{gateway}/{device}/state        retained  latest value of every entity
    {base}/{gateway}/{device}/availability retained  online/offline with the reason
    {base}/{gateway}/{device}/events                 events (not retained)
    {base}/{gateway}/{device}/alarms       retained  active alarms
    {base}/{gateway}/{device}/info         retained  identity and inventory

Segments built from ids are sanitised; display names travel in payloads, never in topics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCHEMA_VERSION = 1
# MQTT wildcards, the level separator, NUL and control characters can never be in a segment.
_UNSAFE = re.compile(r"[+#/\x00-\x1f\x7f]")


def sanitize_segment(text: str) -> str:
    """A topic level that cannot break the tree: wildcards, '/', NUL and controls become '_'."""
    cleaned = _UNSAFE.sub("_", text.strip())
    if not cleaned or cleaned.startswith("$"):
        cleaned = "_" + cleaned
    return cleaned


@dataclass(frozen=True, slots=True)
class Topics:
    base: str
    gateway: str

    @property
    def root(self) -> str:
        return f"{self.base}/{sanitize_segment(self.gateway)}"

    def bridge(self, leaf: str) -> str:
        return f"{self.root}/bridge/{leaf}"

    def device(self, device_id: str, leaf: str) -> str:
        return f"{self.root}/{sanitize_segment(device_id)}/{leaf}"


def parse_device_topic(base: str, topic: str) -> tuple[str, str, str] | None:
    """(gateway, device, leaf) of a device topic under ``base``, or None."""
    prefix = base + "/"
    if not topic.startswith(prefix):
        return None
    parts = topic[len(prefix) :].split("/")
    if len(parts) != 3 or parts[1] == "bridge":
        return None
    return parts[0], parts[1], parts[2]

"""A simulated equipment room for the maintenance tests: real MQTT-shaped payloads through the
collector's own ingest (schema-validated) into a real alarm book, at times the test chooses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lvgate.collector.alarms.book import AlarmBook
from lvgate.collector.alarms.rules import load_rules
from lvgate.collector.central import CentralDb
from lvgate.collector.ingest import Ingest
from lvgate.diskqueue import Priority, QueuedMessage
from lvgate.mqtt_schema.payloads import dumps, iso_ms
from lvgate.mqtt_schema.topics import SCHEMA_VERSION
from lvgate.paths import data_dir

BASE = "lvgate"
SITE, ROOM, GW = "hq", "B1", "gw-b1"
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR

RULES = """
rules:
  - {id: water_leak, kind: state, device_class: leak_sensor, entity: leak, values: [true], level: I, message: leak}
  - {id: ups_on_battery, kind: state, device_class: ups, entity: on_battery, values: [true], level: II,
     message: UPS on battery}
  - {id: humidity_high, kind: threshold, device_class: env_sensor, entity: humidity, above: 80, level: III,
     message: humidity above 80 % RH}
  - {id: device_offline, kind: offline, level: II, message: device offline}
"""


class Room:
    def __init__(self, tmp: Path) -> None:
        rules_file = tmp / "rules.yaml"
        rules_file.write_text(RULES, encoding="utf-8")
        self.central = CentralDb(tmp / "central.sqlite")
        self.book = AlarmBook(self.central, load_rules([rules_file, data_dir() / "rules" / "maintenance.yaml"]))
        self.ingest = Ingest(self.central, self.book, base=BASE, collector_id="test", validation="schema",
                             max_bytes=1_000_000)  # fmt: skip
        self._id = 0
        self.classes: dict[str, str] = {}
        self.names: dict[str, str] = {}

    def _feed(self, topic: str, body: dict[str, Any], now_ms: int) -> None:
        self._id += 1
        message = QueuedMessage(self._id, topic, dumps(body), Priority.EVENT, now_ms)
        result = self.ingest.handle([message], now_ms)
        assert result.rejected == 0, f"{topic}: rejected (see the dead letters)"

    def info(self, device: str, device_class: str, identity: dict[str, Any], now_ms: int, name: str = "") -> None:
        self.classes[device] = device_class
        self.names[device] = name or device
        body = {"schema_version": SCHEMA_VERSION, "device": device, "name": name or device,
                "device_class": device_class, "driver": "test", "profile": None, "identity": identity}  # fmt: skip
        self._feed(f"{BASE}/{GW}/{device}/info", body, now_ms)

    def bridge(self, now_ms: int) -> None:
        devices = [{"id": d, "name": self.names[d], "driver": "test", "profile": None, "device_class": c}
                   for d, c in self.classes.items()]  # fmt: skip
        body = {"schema_version": SCHEMA_VERSION, "version": "0.1.0", "gateway": GW, "site": SITE, "room": ROOM,
                "config_digest": "sha256:0", "started": iso_ms(now_ms), "devices": devices}  # fmt: skip
        self._feed(f"{BASE}/{GW}/bridge/info", body, now_ms)

    def telemetry(self, device: str, ts_ms: int, readings: dict[str, Any]) -> None:
        body = {
            "schema_version": SCHEMA_VERSION, "ts": iso_ms(ts_ms), "site": SITE, "room": ROOM, "gateway": GW,
            "device": device, "device_class": self.classes[device],
            "readings": {k: {"v": v, "q": "good"} for k, v in readings.items()},
        }  # fmt: skip
        self._feed(f"{BASE}/{GW}/{device}/telemetry", body, ts_ms)

    def latest(self, device: str, ts_ms: int, readings: dict[str, Any]) -> None:
        """Readings written into the collector's latest-state table as its ingest does. For instance keys
        (psu_status.7402), which lvgate.collector.points refuses today although the vocabulary allows them."""
        with self.central.transaction() as db:
            for key, value in readings.items():
                db.execute("INSERT OR REPLACE INTO latest(gateway, device, entity, ts_ms, value, quality, unit) "
                           "VALUES (?,?,?,?,?,?,?)", (GW, device, key, ts_ms, json.dumps(value), "good", None))  # fmt: skip

    def availability(self, device: str, online: bool, ts_ms: int) -> None:
        state = "online" if online else "offline"
        self._feed(f"{BASE}/{GW}/{device}/availability",
                   {"schema_version": SCHEMA_VERSION, "state": state, "ts": iso_ms(ts_ms)}, ts_ms)  # fmt: skip
        event = {"schema_version": SCHEMA_VERSION, "ts": iso_ms(ts_ms), "site": SITE, "room": ROOM, "gateway": GW,
                 "device": device, "device_class": self.classes[device], "event": f"device_{state}",
                 "severity": "info" if online else "warning", "data": {}}  # fmt: skip
        self._feed(f"{BASE}/{GW}/{device}/events", event, ts_ms)

    def alarm_raised_at(self, device: str, raised_ms: int) -> str:
        rows = [a for a in self.book.query(device=device, limit=1000) if a["raised_ms"] == raised_ms]
        assert len(rows) == 1, f"expected one alarm of {device} raised at {raised_ms}, found {rows}"
        return str(rows[0]["id"])

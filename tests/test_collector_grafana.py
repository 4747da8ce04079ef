"""The shipped Grafana dashboard: every panel's InfluxQL runs on a real InfluxDB 1.x and finds the
points the collector writes (the measurement/tag/field schema of lvgate/collector/README.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from lvgate.collector.influx import InfluxWriter
from lvgate.collector.points import telemetry_points
from tests.collector_peers import iso, telemetry
from tests.services import InfluxDB1

GRAFANA = Path(__file__).parent.parent / "lvgate" / "collector" / "grafana"
T0 = 1_790_000_000_000


async def test_dashboard_queries_find_collector_points(influxdb: InfluxDB1, influxdb_database: str) -> None:
    provisioning = yaml.safe_load((GRAFANA / "provisioning.yaml").read_text(encoding="utf-8"))
    assert provisioning["datasources"][0]["uid"] == "lvgate-influx"
    dashboard = json.loads((GRAFANA / "dashboards" / "lvgate.json").read_text(encoding="utf-8"))
    writer = InfluxWriter(influxdb.url, api="v1", database=influxdb_database)
    try:
        samples: list[tuple[str, str, dict[str, Any]]] = [
            ("env-1", "env_sensor", {"temperature": 24.5, "humidity": 40.0}),
            ("ups-1", "ups", {"load": 30.0, "battery_charge": 100.0, "battery_runtime": 3600.0, "input_voltage": 230.0,
                              "output_voltage": 229.0, "on_battery": False}),
            ("sw-1", "switch", {"psu_status": "normal", "fan_status": "normal"}),
            ("host-1", "host", {"reachable": True, "rtt": 0.4}),
        ]  # fmt: skip
        for device, device_class, readings in samples:
            await writer.write(telemetry_points(json.loads(telemetry(device, device_class, iso(T0), readings))))
    finally:
        await writer.close()
    found = {}
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            query = (
                target["query"]
                .replace("/^$room$/", "/^B1$/")
                .replace("$timeFilter", f"time >= {T0 - 3600_000}ms AND time <= {T0 + 3600_000}ms")
                .replace("$__interval", "1m")
            )
            result = influxdb.query(influxdb_database, query)  # raises on any InfluxQL error
            found[panel["title"]] = bool(result["results"][0].get("series"))
    empty = [title for title, hit in found.items() if not hit]
    # Switch ports have no test data here; everything else must show something.
    assert empty == ["Port traffic in/out", "Port errors"], found

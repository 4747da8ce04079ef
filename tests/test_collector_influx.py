"""Storage against real servers: InfluxDB 1.x (/write) and VictoriaMetrics (/api/v2/write).

Expected values are written out here by hand; the servers' answers are read back over their
own query APIs.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lvgate.collector.influx import InfluxWriter
from lvgate.collector.points import telemetry_points
from tests.collector_peers import (
    Publisher,
    VictoriaMetrics,
    iso,
    running_collector,
    telemetry,
    write_collector_config,
)
from tests.services import InfluxDB1, InfluxDBFactory, MosquittoBroker, find_program, wait_for_async

T0 = 1_790_000_000_000  # 2026-09-21T12:53:20Z
SITE = "总部 HQ, east"  # space, comma and Chinese
ROOM = "机房 B1=core"


def points_of(device: str, device_class: str, ts_ms: int, readings: dict[str, object]) -> list:  # type: ignore[type-arg]
    return telemetry_points(json.loads(telemetry(device, device_class, iso(ts_ms), readings, site=SITE, room=ROOM)))


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    if find_program("victoria-metrics") is None:
        pytest.skip("victoria-metrics not installed (apt-get install victoria-metrics)")
    server = VictoriaMetrics(tmp_path / "vm")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_v1_values_tags_times_and_field_types(influxdb: InfluxDB1, influxdb_database: str) -> None:
    writer = InfluxWriter(influxdb.url, api="v1", database=influxdb_database)
    try:
        await writer.write(points_of("env-1", "env_sensor", T0, {"temperature": 1}))  # an integer in JSON
        await writer.write(points_of("env-1", "env_sensor", T0 + 1000, {"temperature": 1.5, "humidity": 45}))
        await writer.write(points_of("ups-1", "ups", T0, {"on_battery": True, "power_mode": "online"}))
    finally:
        await writer.close()
    rows = influxdb.rows(influxdb_database, "SELECT * FROM env_sensor WHERE entity = 'temperature'", epoch="ms")
    assert [(r["time"], r["value"]) for r in rows] == [(T0, 1.0), (T0 + 1000, 1.5)]
    assert rows[0]["site"] == SITE and rows[0]["room"] == ROOM and rows[0]["unit"] == "°C"
    assert rows[0]["gateway"] == "gw-1" and rows[0]["device"] == "env-1" and rows[0]["device_class"] == "env_sensor"
    fields = influxdb.query(influxdb_database, "SHOW FIELD KEYS FROM env_sensor")["results"][0]["series"][0]["values"]
    assert ["value", "float"] in fields  # 1 and 1.5 are both floats: no type conflict, ever
    ups = influxdb.rows(influxdb_database, "SELECT * FROM ups", epoch="ms")
    assert {r["entity"]: (r["value_bool"], r["value_str"]) for r in ups} == {
        "on_battery": (True, None),
        "power_mode": (None, "online"),
    }
    # The tag value with a space, a comma, '=' and Chinese finds its points again in a WHERE clause.
    found = influxdb.rows(influxdb_database, "SELECT value FROM env_sensor WHERE site = '总部 HQ, east'", epoch="ms")
    assert len(found) == 3


async def test_nan_and_infinity_are_never_written(influxdb: InfluxDB1, influxdb_database: str) -> None:
    message = json.loads(telemetry("env-1", "env_sensor", iso(T0), {"temperature": 20.0}))
    message["readings"]["temperature"]["v"] = math.nan
    message["readings"]["humidity"] = {"v": math.inf, "q": "good"}
    message["readings"]["dew_point"] = {"v": 5.25, "q": "good"}
    points = telemetry_points(message)
    writer = InfluxWriter(influxdb.url, api="v1", database=influxdb_database)
    rejected: list[str] = []
    writer.on_rejected = lambda line, reason: rejected.append(line)
    try:
        await writer.write(points)
    finally:
        await writer.close()
    rows = influxdb.rows(influxdb_database, "SELECT * FROM env_sensor", epoch="ms")
    assert {r["entity"]: r["value"] for r in rows} == {"temperature": None, "humidity": None, "dew_point": 5.25}
    assert rejected == []


async def test_a_refused_point_is_dropped_and_reported_not_the_batch(
    influxdb: InfluxDB1, influxdb_database: str
) -> None:
    # Make env_sensor.value a string field: a float for it is then a field type conflict (HTTP 400).
    # (InfluxDB 1.x keeps field types per shard: write it in the shard of the test's time.)
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{influxdb.url}/write", params={"db": influxdb_database, "precision": "ms"},
                                     content=f'env_sensor,entity=x value="text" {T0 - 1}'.encode())  # fmt: skip
    assert response.status_code == 204
    batch = [
        *points_of("ups-1", "ups", T0, {"load": 40.0, "battery_charge": 99.0}),
        *points_of("env-1", "env_sensor", T0, {"temperature": 21.0}),
        *points_of("ups-1", "ups", T0 + 1000, {"load": 41.0}),
    ]
    rejected: list[tuple[str, str]] = []
    writer = InfluxWriter(influxdb.url, api="v1", database=influxdb_database,
                          on_rejected=lambda line, reason: rejected.append((line, reason)))  # fmt: skip
    try:
        await writer.write(batch)
    finally:
        await writer.close()
    ups = influxdb.rows(influxdb_database, "SELECT value FROM ups", epoch="ms")
    assert sorted((r["time"], r["value"]) for r in ups) == [(T0, 40.0), (T0, 99.0), (T0 + 1000, 41.0)]
    assert len(rejected) == 1
    line, reason = rejected[0]
    assert line.startswith("env_sensor,") and "entity=temperature" in line and "conflict" in reason


async def test_writes_leave_no_reference_cycles(influxdb: InfluxDB1, influxdb_database: str) -> None:
    """httpx keeps a response and its stream in a cycle, with the request and its body (a whole
    batch of line protocol) hanging from it; a collector runs the cyclic collector rarely
    (quiet_gc), so each write's body used to stay in memory for a minute. A write, refused lines
    included (the halving path), leaves nothing of httpx for the cyclic collector."""
    async with httpx.AsyncClient() as client:  # env_sensor.value a string field: a float is refused
        response = await client.post(f"{influxdb.url}/write", params={"db": influxdb_database, "precision": "ms"},
                                     content=f'env_sensor,entity=x value="text" {T0 - 1}'.encode())  # fmt: skip
    assert response.status_code == 204
    rejected: list[str] = []
    writer = InfluxWriter(influxdb.url, api="v1", database=influxdb_database,
                          on_rejected=lambda line, reason: rejected.append(line))  # fmt: skip
    was_enabled = gc.isenabled()
    try:
        await writer.write(points_of("ups-1", "ups", T0 - 1000, {"load": 1.0}))  # connection and imports
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for i in range(20):
                await writer.write(points_of("ups-1", "ups", T0 + i * 1000, {"load": 40.0 + i, "battery_charge": 99.0}))
            await writer.write([*points_of("ups-1", "ups", T0 + 30_000, {"load": 50.0}),
                                *points_of("env-1", "env_sensor", T0, {"temperature": 21.0})])  # fmt: skip
            gc.collect()
            left = sorted({f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage
                           if type(o).__module__.split(".")[0] in ("httpx", "httpcore")})  # fmt: skip
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            if was_enabled:
                gc.enable()
    finally:
        await writer.close()
    assert len(rejected) == 1 and rejected[0].startswith("env_sensor,")
    assert len(influxdb.rows(influxdb_database, "SELECT value FROM ups", epoch="ms")) == 1 + 20 * 2 + 1
    assert left == []


async def test_v2_write_api_against_victoria_metrics(victoria: VictoriaMetrics) -> None:
    writer = InfluxWriter(victoria.url, api="v2", bucket="lvgate", org="lvgate", token="not-checked")
    try:
        await writer.write(points_of("env-1", "env_sensor", T0, {"temperature": 1}))
        await writer.write(points_of("env-1", "env_sensor", T0 + 1000, {"temperature": 1.5, "humidity": 45.5}))
    finally:
        await writer.close()

    def series() -> list[dict[str, object]]:
        return victoria.export('{__name__="env_sensor_value"}')

    await wait_for_async(lambda: len(series()) == 2, timeout=20, what="two series in VictoriaMetrics")
    by_entity = {s["metric"]["entity"]: s for s in series()}  # type: ignore[index]
    temperature = by_entity["temperature"]
    assert temperature["values"] == [1.0, 1.5] and temperature["timestamps"] == [T0, T0 + 1000]
    labels = temperature["metric"]
    assert labels["site"] == SITE and labels["room"] == ROOM and labels["device"] == "env-1"  # type: ignore[index]
    assert labels["unit"] == "°C" and labels["gateway"] == "gw-1"  # type: ignore[index]
    assert by_entity["humidity"]["values"] == [45.5] and by_entity["humidity"]["timestamps"] == [T0 + 1000]


HISTORY_GATEWAY = 'gw "east", 机房'  # a quote, a comma, a space and Chinese in a label/tag value


async def write_history_sample(writer: InfluxWriter) -> None:
    def pts(ts_ms: int, readings: dict[str, object]) -> list:  # type: ignore[type-arg]
        body = telemetry("ups-1", "ups", iso(ts_ms), readings, gateway=HISTORY_GATEWAY, site=SITE, room=ROOM)
        return telemetry_points(json.loads(body))

    try:
        for i, (load, on_battery) in enumerate([(40, False), (41.5, True), (39.25, False)]):
            await writer.write(pts(T0 + i * 60_000, {"load": load, "on_battery": on_battery}))
        await writer.write(pts(T0 + 5_000, {"battery_charge": 98.0}))  # another entity, not in the answers
    finally:
        await writer.close()


async def test_history_query_influxql_against_influxdb_1(influxdb: InfluxDB1, influxdb_database: str) -> None:
    await write_history_sample(InfluxWriter(influxdb.url, api="v1", database=influxdb_database))
    reader = InfluxWriter(influxdb.url, api="v1", database=influxdb_database)
    try:
        load = await reader.history(HISTORY_GATEWAY, "ups-1", "load", T0, T0 + 60_000, 100)  # end is inclusive
        battery = await reader.history(HISTORY_GATEWAY, "ups-1", "on_battery", T0, T0 + 120_000, 2)
    finally:
        await reader.close()
    assert load == [
        {"ts_ms": T0, "value": 40.0, "quality": "good"},
        {"ts_ms": T0 + 60_000, "value": 41.5, "quality": "good"},
    ]
    assert [(r["ts_ms"], r["value"]) for r in battery] == [(T0, False), (T0 + 60_000, True)]  # limit 2


async def test_history_query_prometheus_against_victoria_metrics(victoria: VictoriaMetrics) -> None:
    await write_history_sample(InfluxWriter(victoria.url, api="v2", bucket="lvgate", org="lvgate"))
    reader = InfluxWriter(victoria.url, api="v2", bucket="lvgate", history_query="prometheus")

    async def load_rows() -> list[dict[str, object]]:
        victoria.flush()
        return await reader.history(HISTORY_GATEWAY, "ups-1", "load", T0, T0 + 120_000, 100)

    try:
        found: list[dict[str, object]] = []

        async def three() -> bool:
            found[:] = await load_rows()
            return len(found) == 3

        await wait_for_async(three, timeout=20, what="three load samples from VictoriaMetrics")
        window = await reader.history(HISTORY_GATEWAY, "ups-1", "load", T0 + 1, T0 + 60_000, 100)
        battery = await reader.history(HISTORY_GATEWAY, "ups-1", "on_battery", T0, T0 + 120_000, 100)
        other = await reader.history(HISTORY_GATEWAY, "ups-2", "load", T0, T0 + 120_000, 100)
    finally:
        await reader.close()
    assert [(r["ts_ms"], r["value"]) for r in found] == [(T0, 40.0), (T0 + 60_000, 41.5), (T0 + 120_000, 39.25)]
    assert [(r["ts_ms"], r["value"]) for r in window] == [(T0 + 60_000, 41.5)]
    assert [(r["ts_ms"], r["value"]) for r in battery] == [(T0, False), (T0 + 60_000, True), (T0 + 120_000, False)]
    assert other == []


async def test_influxdb_away_for_30_s_loses_and_duplicates_nothing(
    tmp_path: Path, mqtt_broker: MosquittoBroker, influxdb_factory: InfluxDBFactory
) -> None:
    server = influxdb_factory()
    server.create_database("lvgate")
    config = write_collector_config(
        tmp_path / "c.yaml", mqtt_broker.port,
        extra=f"storage: {{influxdb: {{url: '{server.url}', api: v1, database: lvgate}}}}\napi: {{enabled: false}}\n"
              "flush_interval: 0.2\n",
    )  # fmt: skip
    publisher = Publisher(mqtt_broker.port)
    sent = 0

    async def stream(seconds: float) -> None:
        nonlocal sent
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ts = T0 + sent * 100
            await publisher.send([("lvgate/gw-1/env-1/telemetry",
                                   telemetry("env-1", "env_sensor", iso(ts), {"temperature": 20 + sent / 1000}))])  # fmt: skip
            sent += 1
            await asyncio.sleep(0.05)

    def stored() -> int:
        rows = server.rows("lvgate", "SELECT COUNT(value) FROM env_sensor") if server.running else []
        return int(rows[0]["count"]) if rows else 0

    try:
        async with running_collector(config) as collector:
            await stream(3)
            await wait_for_async(lambda: stored() == sent, timeout=20, what="points before the outage")
            await asyncio.to_thread(server.stop)
            await stream(30)
            waiting = len(collector.inbox)
            await asyncio.to_thread(server.restart)
            await stream(2)
            await wait_for_async(lambda: stored() == sent, timeout=60, what="every point after the restart")
            assert len(collector.inbox) == 0 or await wait_for_async(lambda: len(collector.inbox) == 0, timeout=10)
    finally:
        publisher.close()
    assert waiting > 100, "the outage did not make messages wait"
    rows = server.rows("lvgate", "SELECT value FROM env_sensor", epoch="ms")
    assert [r["time"] for r in rows] == [T0 + i * 100 for i in range(sent)]  # in order, each once
    assert [r["value"] for r in rows] == pytest.approx([20 + i / 1000 for i in range(sent)])

"""The REST API of a running collector: auth, devices, history, alarms and their MQTT copy, dead letters."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from lvgate.reading import now_ms
from tests.collector_peers import Publisher, iso, running_collector, telemetry, write_collector_config
from tests.services import MosquittoBroker, wait_for_async

RULES = ("rules:\n  - {id: hot, kind: threshold, device_class: env_sensor, entity: temperature, above: 35,"
         " clear_below: 33, level: II, message: Room too hot}\n")  # fmt: skip


def api_config(tmp_path: Path, port: int) -> Path:
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "tokens").write_text("# duty staff\nalice s3cret-alice\n", encoding="utf-8")
    extra = (f"storage: {{sqlite: {{path: '{tmp_path / 'history.sqlite'}'}}}}\n"
             f"alarms: {{rules: ['{tmp_path / 'rules.yaml'}'], tick_s: 0.2}}\n"
             f"api: {{port: 0, tokens_file: '{tmp_path / 'tokens'}'}}\nflush_interval: 0.05\n")  # fmt: skip
    return write_collector_config(tmp_path / "c.yaml", port, extra=extra)


def retained(port: int, topic: str) -> dict[str, object]:
    """The retained message on ``topic``, as a fresh subscriber sees it."""
    got: list[bytes] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-reader", protocol=mqtt.MQTTv5)
    client.on_message = lambda c, u, m: got.append(bytes(m.payload))
    client.connect("127.0.0.1", port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    try:
        for _ in range(100):
            if got:
                break
            import time

            time.sleep(0.05)
    finally:
        client.disconnect()
        client.loop_stop()
    assert got, f"nothing retained on {topic}"
    result: dict[str, object] = json.loads(got[-1])
    return result


async def test_api_auth_alarms_devices_history(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    publisher = Publisher(mqtt_broker.port)
    t0 = now_ms() - 5000
    try:
        async with running_collector(api_config(tmp_path, mqtt_broker.port)) as collector:
            assert collector.api_port
            base = f"http://127.0.0.1:{collector.api_port}"
            await publisher.send([
                ("lvgate/gw-1/env-1/telemetry", telemetry("env-1", "env_sensor", iso(t0), {"temperature": 36.5})),
                ("lvgate/gw-1/env-1/telemetry", b"[1, 2"),
            ])  # fmt: skip
            async with httpx.AsyncClient(base_url=base) as http:
                schema = (await http.get("/openapi.json")).json()
                assert {"/api/alarms", "/api/devices", "/api/history", "/api/dead-letters"} <= set(schema["paths"])
                # The maintenance records are mounted on the same app, behind the same auth.
                assert any(p.startswith("/api/maintenance/") for p in schema["paths"])

                async def one_alarm() -> list[dict[str, object]]:
                    return list((await http.get("/api/alarms")).json())

                alarms = await wait_for_async(one_alarm, timeout=15, what="the alarm in the API")
                assert [(a["rule"], a["level"], a["state"]) for a in alarms] == [("hot", "II", "raised")]
                alarm_id = alarms[0]["id"]
                # The level II alarm has its fault record in the maintenance routes of the same app.
                month = time.strftime("%Y-%m", time.gmtime(t0 / 1000))
                faults = await http.get("/api/maintenance/faults", params={"month": month})
                assert faults.status_code == 200, faults.text
                assert len(faults.json()) == 1, faults.json()
                assert alarms[0]["clocks"]["response"]["due_ms"] == alarms[0]["raised_ms"] + 30 * 60_000  # type: ignore[index,operator]

                # Loopback may read without a token, but not act; a wrong token may do nothing.
                assert (await http.post(f"/api/alarms/{alarm_id}/acknowledge", json={})).status_code == 403
                bad = {"Authorization": "Bearer wrong"}
                assert (await http.get("/api/alarms", headers=bad)).status_code == 401
                good = {"Authorization": "Bearer s3cret-alice"}
                acked = await http.post(f"/api/alarms/{alarm_id}/acknowledge", json={"comment": "looking"},
                                        headers=good)  # fmt: skip
                assert acked.status_code == 200, acked.text
                assert acked.json()["state"] == "acknowledged" and acked.json()["acknowledged_by"] == "alice"
                again = await http.post(f"/api/alarms/{alarm_id}/acknowledge", json={}, headers=good)
                assert again.status_code == 409
                close = await http.post(f"/api/alarms/{alarm_id}/close", json={}, headers=good)
                assert close.status_code == 409  # not cleared yet

                device = (await http.get("/api/devices/gw-1/env-1")).json()
                assert device["room"] == "B1" and device["latest"]["temperature"]["value"] == 36.5
                assert device["latest"]["temperature"]["unit"] == "°C"
                history = (await http.get("/api/history", params={"gateway": "gw-1", "device": "env-1",
                                                                   "entity": "temperature", "start_ms": t0 - 1})).json()  # fmt: skip
                assert history == [{"ts_ms": t0, "value": 36.5, "quality": "good"}]
                assert [r["room"] for r in (await http.get("/api/rooms")).json()] == ["B1"]
                letters = (await http.get("/api/dead-letters")).json()
                assert len(letters) == 1 and letters[0]["topic"] == "lvgate/gw-1/env-1/telemetry"
                assert (await http.get("/api/health")).json()["rejected"] == 1

            published = await asyncio.to_thread(retained, mqtt_broker.port, "lvgate/gw-1/env-1/alarms")
            assert published["device"] == "env-1"
            entries = published["alarms"]
            assert isinstance(entries, list) and len(entries) == 1
            assert entries[0]["state"] == "acknowledged" and entries[0]["level"] == "II" and entries[0]["value"] == 36.5
    finally:
        publisher.close()

"""Event topics -> normalised events (recorded PullMessages and Axis messages), and the
PullPoint subscription lifecycle against the responder: renewal, expiry, camera restart."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from lvgate.drivers.base import DeviceEvent
from lvgate.drivers.onvif.driver import OnvifDeviceConfig, OnvifPoller
from lvgate.drivers.onvif.events import load_event_map, normalise, parse_notifications
from lvgate.drivers.onvif.safexml import parse
from lvgate.reading import Reading
from tests.onvif_responder import PASSWORD, USERNAME, responder
from tests.shared_fixtures import fixture_path


def events_of(*parts: str) -> list[tuple[str, bool | None, str]]:
    doc = parse(fixture_path("onvif", *parts).read_bytes(), device="t", operation="PullMessages")
    event_map = load_event_map()
    return [
        (e.kind, e.active, e.topic)
        for e in (normalise(n, event_map) for n in parse_notifications(doc.root, doc.prefixes, event_map))
    ]


def test_milesight_pull_messages() -> None:
    assert events_of("ex-onvif", "PullMessages.xml") == [
        ("motion", False, "tns1:VideoSource/MotionAlarm"),
        ("motion", False, "tns1:RuleEngine/CellMotionDetector/Motion"),
        ("tamper", False, "tns1:RuleEngine/TamperDetector/Tamper"),
        ("unknown", None, "tns1:VideoSource/ImageTooDark/ImagingService"),
        ("unknown", None, "tns1:RuleEngine/FieldDetector/ObjectsInside"),
        ("unknown", None, "tns1:Monitoring/OperatingTime/LastReset"),
        ("unknown", None, "tns1:Monitoring/OperatingTime/LastReboot"),
        ("unknown", None, "tns1:Monitoring/OperatingTime/LastClockSynchronization"),
    ]


def test_trendnet_and_empty_hikvision_pull_messages() -> None:
    assert events_of("onvif-nvt_trendnet-tv-ip320pi", "PullMessages.xml") == [
        ("unknown", None, "tns1:Monitoring/ProcessorUsage")
    ]
    assert events_of("onvif-nvt_hikvision-ds-2df7276-ael", "PullMessages.xml") == []


def test_sharponvif_hikvision_pull_messages_include_storage_failure() -> None:
    found = events_of("sharponvif_hikvision-comment", "PullMessages.xml")
    assert found == [
        ("motion", False, "tns1:VideoSource/MotionAlarm"),
        ("tamper", False, "tns1:VideoSource/GlobalSceneChange/ImagingService"),
        ("motion", False, "tns1:RuleEngine/CellMotionDetector/Motion"),
        ("unknown", None, "tns1:VideoSource/ImageTooDark/ImagingService"),
        ("unknown", None, "tns1:RuleEngine/FieldDetector/ObjectsInside"),
        ("unknown", None, "tns1:Monitoring/OperatingTime/LastReset"),
        ("unknown", None, "tns1:Monitoring/OperatingTime/LastReboot"),
        ("unknown", None, "tns1:Monitoring/OperatingTime/LastClockSynchronization"),
        ("storage_failure", False, "tns1:Device/HardwareFailure/StorageFailure"),
        ("unknown", None, "tns1:Monitoring/ProcessorUsage"),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("vmd4_motion_change.xml", ("motion", True, "tnsaxis:CameraApplicationPlatform/VMD/Camera1ProfileANY")),
        ("vmd4_motion_init.xml", ("motion", False, "tnsaxis:CameraApplicationPlatform/VMD/Camera1ProfileANY")),
        ("vmd3_motion_init.xml", ("motion", False, "tns1:RuleEngine/tnsaxis:VMD3/vmd3_video_1")),
        ("pir_change.xml", ("motion", True, "tns1:Device/tnsaxis:Sensor/PIR")),
        ("pir_init.xml", ("motion", False, "tns1:Device/tnsaxis:Sensor/PIR")),
        ("rule_engine_motion_region_init.xml", ("motion", False, "tns1:RuleEngine/MotionRegionDetector/Motion")),
        ("tamper_global_scene_change.xml", ("tamper", False, "tns1:VideoSource/GlobalSceneChange/ImagingService")),
        ("digital_input_port0_init.xml", ("digital_input", False, "tns1:Device/tnsaxis:IO/Port")),
        ("storage_alert_init.xml", ("storage_failure", False, "tnsaxis:Storage/Alert")),
        ("relay_init.xml", ("unknown", None, "tns1:Device/Trigger/Relay")),
        ("daynight_init.xml", ("unknown", None, "tns1:VideoSource/tnsaxis:DayNightVision")),
    ],
)
def test_axis_metadata_stream_events(name: str, expected: tuple[str, bool | None, str]) -> None:
    assert events_of("axis-py_metadata-stream-events", name) == [expected]


def test_topic_prefixes_are_resolved_through_the_document() -> None:
    # The same ONVIF topic under a prefix the camera chose itself.
    doc = parse(
        b'<e xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" '
        b'xmlns:on="http://www.onvif.org/ver10/topics"><wsnt:NotificationMessage><wsnt:Topic>on:VideoSource/SignalLoss'
        b'</wsnt:Topic><wsnt:Message><tt:Message UtcTime="2024-01-01T00:00:00Z"><tt:Data>'
        b'<tt:SimpleItem Name="State" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage></e>',
        device="t",
        operation="PullMessages",
    )
    event_map = load_event_map()
    (note,) = parse_notifications(doc.root, doc.prefixes, event_map)
    ev = normalise(note, event_map)
    assert (ev.kind, ev.active, ev.severity, ev.topic) == ("video_loss", True, "critical", "on:VideoSource/SignalLoss")


class Sink:
    def __init__(self) -> None:
        self.events: list[DeviceEvent] = []
        self.values: list[Reading] = []
        self.offline: list[str | None] = []

    def readings(self, readings: list[Reading]) -> None:
        self.values.extend(readings)

    def event(self, event: DeviceEvent) -> None:
        self.events.append(event)

    def availability(self, online: bool, reason: str | None = None) -> None:
        if not online:
            self.offline.append(reason)


def poller_for(port: int, **extra: Any) -> OnvifPoller:
    config = OnvifDeviceConfig.model_validate(
        {"id": "cam-1", "host": "127.0.0.1", "port": port, "username": USERNAME, "password": PASSWORD,
         "pull_timeout": 1, "timeout": 2, **extra}
    )  # fmt: skip
    return OnvifPoller(config)


async def until(predicate: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_listen_delivers_recorded_events_and_renews_before_expiry() -> None:
    # Subscriptions live 3 s at the camera; the poller asks for 3 s and must renew in time.
    async with responder("ex-onvif", max_lifetime=3.0) as r:
        r.camera.files["GetServices"] = fixture_path(
            "onvif", "onvif-nvt_hikvision-ds-2df7276-ael", "GetServices.xml"
        ).read_bytes()
        poller = poller_for(r.port, event_lifetime=3)
        sink = Sink()
        task = asyncio.create_task(poller.listen(sink))
        try:
            await until(lambda: len(sink.events) >= 8, 10)
            await until(lambda: r.camera.renewals >= 2, 15)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await poller.close()
        assert r.camera.subscriptions_created == 1  # renewed, never lost
        kinds = [e.kind for e in sink.events[:8]]
        assert kinds == ["motion", "motion", "tamper", "unknown", "unknown", "unknown", "unknown", "unknown"]
        assert sink.events[3].data["topic"] == "tns1:VideoSource/ImageTooDark/ImagingService"
        assert [(v.key, v.value) for v in sink.values] == [("motion", False), ("motion", False), ("tamper", False)]


async def test_expired_subscription_and_restarted_camera_lead_to_new_subscriptions() -> None:
    async with responder("ex-onvif") as r:
        r.camera.files["GetServices"] = fixture_path(
            "onvif", "onvif-nvt_hikvision-ds-2df7276-ael", "GetServices.xml"
        ).read_bytes()
        poller = poller_for(r.port, event_lifetime=60)
        sink = Sink()
        task = asyncio.create_task(poller.listen(sink))
        try:
            await until(lambda: r.camera.subscriptions_created == 1 and len(sink.events) >= 8, 10)
            # the camera forgets the subscription (expired on its side)
            r.camera._subs.clear()
            await until(lambda: r.camera.subscriptions_created == 2, 10)
            # the camera reboots: new process, no subscriptions, same port
            await r.restart()
            await until(lambda: r.camera.subscriptions_created >= 1, 15)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await poller.close()
        assert len(sink.events) >= 16  # the recorded batch again after each new subscription

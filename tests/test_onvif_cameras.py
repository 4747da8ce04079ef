"""Every recorded camera through the responder: identity, profiles, URIs, status levels, clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from lvgate.drivers.onvif.camera import CameraState, Level, OnvifCamera
from lvgate.drivers.onvif.soap import SoapClient
from tests.onvif_responder import PASSWORD, USERNAME, Responder, responder
from tests.services import free_port

# Read off the recorded XML by hand: (manufacturer, model, firmware, serial, hardware id).
IDENTITY = {
    "agsh-onvif_servermockup": ("Mockup Manufacturer", "Mockup Model", "Mockup_15_14_13", "00000000", "MOCKUP"),
    "easy-onvif_dlink-dcs-6511": ("D-Link Corporation", "DCS-6511", "1.16.00", "F07D68099FCA", "F07D68099FCA"),
    "easy-onvif_enp1a14-ir-25x": ("ONVIF", "ENP1A14-IR/25X", "V5.5.3 build 180822", "ENP1A14-IR/25X20190430AAWRD14878498W", "88"),
    "easy-onvif_ipd-h4k8m05-bs": (None, "IPD-H4K8M05-BS", "V1.04.10-190309", "071D3E36963F", "1.0"),
    "easy-onvif_ipg-8150pss": ("ONVIF_IPNC", "IPG-8150PSS", "1.3.0-20210203CN-PT", "I207215E7840DFDA9877E8B", "8FE1887A-72EE-403f-9385-5a58aed534cf"),
    "easy-onvif_sunba-performance-series": ("SUNBA", "Performance-Series", "QIPC-B2202.3.73.C06290.NB.230628", "210231T2H63235000045", "Performance-Series"),
    "ex-onvif": ("Milesight Technology Co.,Ltd.", "MS-C8165-PE", "61.8.0.3-r8", "EM82V102329001403", "V1.0"),
    "onvif-nvt_axis-q6045-e": ("AXIS", "AXIS Q6045-E", "5.55.1.2", "00408CFAB754", "1C9.2"),
    "onvif-nvt_hikvision-ds-2df7276-ael": ("HIKVISION", "DS-2DF7276-AEL", "V5.1.6 build 140401", "DS-2DF7276-AEL20140613CCWR468714298B", "88"),
    "onvif-nvt_trendnet-tv-ip320pi": ("TRENDnet", "TV-IP320PI", "V5.3.4 build 160830", "TV-IP320PI20161206AAWR863642784", "88"),
}  # fmt: skip

# (level, media service used, [(token, name, encoding, width, height, fps)], stream URI, snapshot URI).
# Each recording holds one GetStreamUri/GetSnapshotUri reply, so every profile gets that URI.
# media2 GetProfiles replies carry no encoder: those fields come from the media1 profile.
MEDIA: dict[str, tuple[str, str | None, list[tuple[Any, ...]], str | None, str | None]] = {
    "agsh-onvif_servermockup": ("streaming", "media", [("main", "main", "H264", 1920, 1080, 5.0)],
        "rtsp://192.168.68.111/h264main", None),
    # no GetServices (GetCapabilities instead) and no GetStreamUri recorded: stops at authenticated
    "easy-onvif_dlink-dcs-6511": ("authenticated", "media", [("Profile1", "Profile1", "H264", 1280, 1024, 7.0),
        ("Profile2", "Profile2", "H264", 640, 480, 30.0)], None, "http://192.168.1.33/dms?nowprofileid=1"),
    "easy-onvif_enp1a14-ir-25x": ("streaming", "media2", [("Profile_1", "mainStream", "H265", 2560, 1440, 25.0),
        ("Profile_2", "subStream", "H265", 704, 480, 10.0), ("Profile_3", "thirdStream", None, None, None, None)],
        "rtsp://192.168.1.182/Streaming/Channels/101?transportmode=unicast&profile=Profile_1",
        "http://192.168.1.182/onvif-http/snapshot?Profile_1"),
    "easy-onvif_ipd-h4k8m05-bs": ("streaming", "media", [("MainStream", "MainStream", "H264", 2592, 1944, 25.0),
        ("SubStream", "SubStream", "H264", 640, 480, 25.0)], "rtsp://192.168.15.40:554/1/h264major",
        "http://192.168.15.40/jpgimage/1/image.jpg"),
    "easy-onvif_ipg-8150pss": ("streaming", "media2", [("PROFILE_000", "PROFILE_000", "H264", 2560, 1920, 20.0),
        ("PROFILE_001", "PROFILE_001", "H264", 800, 448, 20.0)], "rtsp://10.200.1.2/live/0/MAIN",
        "http://10.200.1.2:80/SnapShot_Ch0.jpg"),
    "easy-onvif_sunba-performance-series": ("streaming", "media2", [
        ("media_profile1", "media_profile1", "H264", 2592, 1944, 12.0),
        ("media_profile2", "media_profile2", "H264", 720, 576, 25.0),
        ("media_profile3", "media_profile3", "H264", 352, 288, 25.0)], "rtsp://162.191.54.181/media/video1",
        "http://162.191.54.181:80/LAPI/V1.0/Media/Video/Streams/0/Snapshot"),
    # neither GetServices nor GetCapabilities recorded: no media service known
    "ex-onvif": ("authenticated", None, [], None, None),
    "onvif-nvt_axis-q6045-e": ("streaming", "media", [("profile_1_h264", "profile_1 h264", "H264", 1280, 720, 30.0),
        ("profile_1_jpeg", "profile_1 jpeg", "JPEG", 1280, 720, 30.0)],
        "rtsp://192.168.0.19/onvif-media/media.amp?profile=profile_1_jpeg&sessiontimeout=60&streamtype=unicast",
        "http://192.168.0.19/onvif-cgi/jpg/image.cgi?resolution=1280x720&compression=20"),
    "onvif-nvt_hikvision-ds-2df7276-ael": ("streaming", "media", [
        ("Profile_1", "mainStream", "H264", 1280, 720, 10.0), ("Profile_2", "subStream", "H264", 704, 480, 30.0),
        ("Profile_3", "thirdStream", "H264", 704, 480, 30.0)],
        "rtsp://10.10.1.60:554/Streaming/Channels/3?transportmode=unicast&profile=Profile_3", "http://10.10.1.60/onvif/snapshot"),
    "onvif-nvt_trendnet-tv-ip320pi": ("streaming", "media", [("Profile_1", "mainStream", "H264", 1280, 720, 30.0),
        ("Profile_2", "subStream", "JPEG", 352, 240, 30.0)],
        "rtsp://10.10.1.67:554/Streaming/Channels/102?transportmode=unicast&profile=Profile_2",
        "http://10.10.1.67/onvif-http/snapshot?Profile_2"),
}  # fmt: skip


@asynccontextmanager
async def client(r: Responder | None, url: str | None = None, password: str = PASSWORD) -> AsyncIterator[OnvifCamera]:
    async with httpx.AsyncClient(timeout=3.0, trust_env=False) as http:
        soap = SoapClient("cam-1", http, USERNAME, password, timeout=3.0)
        assert r is not None or url is not None
        yield OnvifCamera(soap, url or (r.device_url if r else ""))


async def check(camera: str, **settings: Any) -> tuple[CameraState, Responder]:
    async with responder(camera, **settings) as r, client(r) as cam:
        return await cam.check(), r


@pytest.mark.parametrize("camera", sorted(IDENTITY))
async def test_recorded_camera_identity_profiles_and_uris(camera: str) -> None:
    state, r = await check(camera)
    manufacturer, model, firmware, serial, hardware = IDENTITY[camera]
    assert state.identity is not None
    assert state.identity.as_dict() == {
        "manufacturer": manufacturer, "model": model, "firmware": firmware, "serial": serial, "hardware_id": hardware
    }  # fmt: skip
    level, media, profiles, stream, snapshot = MEDIA[camera]
    assert state.level.word == level, state.detail
    assert state.media == media
    got = [(p.token, p.name, p.encoding, p.width, p.height, p.frame_rate) for p in state.profiles]
    assert got == profiles
    assert all(p.stream_uri == stream and p.snapshot_uri == snapshot for p in state.profiles)
    # every request but the clock carried a token the responder accepted
    assert "GetDeviceInformation" in r.camera.requests


async def test_advertised_service_that_faults_is_unsupported_not_down() -> None:
    # The ENP1A14 advertises media2; make it fault: media1 serves profiles and URIs instead.
    state, _ = await check("easy-onvif_enp1a14-ir-25x", override={"media2.GetProfiles": "fault"})
    assert state.level is Level.STREAMING and state.media == "media"
    assert "media2" in state.unsupported
    assert (
        state.profiles[0].stream_uri
        == "rtsp://192.168.1.182:554/Streaming/Channels/101?transportmode=mcast&profile=Profile_1"
    )
    # a 404 on the snapshot operation: the feature is gone, the camera still streams
    state, _ = await check("onvif-nvt_hikvision-ds-2df7276-ael", override={"GetSnapshotUri": "404"})
    assert state.level is Level.STREAMING
    assert "media.snapshot_uri" in state.unsupported
    assert all(p.snapshot_uri is None for p in state.profiles)


async def test_camera_two_hours_off_still_authenticates_and_drift_is_published() -> None:
    state, r = await check("onvif-nvt_axis-q6045-e", clock_offset=7200.0)
    assert state.level is Level.STREAMING
    assert state.drift is not None and abs(state.drift - 7200.0) < 3.0
    assert r.camera.requests.count("GetDeviceInformation") == 1


async def test_without_the_clock_offset_the_responder_refuses_the_token() -> None:
    async with responder("onvif-nvt_axis-q6045-e", clock_offset=7200.0) as r, client(r) as cam:
        cam.soap.clock_offset = 0.0
        with pytest.raises(Exception, match="NotAuthorized"):
            await cam.soap.call(r.device_url, "GetDeviceInformation", "<tds:GetDeviceInformation/>")


async def test_camera_reporting_local_time_as_utc() -> None:
    # The hikvision zone is CST7 (UTC-7): its UTC field now holds local time, 7 h behind.
    state, _ = await check("onvif-nvt_hikvision-ds-2df7276-ael", local_as_utc=True)
    assert state.level is Level.STREAMING  # tokens are dated on the camera's own notion of time
    assert state.clock is not None and state.clock.local_as_utc
    assert abs(state.clock_offset - (-7 * 3600)) < 3.0
    assert state.drift is not None and abs(state.drift) < 3.0


async def test_wrong_password_stops_at_reachable_with_reason() -> None:
    async with responder("onvif-nvt_trendnet-tv-ip320pi") as r, client(r, password="wrong") as cam:
        state = await cam.check()
    assert state.level is Level.REACHABLE
    assert state.reason == "authentication failed"
    assert "cam-1" in state.detail and "GetDeviceInformation" in state.detail


async def test_connection_refused_is_unreachable() -> None:
    async with client(None, url=f"http://127.0.0.1:{free_port()}/onvif/device_service") as cam:
        state = await cam.check()
    assert state.level is Level.UNREACHABLE and state.reason == "connection refused"


@pytest.mark.parametrize(
    ("misbehaviour", "problem"),
    [
        ("truncated", "not well-formed"),
        ("garbage", "not well-formed"),
        ("xxe", "refused unsafe XML"),
        ("bomb", "refused unsafe XML"),
        ("huge", "exceeds the 1000000-byte bound"),
    ],
)
async def test_bad_replies_name_camera_and_operation(misbehaviour: str, problem: str) -> None:
    state, _ = await check("onvif-nvt_axis-q6045-e", override={"GetDeviceInformation": misbehaviour})
    assert state.level is Level.REACHABLE and state.reason == "bad reply"
    assert "camera 'cam-1', GetDeviceInformation: bad_reply" in state.detail
    assert problem in state.detail
    # the same on the very first, unauthenticated request
    state, _ = await check("onvif-nvt_axis-q6045-e", override={"GetSystemDateAndTime": misbehaviour})
    assert state.level is Level.REACHABLE and "GetSystemDateAndTime" in state.detail
    assert state.identity is None

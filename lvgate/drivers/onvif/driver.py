"""The ONVIF camera driver: device config, the poller (health, clock, image) and event listener."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr

from lvgate.drivers.base import (
    DeviceConfig,
    DeviceError,
    DeviceEvent,
    DevicePoller,
    DeviceSink,
    Driver,
    DriverSession,
    EntityDescription,
    ProfileError,
)
from lvgate.drivers.onvif.camera import CameraState, Level, OnvifCamera
from lvgate.drivers.onvif.events import load_event_map
from lvgate.drivers.onvif.image import ImageError, ImageThresholds, ImageWatch
from lvgate.drivers.onvif.media import rebase
from lvgate.drivers.onvif.network import primary
from lvgate.drivers.onvif.pullpoint import PullPoint
from lvgate.drivers.onvif.soap import OnvifError, SoapClient
from lvgate.paths import profile_dir
from lvgate.reading import Quality, Reading, now_ms
from lvgate.spelling import did_you_mean

log = logging.getLogger(__name__)

MAX_SNAPSHOT_BYTES = 8_000_000
ENTITY_KEYS = (
    "status_level", "clock_drift", "clock_drift_exceeded", "brightness", "contrast", "sharpness",
    "image_frozen", "image_clear", "motion", "tamper",
)  # fmt: skip


class OnvifDeviceConfig(DeviceConfig):
    driver: Literal["onvif"] = "onvif"
    profile: str = Field(default="events", description="event topic map in edge_config/profiles/onvif/")
    host: str
    port: int = Field(default=80, ge=1, le=65535)
    path: str = Field(default="/onvif/device_service", pattern=r"^/")
    username: str | None = None
    password: SecretStr | None = Field(default=None, description="write ${ENV_VAR}; or use password_file")
    password_file: Path | None = None
    timeout: float = Field(default=5.0, gt=0, le=60)
    poll_interval: float = Field(default=60.0, gt=0, le=86400)
    camera_time: Literal["auto", "utc", "local"] = Field(
        default="auto", description="'local': the camera writes local wall time in its UTC field"
    )
    clock_drift_limit: float = Field(default=10.0, gt=0, description="seconds; beyond it evidence times are wrong")
    events: bool = True
    event_lifetime: float = Field(default=60.0, ge=1, le=86400, description="subscription lifetime, s")
    pull_timeout: float = Field(default=5.0, gt=0, le=60, description="PullMessages long-poll, s")
    snapshot: bool = True
    snapshot_every: int = Field(default=5, ge=1, description="take a snapshot every N polls")
    image: ImageThresholds = ImageThresholds()

    def secret(self) -> str | None:
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        return None

    @property
    def device_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"


def _reports_local(config: OnvifDeviceConfig) -> bool | None:
    return {"auto": None, "utc": False, "local": True}[config.camera_time]


class OnvifPoller(DevicePoller):
    config: OnvifDeviceConfig

    def __init__(self, config: OnvifDeviceConfig) -> None:
        super().__init__(config)
        self.http = httpx.AsyncClient(timeout=config.timeout, trust_env=False, follow_redirects=False)
        self.soap = SoapClient(config.id, self.http, config.username, config.secret(), timeout=config.timeout)
        self.camera = OnvifCamera(self.soap, config.device_url, reports_local=_reports_local(config))
        self.event_map = load_event_map(profile_dir("onvif") / f"{config.profile}.yaml")
        self.watch = ImageWatch(config.image)
        self.polls = 0
        self.state: CameraState | None = None

    async def poll(self) -> list[Reading]:
        state = await self.camera.check()
        self.state = state
        if state.level == Level.UNREACHABLE:
            raise DeviceError(self.config.id, state.reason, state.detail)
        ts = now_ms()
        readings = [Reading(self.config.id, "status_level", state.level.word, ts, Quality.GOOD)]
        drift_ok = state.drift is not None
        readings.append(
            Reading(self.config.id, "clock_drift", state.drift, ts, Quality.GOOD if drift_ok else Quality.BAD)
        )
        exceeded = abs(state.drift) > self.config.clock_drift_limit if state.drift is not None else None
        readings.append(
            Reading(self.config.id, "clock_drift_exceeded", exceeded, ts, Quality.GOOD if drift_ok else Quality.BAD)
        )
        if self.config.snapshot and self.polls % self.config.snapshot_every == 0:
            readings.extend(await self._image(state))
        self.polls += 1
        return readings

    async def snapshot(self, state: CameraState) -> bytes:
        uri = next((p.snapshot_uri for p in state.profiles if p.snapshot_uri), None)
        if uri is None:
            raise ImageError("the camera gives no snapshot URI")
        url = rebase(uri, self.config.device_url)
        auth = httpx.DigestAuth(self.config.username or "", self.config.secret() or "")
        try:
            async with self.http.stream("GET", url, auth=auth) as response:
                if response.status_code != 200:
                    raise ImageError(f"snapshot {url}: HTTP {response.status_code}")
                data = b""
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > MAX_SNAPSHOT_BYTES:
                        raise ImageError(f"snapshot {url}: larger than {MAX_SNAPSHOT_BYTES} bytes")
                return data
        except httpx.HTTPError as exc:
            raise ImageError(f"snapshot {url}: {exc or type(exc).__name__}") from exc

    async def _image(self, state: CameraState) -> list[Reading]:
        keys = ("brightness", "contrast", "sharpness", "image_frozen", "image_clear")
        ts = now_ms()
        try:
            data = await self.snapshot(state)
            health = await asyncio.to_thread(self.watch.judge, data)
        except ImageError as exc:
            log.warning("camera '%s': %s", self.config.id, exc)
            return [Reading(self.config.id, k, None, ts, Quality.BAD) for k in keys]
        values: tuple[Any, ...] = (health.brightness, health.contrast, health.sharpness, health.frozen, health.clear)
        return [Reading(self.config.id, k, v, ts, Quality.GOOD) for k, v in zip(keys, values, strict=True)]

    async def identity(self) -> dict[str, Any] | None:
        state = self.state or await self.camera.check()
        if state.identity is None:
            return None
        network: dict[str, Any] = {}
        if state.interfaces:  # only when GetNetworkInterfaces was allowed and answered
            mac, ip = primary(state.interfaces)
            network = {"mac": mac, "ip": ip, "interfaces": [i.as_dict() for i in state.interfaces]}
        return {
            **state.identity.as_dict(),
            **network,
            "status_level": state.level.word,
            "media": state.media,
            "profiles": [p.as_dict() for p in state.profiles],
            "unsupported": sorted(state.unsupported),
        }

    async def listen(self, sink: DeviceSink) -> None:
        if not self.config.events:
            return
        sub: PullPoint | None = None
        backoff = 1.0
        while True:
            try:
                if sub is None or not sub.active:
                    sub = await self._subscribe()
                    if sub is None:
                        return  # no event service: nothing to listen to
                    backoff = 1.0
                elif sub.due_for_renewal():
                    await sub.renew()
                for ev in await sub.pull(self.config.pull_timeout):
                    self._deliver(sink, ev)
            except OnvifError as exc:
                log.info("%s; subscribing again", exc)
                if exc.kind in ("timeout", "refused"):
                    sink.availability(False, str(exc))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 60.0)
                else:
                    await asyncio.sleep(min(backoff, 1.0))
                sub = None

    async def _subscribe(self) -> PullPoint | None:
        await self.camera.read_clock(self.camera.state)
        if "events" not in self.camera.state.services:
            state = await self.camera.check()
            if state.level == Level.UNREACHABLE:
                raise OnvifError(self.config.id, "connect", "refused", state.detail)
            if "events" not in state.services:
                return None
        sub = PullPoint(
            self.soap,
            self.camera.state.services["events"],
            self.config.device_url,
            self.config.event_lifetime,
            self.event_map,
        )
        await sub.subscribe()
        return sub

    def _deliver(self, sink: DeviceSink, ev: Any) -> None:
        ts = now_ms()
        severity = ev.severity if ev.active is not False else "info"
        sink.event(DeviceEvent(self.config.id, ev.kind, ts, severity, ev.payload()))
        if ev.kind in ("motion", "tamper") and ev.active is not None:
            sink.readings([Reading(self.config.id, ev.kind, ev.active, ts, Quality.GOOD)])

    async def close(self) -> None:
        await self.http.aclose()


class OnvifSession(DriverSession):
    def poller(self, config: DeviceConfig) -> DevicePoller:
        assert isinstance(config, OnvifDeviceConfig)
        return OnvifPoller(config)


def _available_maps() -> list[str]:
    return sorted(p.stem for p in profile_dir("onvif").glob("*.yaml"))


class OnvifDriver(Driver):
    name = "onvif"
    config_model = OnvifDeviceConfig

    def check_device(self, config: DeviceConfig) -> list[tuple[str, str]]:
        assert isinstance(config, OnvifDeviceConfig)
        problems = []
        path = profile_dir("onvif") / f"{config.profile}.yaml"
        if not path.is_file():
            hint = did_you_mean(config.profile, _available_maps())
            problems.append(("profile", f"unknown ONVIF event map '{config.profile}'{hint}"))
        else:
            try:
                load_event_map(path)
            except ProfileError as exc:
                problems.append(("profile", str(exc)))
        if config.password_file is not None and not config.password_file.is_file():
            problems.append(("password_file", f"{config.password_file} does not exist"))
        return problems

    def device_class(self, config: DeviceConfig) -> str:
        return "camera"

    def entities(self, config: DeviceConfig) -> Sequence[EntityDescription]:
        assert isinstance(config, OnvifDeviceConfig)
        image = ("brightness", "contrast", "sharpness", "image_frozen", "image_clear")
        events = ("motion", "tamper")
        return [
            EntityDescription(k, "camera")
            for k in ENTITY_KEYS
            if (config.snapshot or k not in image) and (config.events or k not in events)
        ]

    def describe(self, config: DeviceConfig) -> str:
        assert isinstance(config, OnvifDeviceConfig)
        extras = [w for w, on in (("events", config.events), ("image health", config.snapshot)) if on]
        return f"onvif {config.device_url} as {config.username or '(no user)'}, {', '.join(extras) or 'status only'}, every {config.poll_interval:g} s"

    def open_session(self) -> DriverSession:
        return OnvifSession()

    def add_probe_arguments(self, parser: argparse.ArgumentParser) -> bool:
        from lvgate.drivers.onvif.probe import add_arguments

        add_arguments(parser)
        return True

    async def probe(self, args: argparse.Namespace) -> int:
        from lvgate.drivers.onvif.probe import run_probe

        return await run_probe(args)

    def add_simulate_arguments(self, parser: argparse.ArgumentParser) -> bool:
        parser.add_argument("--recording", type=Path, required=True, help="directory of recorded ONVIF replies")
        parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8080)
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password-env", default="LVGATE_SIM_PASSWORD", help="variable holding the password")
        parser.add_argument("--clock-offset", type=float, default=0.0, help="seconds the camera clock is off")
        parser.add_argument("--snapshot", type=Path, help="JPEG served at every snapshot URI")
        return True

    async def simulate(self, args: argparse.Namespace, stop: asyncio.Event) -> int:
        import os

        from lvgate.drivers.onvif.simulator import CameraServer, RecordedCamera
        from lvgate.simulate import is_loopback

        if not is_loopback(args.host):
            print(f"refusing to serve on {args.host}: simulators bind loopback only")
            return 2
        if not args.recording.is_dir():
            print(f"no recording directory {args.recording}")
            return 1
        camera = RecordedCamera(
            args.recording,
            username=args.username,
            password=os.environ.get(args.password_env, "secret"),
            clock_offset=args.clock_offset,
            snapshot=args.snapshot.read_bytes() if args.snapshot else None,
        )
        server = CameraServer(camera, args.host, args.port)
        await server.start()
        print(f"camera {args.recording.name}: {len(camera.files)} recorded replies at {server.device_url}", flush=True)
        await stop.wait()
        await server.stop()
        return 0

"""What a reachability device is: one target and its checks, from the device entry or a profile.

A profile (edge_config/profiles/reachability/<name>.yaml) holds the checks typical of a kind of
target (an NVR answers on its web port and on RTSP); the device entry says where the target
is and may list its own ``checks``, which then replace the profile's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lvgate.drivers.base import DeviceConfig
from lvgate.drivers.profiles import profile_names, read_profile
from lvgate.paths import profile_dir

DEFAULT_TIMEOUT = 2.0
DEFAULT_DOWN_AFTER = 3


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IcmpCheck(_Strict):
    kind: Literal["icmp"]
    count: int = Field(default=3, ge=1, le=20, description="echo requests per poll; RTT is their median")
    interval: float = Field(default=0.2, ge=0.0, le=5.0, description="seconds between echo requests")

    @property
    def label(self) -> str:
        return "icmp"


class TcpCheck(_Strict):
    kind: Literal["tcp"]
    port: int = Field(ge=1, le=65535)

    @property
    def label(self) -> str:
        return f"tcp:{self.port}"


class HttpCheck(_Strict):
    kind: Literal["http"]
    scheme: Literal["http", "https"] = "http"
    port: int | None = Field(default=None, ge=1, le=65535, description="default: 80 for http, 443 for https")
    path: str = Field(default="/", pattern=r"^/", description="path and query, starting with '/'")
    method: Literal["GET", "HEAD"] = "GET"
    expect_status: tuple[int, ...] = Field(default=(), description="accepted status codes; empty: any below 400")
    body_contains: str | None = Field(default=None, description="text the body must contain")
    verify_tls: bool = Field(default=True, description="verify the certificate chain and host name")

    @field_validator("expect_status")
    @classmethod
    def _statuses(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        for code in value:
            if not 100 <= code <= 599:
                raise ValueError(f"{code} is not an HTTP status code (100 to 599)")
        return value

    @property
    def label(self) -> str:
        return f"{self.scheme}:{self.port or (443 if self.scheme == 'https' else 80)}{self.path}"

    def status_ok(self, status: int) -> bool:
        return status in self.expect_status if self.expect_status else status < 400


Check = Annotated[IcmpCheck | TcpCheck | HttpCheck, Field(discriminator="kind")]


def _one_icmp_one_http(checks: tuple[Check, ...]) -> tuple[Check, ...]:
    # rtt and http_status are single entities of the device: two such checks would collide.
    for kind in ("icmp", "http"):
        if sum(1 for c in checks if c.kind == kind) > 1:
            raise ValueError(f"at most one '{kind}' check per device (give a second target its own device)")
    return checks


class ReachabilityDeviceConfig(DeviceConfig):
    driver: Literal["reachability"] = "reachability"
    host: str = Field(min_length=1, description="name or address of the target")
    checks: tuple[Check, ...] | None = Field(default=None, description="replace the profile's checks")
    timeout: float | None = Field(default=None, gt=0, le=60, description="seconds each check may take")
    down_after: int | None = Field(default=None, ge=1, le=100, description="failed polls in a row before 'down'")

    @field_validator("checks")
    @classmethod
    def _checks(cls, value: tuple[Check, ...] | None) -> tuple[Check, ...] | None:
        return None if value is None else _one_icmp_one_http(value)


class ReachabilityProfile(_Strict):
    profile: str
    title: str
    description: str = ""
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0, le=60)
    down_after: int = Field(default=DEFAULT_DOWN_AFTER, ge=1, le=100)
    checks: tuple[Check, ...] = Field(min_length=1)

    @field_validator("checks")
    @classmethod
    def _checks(cls, value: tuple[Check, ...]) -> tuple[Check, ...]:
        return _one_icmp_one_http(value)


@dataclass(frozen=True, slots=True)
class Plan:
    """What one poll of a device does: the device entry merged over its profile."""

    host: str
    checks: tuple[Check, ...]
    timeout: float
    down_after: int

    @property
    def keys(self) -> list[str]:
        """The entity keys this device publishes, in a stable order."""
        kinds = {c.kind for c in self.checks}
        keys = ["reachable", "checks_failed"]
        if "icmp" in kinds:
            keys += ["rtt", "packet_loss"]
        if "tcp" in kinds:
            keys.append("tcp_connect_time")
        if "http" in kinds:
            keys += ["http_status", "http_response_time"]
            if any(isinstance(c, HttpCheck) and c.scheme == "https" for c in self.checks):
                keys.append("cert_days_left")
        return keys


def profile_path(name: str) -> Path:
    return profile_dir("reachability") / f"{name}.yaml"


@cache
def load_profile(name: str) -> ReachabilityProfile:
    return read_profile("reachability", name, ReachabilityProfile)


def available_profiles() -> list[str]:
    return profile_names("reachability")


def plan_of(config: DeviceConfig) -> Plan:
    """The checks, timeout and debounce of a device. ProfileError if its profile is unusable;
    ValueError if it ends up with no check at all."""
    assert isinstance(config, ReachabilityDeviceConfig)
    profile = load_profile(config.profile) if config.profile else None
    checks = config.checks if config.checks is not None else (profile.checks if profile else ())
    if not checks:
        raise ValueError("no checks: list some under 'checks' or name a 'profile'")
    return Plan(
        host=config.host,
        checks=checks,
        timeout=config.timeout or (profile.timeout if profile else DEFAULT_TIMEOUT),
        down_after=config.down_after or (profile.down_after if profile else DEFAULT_DOWN_AFTER),
    )

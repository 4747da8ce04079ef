"""The config schema of an SNMP device (unknown keys are errors)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictInt, field_validator, model_validator

from lvgate.drivers.base import DeviceConfig
from lvgate.drivers.snmp.client import AuthProtocol, Credentials, PrivProtocol, Target


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class V3User(_Strict):
    user: str = Field(min_length=1)
    auth_protocol: AuthProtocol = "SHA256"
    auth_key: SecretStr | None = Field(default=None, description="use !secret or ${ENV}: never written in clear")
    priv_protocol: PrivProtocol = "AES"
    priv_key: SecretStr | None = None
    context: str = ""

    @model_validator(mode="after")
    def _keys(self) -> V3User:
        if self.auth_protocol != "none" and (self.auth_key is None or len(self.auth_key.get_secret_value()) < 8):
            raise ValueError("auth_key of at least 8 characters is needed with an auth_protocol")
        if self.priv_protocol != "none":
            if self.auth_protocol == "none":
                raise ValueError("privacy needs authentication (set auth_protocol)")
            if self.priv_key is None or len(self.priv_key.get_secret_value()) < 8:
                raise ValueError("priv_key of at least 8 characters is needed with a priv_protocol")
        return self


class TrapListener(_Strict):
    """Where this device's traps and informs are received (one UDP port per device)."""

    address: str = Field(default="127.0.0.1", description="local address to bind")
    port: int = Field(default=1162, ge=1, le=65535)
    community: SecretStr | None = Field(default=None, description="v1/v2c community accepted; defaults to the device's")
    v3: V3User | None = Field(default=None, description="v3 user for traps/informs; defaults to the device's")
    engine_id: str | None = Field(default=None, description="hex engine id of the sender, for v3 traps")


PortEntry = StrictInt | str


class PortSelection(_Strict):
    """Which IF-MIB interfaces matter: only they get per-port entities (port_up.<ifIndex>, rates,
    errors, discards, speed) and only they are counted in ports_up.

    Unset or empty: every physical port (ethernetCsmacd 6, fastEther 62, gigabitEthernet 117).
    With ``include`` or ``uplinks``: the interfaces they name, and nothing else. ``exclude``
    always wins. Names are shell patterns (``*``, ``?``, ``[...]``) matched case-insensitively
    against ifName and ifDescr; integers are ifIndex numbers. An explicit include may name any
    interface (a port-channel, a VLAN interface); the uplink rule looks at physical ports and
    link aggregates (ieee8023adLag 161) only."""

    include: list[PortEntry] = Field(default_factory=list, description="ifIndex numbers or ifName/ifDescr patterns")
    exclude: list[PortEntry] = Field(default_factory=list, description="left out, whatever selected them")
    uplinks: bool = Field(default=False, description="also select physical ports and LAGs that look like uplinks")
    uplink_alias: list[str] = Field(
        default_factory=lambda: ["*uplink*", "*trunk*"],
        description="ifAlias patterns (case-insensitive) that mark an uplink",
    )
    uplink_speed: float | None = Field(
        default=10e9, gt=0, description="bit/s: a port at least this fast is an uplink; null: speed does not count"
    )

    @field_validator("include", "exclude", "uplink_alias")
    @classmethod
    def _entries(cls, entries: list[PortEntry]) -> list[PortEntry]:
        for entry in entries:
            if isinstance(entry, int) and entry < 1:
                raise ValueError(f"ifIndex {entry}: interface indexes start at 1")
            if isinstance(entry, str) and not entry.strip():
                raise ValueError("an empty name matches no interface")
        return entries


class SnmpDeviceConfig(DeviceConfig):
    driver: Literal["snmp"] = "snmp"
    profile: str | None = Field(default=None, description="a file in profiles/snmp/; unset: chosen by sysObjectID")
    device_class: Literal["switch", "ups", "env_sensor", "host"] | None = Field(
        default=None, description="needed only when profile is unset and the device is not a switch"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=161, ge=1, le=65535)
    version: Literal["1", "2c", "3"] = "2c"
    community: SecretStr = SecretStr("public")
    v3: V3User | None = None
    timeout: float = Field(default=2.0, gt=0, le=60)
    retries: int = Field(default=1, ge=0, le=5)
    max_repetitions: int = Field(default=25, ge=1, le=200, description="GETBULK max-repetitions")
    max_oids_per_pdu: int = Field(default=40, ge=1, le=200)
    max_concurrent: int = Field(default=2, ge=1, le=16, description="requests in flight to this device")
    expected_vlans: list[int] | None = Field(default=None, description="VLAN ids the switch must have")
    traps: TrapListener | None = None
    ports: PortSelection = Field(
        default_factory=PortSelection, description="which interfaces get per-port entities and count in ports_up"
    )

    @model_validator(mode="after")
    def _v3_given(self) -> SnmpDeviceConfig:
        if self.version == "3" and self.v3 is None:
            raise ValueError("version 3 needs a 'v3' section (user, auth/priv protocols and keys)")
        return self

    def target(self) -> Target:
        return Target(
            self.host,
            self.port,
            self.timeout,
            self.retries,
            self.max_repetitions,
            self.max_oids_per_pdu,
            self.max_concurrent,
        )

    def credentials(self) -> Credentials:
        if self.version == "3" and self.v3 is not None:
            return v3_credentials(self.v3)
        return Credentials(version=self.version, community=self.community.get_secret_value())


def v3_credentials(user: V3User) -> Credentials:
    return Credentials(
        version="3",
        user=user.user,
        auth_protocol=user.auth_protocol,
        auth_key=user.auth_key.get_secret_value() if user.auth_key else "",
        priv_protocol=user.priv_protocol,
        priv_key=user.priv_key.get_secret_value() if user.priv_key else "",
        context=user.context,
    )

"""The gateway's YAML config: typed models and precise, complete error reports.

Validation runs in two stages so that every problem of a file is reported at once: the
gateway settings first, then each device against the model its driver declares. Every
problem carries file:line:column, names the device it belongs to, and suggests the right
spelling of a mistyped key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from lvgate.drivers.base import ID_PATTERN, DeviceConfig, Driver
from lvgate.drivers.registry import drivers
from lvgate.gateway.yaml_source import ConfigError, ConfigProblem, LoadedYaml, SourceMap, load_yaml
from lvgate.spelling import did_you_mean


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsConfig(_Strict):
    ca_file: Path | None = Field(default=None, description="CA bundle that signed the broker's certificate")
    cert_file: Path | None = Field(default=None, description="client certificate, for brokers that require one")
    key_file: Path | None = None
    check_hostname: bool = True


class MqttConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    base_topic: str = Field(default="lvgate", pattern=r"^[^+#\x00]+$")
    client_id: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    keepalive: int = Field(default=30, ge=5, le=3600)
    protocol: Literal["5", "3.1.1"] = "5"
    tls: TlsConfig | None = None


class GatewaySettings(_Strict):
    site: str = Field(min_length=1)
    room: str = Field(min_length=1)
    gateway_id: str = Field(pattern=ID_PATTERN)
    mqtt: MqttConfig = MqttConfig()
    state_dir: Path = Field(default=Path("var"), description="queue and state files; relative to the config file")
    devices: list[Any] = Field(default_factory=list)


@dataclass(frozen=True)
class GatewayConfig:
    """A validated gateway config file."""

    file: Path
    settings: GatewaySettings
    devices: tuple[DeviceConfig, ...]
    digest: str

    @property
    def state_dir(self) -> Path:
        return (self.file.parent / self.settings.state_dir).resolve()

    def driver_of(self, device: DeviceConfig) -> Driver:
        return drivers()[device.driver]


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path)


def _reword(msg: str) -> str:
    msg = msg.removeprefix("Value error, ")
    if msg.startswith("Input should be"):
        msg = "must be" + msg[len("Input should be") :]
    if msg.startswith("String should"):
        msg = "must" + msg[len("String should") :]
    return msg


def _translate(
    exc: ValidationError,
    source: SourceMap,
    prefix: tuple[str | int, ...],
    context: str,
    model: type[BaseModel],
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = (*prefix, *loc)
        field = str(loc[-1]) if loc else ""
        if err["type"] == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            hint = did_you_mean(field, list(parent.model_fields)) if parent else ""
            message = f"unknown key '{field}'{context}{hint}"
            location = source.where(path, key=True)
        elif err["type"] == "missing":
            where = f" '{_dotted(loc[:-1])}'" if len(loc) > 1 else ""
            message = f"missing required key '{field}'{context}{where and ' in' + where}"
            location = source.where(path[:-1])
        else:
            shown = "" if path in source.secret_paths or _is_secret(model, loc) else f" (got {err['input']!r})"
            message = f"bad value for '{_dotted(loc)}'{context}: {_reword(err['msg'])}{shown}"
            location = source.where(path)
        problems.append(ConfigProblem(location, message))
    return problems


def _model_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The nested model class that ``loc`` points into (for key suggestions)."""
    current: type[BaseModel] = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        candidates = [field.annotation, *getattr(field.annotation, "__args__", ())]
        nested = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if nested is None:
            return None
        current = nested
    return current


def _is_secret(model: type[BaseModel], loc: tuple[str | int, ...]) -> bool:
    parent = _model_at(model, loc[:-1])
    if parent is None or not loc:
        return False
    field = parent.model_fields.get(str(loc[-1]))
    return field is not None and "SecretStr" in str(field.annotation)


def _validate_devices(raw_devices: list[Any], source: SourceMap) -> tuple[list[DeviceConfig], list[ConfigProblem]]:
    installed = drivers()
    problems: list[ConfigProblem] = []
    devices: list[DeviceConfig] = []
    first_seen: dict[str, int] = {}
    for index, raw in enumerate(raw_devices):
        path: tuple[str | int, ...] = ("devices", index)
        if not isinstance(raw, dict):
            problems.append(ConfigProblem(source.where(path), "a device must be a mapping of settings"))
            continue
        device_id = raw.get("id")
        context = f" in device '{device_id}'" if isinstance(device_id, str) else f" in device #{index + 1}"
        if isinstance(device_id, str):
            if device_id in first_seen:
                problems.append(
                    ConfigProblem(
                        source.where((*path, "id")),
                        f"duplicate device id '{device_id}' (first used at line {first_seen[device_id]})",
                    )
                )
            else:
                first_seen[device_id] = source.where((*path, "id")).line
        driver_name = raw.get("driver")
        if driver_name is None:
            problems.append(ConfigProblem(source.where(path), f"missing required key 'driver'{context}"))
            continue
        driver = installed.get(str(driver_name))
        if driver is None:
            known = ", ".join(sorted(installed)) or "none"
            problems.append(
                ConfigProblem(
                    source.where((*path, "driver")),
                    f"unknown driver '{driver_name}'{context}{did_you_mean(str(driver_name), list(installed))};"
                    f" installed drivers: {known}",
                )
            )
            continue
        try:
            device = driver.config_model.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_translate(exc, source, path, context, driver.config_model))
            continue
        for key, message in driver.check_device(device):
            problems.append(ConfigProblem(source.where((*path, key)), f"{message}{context}"))
        devices.append(device)
    return devices, problems


def parse_gateway_config(loaded: LoadedYaml, file: Path) -> GatewayConfig:
    """Validate loaded YAML as a gateway config. Raises ConfigError listing every problem."""
    source = loaded.source
    if not isinstance(loaded.data, dict):
        raise ConfigError(
            [ConfigProblem(source.where(()), "top level must be a mapping of settings (site, room, devices, ...)")]
        )
    problems: list[ConfigProblem] = []
    settings: GatewaySettings | None = None
    try:
        settings = GatewaySettings.model_validate(loaded.data)
    except ValidationError as exc:
        problems.extend(_translate(exc, source, (), "", GatewaySettings))
    raw_devices = loaded.data.get("devices")
    devices: list[DeviceConfig] = []
    if isinstance(raw_devices, list):
        devices, device_problems = _validate_devices(raw_devices, source)
        problems.extend(device_problems)
    if problems or settings is None:
        raise ConfigError(problems)
    digest = hashlib.sha256(file.read_bytes()).hexdigest()[:16]
    return GatewayConfig(file=file, settings=settings, devices=tuple(devices), digest=digest)


def load_gateway_config(path: Path | str) -> GatewayConfig:
    """Read and validate a gateway config file. Raises ConfigError listing every problem."""
    file = Path(path)
    return parse_gateway_config(load_yaml(file, display_name=str(path)), file)

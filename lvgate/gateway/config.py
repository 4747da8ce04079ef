"""The gateway's YAML config: typed models and precise, complete error reports.

Validation runs in two stages so that every problem of a file is reported at once: the
gateway settings first, then each device against the model its driver declares. Every
problem carries file:line:column, names the device it belongs to, and suggests the right
spelling of a mistyped key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails

from lvgate.drivers.base import ID_PATTERN, DeviceConfig, Driver
from lvgate.drivers.registry import InstalledDrivers, drivers
from lvgate.gateway.yaml_source import ConfigError, ConfigProblem, LoadedYaml, SourceMap, load_yaml
from lvgate.mqtt_link import LinkSettings
from lvgate.spelling import did_you_mean

ModelT = TypeVar("ModelT", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_TOPIC_PATTERN = r"^[^+#\x00]+$"


class TlsConfig(_Strict):
    ca_file: Path | None = Field(default=None, description="CA bundle that signed the broker's certificate")
    cert_file: Path | None = Field(default=None, description="client certificate, for brokers that require one")
    key_file: Path | None = None
    check_hostname: bool = True


class MqttConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    base_topic: str = Field(default="lvgate", pattern=_TOPIC_PATTERN)
    client_id: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    keepalive: int = Field(default=30, ge=5, le=3600)
    protocol: Literal["5", "3.1.1"] = "5"
    tls: TlsConfig | None = None

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_as_text(cls, value: Any) -> Any:
        # YAML reads `protocol: 5` as a number; the version is a word.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class QueueConfig(_Strict):
    """Bounds of the on-disk queue of messages waiting for the broker."""

    max_messages: int = Field(default=1_000_000, ge=10, description="oldest history is dropped first beyond this")
    max_age: float = Field(default=30 * 86400, gt=0, description="seconds; older history is dropped")


def link_settings(
    mqtt: MqttConfig,
    *,
    client_id: str,
    resolve: Callable[[Path], Path],
    clean_start: bool = True,
    session_expiry_s: int = 0,
) -> LinkSettings:
    """How to connect, from an `mqtt:` section; file paths taken relative to its config file."""
    tls = mqtt.tls
    return LinkSettings(
        host=mqtt.host,
        port=mqtt.port,
        client_id=mqtt.client_id or client_id,
        keepalive=mqtt.keepalive,
        protocol=mqtt.protocol,
        username=mqtt.username or None,
        password=mqtt.password.get_secret_value() if mqtt.password else None,
        ca_file=str(resolve(tls.ca_file)) if tls and tls.ca_file else None,
        cert_file=str(resolve(tls.cert_file)) if tls and tls.cert_file else None,
        key_file=str(resolve(tls.key_file)) if tls and tls.key_file else None,
        check_hostname=tls.check_hostname if tls else True,
        clean_start=clean_start,
        session_expiry_s=session_expiry_s,
    )


class HomeAssistantConfig(_Strict):
    """MQTT discovery for Home Assistant."""

    enabled: bool = True
    prefix: str = Field(default="homeassistant", pattern=_TOPIC_PATTERN)


class GatewaySettings(_Strict):
    site: str = Field(min_length=1)
    room: str = Field(min_length=1)
    gateway_id: str = Field(pattern=ID_PATTERN)
    mqtt: MqttConfig = MqttConfig()
    state_dir: Path = Field(default=Path("var"), description="queue and state files; relative to the config file")
    queue: QueueConfig = QueueConfig()
    homeassistant: HomeAssistantConfig = HomeAssistantConfig()
    devices: list[Any] = Field(default_factory=list)


@dataclass(frozen=True)
class GatewayConfig:
    """A validated gateway config file."""

    file: Path
    settings: GatewaySettings
    devices: tuple[DeviceConfig, ...]
    digest: str
    raw: Any = None
    secret_paths: frozenset[tuple[str | int, ...]] = frozenset()

    @property
    def state_dir(self) -> Path:
        return self.resolve(self.settings.state_dir)

    def resolve(self, path: Path) -> Path:
        """A path of the config, taken relative to the config file's directory."""
        return path if path.is_absolute() else (self.file.parent / path).resolve()

    def redacted(self) -> Any:
        """The config as written, with every secret (and every password-like key) replaced by '***'."""
        return _redact(self.raw, (), self.secret_paths)

    def driver_of(self, device: DeviceConfig) -> Driver:
        return drivers()[device.driver]


_SECRET_WORDS = ("password", "token", "secret", "key")


def _redact(value: Any, path: tuple[str | int, ...], secret_paths: frozenset[tuple[str | int, ...]]) -> Any:
    if path in secret_paths:
        return "***"
    if isinstance(value, dict):
        return {
            k: "***" if any(w in str(k).lower() for w in _SECRET_WORDS) and v is not None and not isinstance(v, dict)
            else _redact(v, (*path, k), secret_paths)
            for k, v in value.items()
        }  # fmt: skip
    if isinstance(value, list):
        return [_redact(v, (*path, i), secret_paths) for i, v in enumerate(value)]
    return value


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path)


# What a pattern means, in words a technician can act on.
_PATTERN_TEXT = {
    ID_PATTERN: "must be 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit",
    _TOPIC_PATTERN: "must not contain '+', '#' or a NUL character",
}


def _reword(msg: str) -> str:
    msg = msg.removeprefix("Value error, ")
    if msg.startswith("Input should be"):
        msg = "must be" + msg[len("Input should be") :]
    if msg.startswith("String should"):
        msg = "must" + msg[len("String should") :]
    return msg


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _expected(err: ErrorDetails) -> str:
    """A short statement of what the value should have been."""
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "expected a whole number"
    if kind in ("float_type", "float_parsing"):
        return "expected a number"
    if kind in ("bool_type", "bool_parsing"):
        return "expected true or false"
    if kind == "string_type":
        return "expected text"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "expected a mapping of settings"
    if kind in ("list_type", "tuple_type"):
        return "expected a list"
    if kind == "path_type":
        return "expected a file path"
    if kind == "greater_than_equal":
        return f"must be at least {_number(ctx['ge'])}"
    if kind == "less_than_equal":
        return f"must be at most {_number(ctx['le'])}"
    if kind == "greater_than":
        return f"must be more than {_number(ctx['gt'])}"
    if kind == "less_than":
        return f"must be less than {_number(ctx['lt'])}"
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else f"must be at least {ctx['min_length']} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern"))
        return _PATTERN_TEXT.get(pattern, f"must match the pattern {pattern}")
    return _reword(err["msg"])


def _shown(value: Any) -> str:
    """`` (got ...)`` for a value the user wrote, kept short."""
    if isinstance(value, dict):
        return " (got a mapping)"
    if isinstance(value, list):
        return " (got a list)"
    if value is None:
        return " (got an empty value)"
    text = ("true" if value else "false") if isinstance(value, bool) else repr(value)
    return f" (got {text[:57]}...)" if len(text) > 60 else f" (got {text})"


def _with_context(message: str, context: str) -> str:
    """Put `` in device 'x'`` before a trailing `` (did you mean ...?)`` hint."""
    head, sep, hint = message.partition(" (did you mean ")
    return f"{head}{context}{sep}{hint}"


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
        if source.has_problem(path):
            continue  # a missing secret or similar, already reported where it was written
        field = str(loc[-1]) if loc else ""
        inside = f" in '{_dotted(loc[:-1])}'" if len(loc) > 1 else ""
        if err["type"] == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            hint = did_you_mean(field, list(parent.model_fields)) if parent else ""
            message = f"unknown key '{field}'{inside}{context}{hint}"
            location = source.where(path, key=True)
        elif err["type"] == "missing":
            message = f"missing required key '{field}'{inside}{context}"
            location = source.where(path[:-1])
        else:
            value = err["input"]
            secret = source.is_secret(path) or _is_secret(model, loc)
            message = f"bad value for '{_dotted(loc)}'{context}: {_expected(err)}"
            # A rule about a whole section already says what is wrong with it: no "(got a mapping)".
            whole_section = err["type"] == "value_error" and isinstance(value, dict | BaseModel)
            message += "" if secret or whole_section else _shown(value)
            if err["type"] == "string_type" and isinstance(value, int | float):
                # YAML read a number where text was meant (a numeric password, room 101).
                message += "; quote it in secrets.yaml" if path in source.secret_paths else "; write it in quotes"
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
            got = "a list" if isinstance(raw, list) else "a single value"
            problems.append(
                ConfigProblem(
                    source.where(path),
                    f"device #{index + 1} must be a mapping of settings (id, driver, profile, ...), not {got}",
                )
            )
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
            if not source.has_problem((*path, "driver")):
                problems.append(ConfigProblem(source.where(path), f"missing required key 'driver'{context}"))
            continue
        driver = installed.get(str(driver_name))
        failure = installed.failure(str(driver_name)) if isinstance(installed, InstalledDrivers) else None
        if failure is not None:
            problems.append(
                ConfigProblem(
                    source.where((*path, "driver")), f"driver '{driver_name}'{context} failed to load: {failure}"
                )
            )
            continue
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
            # Still run the driver's own checks (an unknown profile, say) when the device is
            # valid without the keys in error, so that every problem is reported at once.
            bad = {e["loc"][0] for e in exc.errors() if e["loc"]}
            try:
                partial = driver.config_model.model_validate({k: v for k, v in raw.items() if k not in bad})
            except ValidationError:
                continue
            problems.extend(_driver_checks(driver, partial, source, path, context))
            continue
        problems.extend(_driver_checks(driver, device, source, path, context))
        devices.append(device)
    return devices, problems


def _driver_checks(
    driver: Driver, device: DeviceConfig, source: SourceMap, path: tuple[str | int, ...], context: str
) -> list[ConfigProblem]:
    return [
        ConfigProblem(source.where((*path, key)), _with_context(message, context))
        for key, message in driver.check_device(device)
    ]


def parse_gateway_config(loaded: LoadedYaml, file: Path) -> GatewayConfig:
    """Validate loaded YAML as a gateway config. Raises ConfigError listing every problem."""
    source = loaded.source
    if not isinstance(loaded.data, dict):
        got = "a list" if isinstance(loaded.data, list) else "a single value"
        raise ConfigError(
            [
                *loaded.problems,
                ConfigProblem(
                    source.where(()),
                    f"top level must be a mapping of settings (site, room, gateway_id, mqtt, devices), not {got}",
                ),
            ]
        )
    problems: list[ConfigProblem] = list(loaded.problems)
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
    return GatewayConfig(
        file=file,
        settings=settings,
        devices=tuple(devices),
        digest=digest,
        raw=loaded.data,
        secret_paths=frozenset(source.secret_paths),
    )


def load_gateway_config(path: Path | str) -> GatewayConfig:
    """Read and validate a gateway config file. Raises ConfigError listing every problem."""
    file = Path(path)
    return parse_gateway_config(load_yaml(file, display_name=str(path), keep_going=True), file)


def validate_document(loaded: LoadedYaml, model: type[ModelT]) -> ModelT:
    """Validate a whole loaded file against ``model``, raising ConfigError with every problem."""
    if not isinstance(loaded.data, dict):
        raise ConfigError([ConfigProblem(loaded.source.where(()), "top level must be a mapping of settings")])
    try:
        return model.model_validate(loaded.data)
    except ValidationError as exc:
        raise ConfigError(_translate(exc, loaded.source, (), "", model)) from exc

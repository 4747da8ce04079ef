"""The collector's YAML config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from lvgate.gateway.config import MqttConfig, validate_document
from lvgate.gateway.yaml_source import load_yaml
from lvgate.mqtt_schema.schemas import COLLECTOR_ID_PATTERN
from lvgate.paths import data_dir


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CollectorMqtt(MqttConfig):
    shared_group: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="MQTT 5 shared-subscription group: collectors in one group split the traffic",
    )


class InfluxConfig(_Strict):
    url: str = Field(pattern=r"^https?://")
    api: Literal["v1", "v2"] = "v1"
    database: str = "lvgate"
    retention_policy: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    org: str | None = None
    bucket: str | None = None
    token: SecretStr | None = None
    history_query: Literal["influxql", "prometheus"] = Field(
        default="influxql",
        description="how the API reads history back: influxql over /query (InfluxDB 1.x, 2.4+, 3.x) or "
        "prometheus over /api/v1/export (VictoriaMetrics; numbers and booleans only)",
    )


class SqliteConfig(_Strict):
    path: Path = Path("var/history.sqlite")


class StorageConfig(_Strict):
    influxdb: InfluxConfig | None = None
    sqlite: SqliteConfig | None = None


class AlarmSettings(_Strict):
    enabled: bool = True
    rules: list[Path] = Field(
        default_factory=lambda: [data_dir() / "rules"],
        description="rule files, or directories of *.yaml rule files; relative to the config file",
    )
    tick_s: float = Field(default=5.0, gt=0, le=300, description="how often durations and clocks are checked")


class ApiSettings(_Strict):
    enabled: bool = True
    host: str = Field(default="127.0.0.1", description="bind address; loopback unless you put a proxy in front")
    port: int = Field(default=8470, ge=0, le=65535, description="0 picks a free port (logged)")
    tokens_file: Path | None = Field(default=None, description="one API token per line (# comments allowed)")
    tokens_env: str = Field(default="LVGATE_API_TOKENS", description="environment variable with comma-separated tokens")


Role = Literal["full", "history", "book"]


class CollectorSettings(_Strict):
    collector_id: str = Field(
        default="collector",
        pattern=COLLECTOR_ID_PATTERN,
        description="unique per collector: it names the MQTT session (lvgate-<id>) and the inbox file",
    )
    role: Role = Field(
        default="full",
        description="full: history and the alarm book; history: writes history only (scale-out across hosts); "
        "book: the alarm book, devices and the API without writing history (reads it for queries)",
    )
    mqtt: CollectorMqtt = CollectorMqtt()
    storage: StorageConfig = Field(default_factory=StorageConfig, validate_default=True)
    state_dir: Path = Path("var")
    database: Path | None = Field(
        default=None,
        description="the alarm book, devices, events and dead letters (SQLite); collectors that split one "
        "shared subscription must name the same file. Default: state_dir/central.sqlite",
    )
    validation: Literal["schema", "basic"] = Field(
        default="schema", description="schema: every payload against mqtt_schema's JSON Schemas; basic: shape checks"
    )
    max_payload_bytes: int = Field(default=1_000_000, ge=1024)
    batch_size: int = Field(default=5000, ge=1, le=100_000, description="points per storage write")
    flush_interval: float = Field(default=1.0, gt=0, le=60, description="longest wait to fill a batch (s)")
    alarms: AlarmSettings = AlarmSettings()
    api: ApiSettings = ApiSettings()

    # Checked per key (so a problem is reported where it was written); ``role`` comes first.
    @field_validator("mqtt")
    @classmethod
    def _book_takes_everything(cls, mqtt: CollectorMqtt, info: ValidationInfo) -> CollectorMqtt:
        if info.data.get("role") == "book" and mqtt.shared_group:
            raise ValueError(
                "a 'book' collector must receive every message: remove shared_group (in a group it would see "
                "only its share, and what it does not store nobody stores)"
            )
        return mqtt

    @field_validator("storage")
    @classmethod
    def _shared_history_store(cls, storage: StorageConfig, info: ValidationInfo) -> StorageConfig:
        role = info.data.get("role")
        if role in ("history", "book") and storage.influxdb is None:
            raise ValueError(
                f"role '{role}' needs storage.influxdb, the history store the collectors share (an SQLite "
                "history would stay on this host); one collector alone: use role 'full'"
            )
        return storage

    @field_validator("alarms")
    @classmethod
    def _no_book_on_history(cls, alarms: AlarmSettings, info: ValidationInfo) -> AlarmSettings:
        if info.data.get("role") == "history" and alarms.enabled:
            raise ValueError(
                "role 'history' runs no alarm book: remove 'alarms' (or set enabled: false), or use role 'full' or 'book'"
            )
        if info.data.get("role") == "book" and not alarms.enabled:
            raise ValueError("a 'book' collector is the alarm book: alarms.enabled must stay true")
        return alarms

    @property
    def runs_alarm_book(self) -> bool:
        return self.alarms.enabled and self.role != "history"

    @property
    def writes_history(self) -> bool:
        return self.role != "book"


@dataclass(frozen=True)
class CollectorConfig:
    file: Path
    settings: CollectorSettings

    @property
    def database(self) -> Path:
        settings = self.settings
        return self.resolve(settings.database or settings.state_dir / "central.sqlite")

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.file.parent / path).resolve()


def load_collector_config(path: Path | str) -> CollectorConfig:
    file = Path(path)
    settings = validate_document(load_yaml(file, display_name=str(path)), CollectorSettings)
    return CollectorConfig(file, settings)

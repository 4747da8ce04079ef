"""The collector's YAML config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from lvgate.gateway.config import MqttConfig, validate_document
from lvgate.gateway.yaml_source import load_yaml
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
    collector_id: str = Field(default="collector", pattern=r"^[A-Za-z0-9_.-]+$")
    role: Role = Field(
        default="full",
        description="full: history and the alarm book; history: writes history only (scale-out across hosts); "
        "book: the alarm book, devices and the API without writing history (reads it for queries)",
    )
    mqtt: CollectorMqtt = CollectorMqtt()
    storage: StorageConfig = StorageConfig()
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

    @model_validator(mode="after")
    def _role_fits(self) -> CollectorSettings:
        if self.role == "history" and "alarms" in self.model_fields_set and self.alarms.enabled:
            raise ValueError(
                "role 'history' runs no alarm book: remove 'alarms' (or set alarms.enabled: false), "
                "or use role 'full' or 'book'"
            )
        return self

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

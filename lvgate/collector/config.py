"""The collector's YAML config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from lvgate.gateway.config import MqttConfig, validate_document
from lvgate.gateway.yaml_source import load_yaml


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


class SqliteConfig(_Strict):
    path: Path = Path("var/history.sqlite")


class StorageConfig(_Strict):
    influxdb: InfluxConfig | None = None
    sqlite: SqliteConfig | None = None


class CollectorSettings(_Strict):
    collector_id: str = Field(default="collector", pattern=r"^[A-Za-z0-9_.-]+$")
    mqtt: CollectorMqtt = CollectorMqtt()
    storage: StorageConfig = StorageConfig()
    state_dir: Path = Path("var")
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    flush_interval: float = Field(default=1.0, gt=0, le=60)


@dataclass(frozen=True)
class CollectorConfig:
    file: Path
    settings: CollectorSettings

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.file.parent / path).resolve()


def load_collector_config(path: Path | str) -> CollectorConfig:
    file = Path(path)
    settings = validate_document(load_yaml(file, display_name=str(path)), CollectorSettings)
    return CollectorConfig(file, settings)

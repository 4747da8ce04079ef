"""Reading a driver's profile files (YAML data in ``edge_config/profiles/<driver>/``)."""

from __future__ import annotations

from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from lvgate.drivers.base import ProfileError, UnknownProfile
from lvgate.paths import profile_dir

ProfileT = TypeVar("ProfileT", bound=BaseModel)


def read_profile(driver: str, name: str, model: type[ProfileT], *, kind: str | None = None) -> ProfileT:
    """``<driver>/<name>.yaml`` validated by ``model``. UnknownProfile when there is no such
    file (its ``choices`` list the profiles there are), ProfileError naming the file and the
    place when it is wrong. ``kind`` is how messages name the profile ("Modbus")."""
    path = profile_dir(driver) / f"{name}.yaml"
    label = kind or driver
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UnknownProfile(label, name, profile_names(driver), f"looked for {path}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProfileError(f"{path}: {where}: {first['msg']}") from exc


def profile_names(driver: str) -> list[str]:
    return sorted(p.stem for p in profile_dir(driver).glob("*.yaml"))

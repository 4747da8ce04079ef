"""Every shipped profile maps only to vocabulary keys of its device class.

Generic over drivers: a profile is read through its driver's loader when the driver has one
(``lvgate.drivers.<driver>.profile.load_profile``), else as YAML with ``device_class`` and
``points[].key``. Profiles of another shape are skipped, each with the reason.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from lvgate.mqtt_schema.vocabulary import vocabulary
from lvgate.paths import data_dir

PROFILES = data_dir() / "profiles"


def _profile_files() -> list[Path]:
    return sorted(p for p in PROFILES.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def _keys_from_loader(driver: str, path: Path) -> tuple[str, list[str]] | None:
    """(device_class, keys) through the driver's own loader, or None when it has none for this file."""
    try:
        module = importlib.import_module(f"lvgate.drivers.{driver}.profile")
    except ImportError:
        return None
    load = getattr(module, "load_profile", None)
    if load is None or path.parent != PROFILES / driver:
        return None
    try:
        profile = load(path.stem)
    except Exception as exc:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and "device_class" in document:
            raise  # it says it is a profile: its loader must read it
        pytest.skip(f"{driver} file {path.name} is not a profile its loader reads ({type(exc).__name__})")
    device_class = getattr(profile, "device_class", None)
    keys = list(_collect_keys(profile))
    if not isinstance(device_class, str) or not keys:
        return None
    return device_class, keys


def _collect_keys(item: Any) -> list[str]:
    """``key`` of every point/table, also inside the blocks (``parts``) a profile is composed of."""
    keys = [item.key] if isinstance(getattr(item, "key", None), str) else []
    for attribute in ("points", "tables", "parts"):
        children = getattr(item, attribute, None)
        if isinstance(children, list):
            for child in children:
                keys += _collect_keys(child)
    return keys


def _keys_from_yaml(document: Any) -> tuple[str, list[str]] | str:
    if not isinstance(document, dict):
        return "not a mapping"
    device_class, points = document.get("device_class"), document.get("points")
    if not isinstance(device_class, str) or not isinstance(points, list):
        return f"no device_class + points[] (top-level keys: {', '.join(map(str, document))})"
    keys = [p.get("key") for p in points if isinstance(p, dict)]
    if len(keys) != len(points) or not all(isinstance(k, str) for k in keys):
        return "points without a key"
    return device_class, [str(k) for k in keys]


def _base_key(key: str) -> str:
    return key.partition(".")[0]  # an instance key (temperature.1010) is its base key


@pytest.mark.parametrize("path", _profile_files(), ids=lambda p: str(p.relative_to(PROFILES)))
def test_profile_maps_only_to_vocabulary_keys(path: Path) -> None:
    driver = path.relative_to(PROFILES).parts[0]
    if path.parent.name == "blocks":
        pytest.skip(f"{driver} block {path.name} has no device class; its keys are checked in the profiles using it")
    found = _keys_from_loader(driver, path)
    if found is None:
        shape = _keys_from_yaml(yaml.safe_load(path.read_text(encoding="utf-8")))
        if isinstance(shape, str):
            pytest.skip(f"{driver} profile {path.name} has another shape ({shape}); its driver's own tests check it")
        found = shape
    device_class, keys = found
    assert device_class in vocabulary(), f"{path}: device_class '{device_class}' is not in the vocabulary"
    entities = vocabulary()[device_class].entities
    unknown = sorted({k for k in keys if _base_key(k) not in entities})
    assert not unknown, f"{path}: keys not in the vocabulary of {device_class}: {unknown}"


def test_there_are_profiles_to_check() -> None:
    assert _profile_files(), f"no profiles under {PROFILES}"


def test_a_profile_with_a_key_outside_the_vocabulary_would_be_caught() -> None:
    found = _keys_from_yaml(yaml.safe_load("device_class: ups\npoints: [{key: load}, {key: outpt_voltage}]"))
    assert found == ("ups", ["load", "outpt_voltage"])
    assert [k for k in found[1] if _base_key(k) not in vocabulary()["ups"].entities] == ["outpt_voltage"]
    assert _keys_from_yaml({"formats": []}) == "no device_class + points[] (top-level keys: formats)"

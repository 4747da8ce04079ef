"""Where lvgate finds its shipped data (profiles, vocabulary, rules)."""

from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The ``edge_config`` directory: ``$LVGATE_DATA_DIR`` if set, else the one beside the package."""
    override = os.environ.get("LVGATE_DATA_DIR")
    if override:
        return Path(override)
    for candidate in (_REPO_ROOT / "edge_config", Path("/usr/share/lvgate/edge_config")):
        if candidate.is_dir():
            return candidate
    return _REPO_ROOT / "edge_config"


def profile_dir(driver: str) -> Path:
    return data_dir() / "profiles" / driver

"""Locate the real device data in ``../shared/fixtures`` (never copied into the project).

Tests call :func:`fixture_path`; when the data is absent they skip and say why.
``LVGATE_FIXTURES`` overrides the location.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def fixtures_root() -> Path:
    return Path(os.environ.get("LVGATE_FIXTURES", _DEFAULT))


def fixture_path(*parts: str) -> Path:
    """The path of a shared fixture; skips the calling test when it is not there."""
    path = fixtures_root().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared fixture {path} is absent (set LVGATE_FIXTURES to the shared/fixtures directory)")
    return path

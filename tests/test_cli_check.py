"""`lvgate check` on every shipped example, and on a broken collector config."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvgate.cli import main
from lvgate.paths import data_dir


def test_every_shipped_example_passes_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LVGATE_CARD_KEY", "a-site-key-of-20-chars")  # doors.yaml takes its card key from here
    examples = sorted((data_dir() / "examples").glob("*.yaml"))
    assert len(examples) >= 5
    assert main(["check", *map(str, examples)]) == 0
    out = capsys.readouterr().out
    assert out.count(": OK: ") == len(examples)
    assert "collector 'collector-1'" in out


def test_a_broken_collector_config_is_reported_with_its_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "collector.yaml"
    bad.write_text("collector_id: c1\nstorage:\n  sqlite: {pth: x.sqlite}\n", encoding="utf-8")
    assert main(["check", str(bad)]) == 1
    # column 12: two spaces, 'sqlite:', a space and '{' come before the key
    assert capsys.readouterr().out == f"{bad}:3:12: unknown key 'pth' in 'storage.sqlite' (did you mean 'path'?)\n"

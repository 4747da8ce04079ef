"""`lvgate demo` runs a whole room, stores readings and leaves nothing running."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.services import ProcessGuard, enable_child_subreaper, find_program


@pytest.mark.parametrize(
    ("broker", "duration"),
    [
        pytest.param("auto", 20, id="mosquitto"),
        pytest.param("builtin", 8, id="in-process-broker"),
    ],
)
def test_demo_stores_readings_and_stops_everything(
    tmp_path: Path, process_guard: ProcessGuard, broker: str, duration: int
) -> None:
    if broker == "auto" and find_program("mosquitto") is None:
        pytest.skip("mosquitto not installed: run make system-deps")
    enable_child_subreaper()
    demo = process_guard.start(
        [sys.executable, "-m", "lvgate.cli", "demo", "--duration", str(duration), "--broker", broker,
         "--workdir", str(tmp_path / "demo")],
        name=f"demo-{broker}",
    )  # fmt: skip
    assert demo.wait(timeout=duration + 60) == 0, demo.output()
    out = demo.stdout_text()
    stored = re.search(r"readings stored\s+(\d+)", out)
    published = re.search(r"readings published\s+(\d+)", out)
    assert stored and published, out
    assert int(stored.group(1)) > 0
    # Everything published before the stop was stored: the gateway stops first, the collector drains.
    assert int(stored.group(1)) == int(published.group(1)), out
    assert re.search(r"errors\s+0\b", out), out
    assert "devices seen      2 of 2" in out
    assert demo.leftovers() == [], "processes survived the demo"

"""The technician tools: `lvgate simulate snmp RECORDING` serves it, `lvgate probe snmp` reads it back."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.services import ProcessGuard, free_port, wait_for
from tests.shared_fixtures import fixture_path


def test_probe_reads_a_simulated_recording(tmp_path: Path, process_guard: ProcessGuard) -> None:
    recording = fixture_path("snmp", "juniper_ex3400-48t.snmprec")
    port = free_port("udp")
    process_guard.start(
        [sys.executable, "-m", "lvgate.cli", "simulate", "snmp", str(recording), "--port", str(port)],
        name="simulate-snmp",
    )
    probe = [sys.executable, "-m", "lvgate.cli", "probe", "snmp", "127.0.0.1", "--port", str(port),
             "--community", recording.stem, "--timeout", "1"]  # fmt: skip

    def answered() -> subprocess.CompletedProcess[str] | None:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=60, check=False)
        return done if done.returncode == 0 else None

    out = wait_for(answered, timeout=60, what="the probe to read the simulated agent").stdout
    # Values read off the recording by hand: sysObjectID 1.3.6.1.4.1.2636.1.1.1.4.131.2 (a Junos
    # switch), jnxOperatingTemp of the FPC (.2636.3.1.13.1.7.7.1.0.0) = 35.
    assert "juniper" in out.lower()
    assert "ex3400-48t" in out
    assert re.search(r"temperature\S*\s.*\b35(\.0)?\b", out), out

"""`lvgate simulate onvif --recording DIR` and `lvgate probe onvif HOST` as a technician runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.services import free_port
from tests.shared_fixtures import fixture_path

LVGATE = [sys.executable, "-m", "lvgate.cli"]


def test_probe_a_simulated_recorded_camera() -> None:
    recording = fixture_path("onvif", "onvif-nvt_trendnet-tv-ip320pi")
    port = free_port()
    env = {**os.environ, "LVGATE_SIM_PASSWORD": "pw-1", "LVGATE_CAMERA_PASSWORD": "pw-1"}
    sim = subprocess.Popen(
        [*LVGATE, "simulate", "onvif", "--recording", str(recording), "--port", str(port), "--clock-offset", "-90"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert sim.poll() is None, sim.stdout.read() if sim.stdout else ""
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            except urllib.error.HTTPError:
                break  # answering (404: no snapshot configured)
            except OSError:
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.2)
        probe = subprocess.run(
            [*LVGATE, "probe", "onvif", "127.0.0.1", "--port", str(port), "--timeout", "5"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    out = probe.stdout
    assert probe.returncode == 0, out + probe.stderr
    assert "status: streaming" in out
    assert "model: TV-IP320PI" in out and "firmware: V5.3.4 build 160830" in out
    assert "clock drift: -90 s" in out or "clock drift: -89 s" in out or "clock drift: -91 s" in out
    assert "profile Profile_2 (subStream): JPEG 352x240 @ 30.0 fps" in out
    assert "stream:   rtsp://10.10.1.67:554/Streaming/Channels/102?transportmode=unicast&profile=Profile_2" in out
    # event topics come from the recorded GetEventProperties
    assert "event topic: " in out


def test_simulate_refuses_a_non_loopback_address(tmp_path: Path) -> None:
    result = subprocess.run(
        [*LVGATE, "simulate", "onvif", "--recording", str(tmp_path), "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "loopback only" in result.stdout

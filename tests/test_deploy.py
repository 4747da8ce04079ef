"""deploy/: the systemd units, the install script (staged and dry-run, never on this machine) and the Containerfile."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
INSTALL = DEPLOY / "install.sh"
UNITS = ("lvgate-gateway.service", "lvgate-collector.service")
LVGATE = "/opt/lvgate/venv/bin/lvgate"


def directives(unit: Path) -> dict[str, list[str]]:
    """key -> every value it is given (systemd keys may repeat, so not configparser)."""
    found: dict[str, list[str]] = {}
    for line in unit.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def install(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO
    )


@pytest.mark.parametrize("unit", UNITS)
def test_unit_passes_systemd_analyze_verify(unit: str, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed (Debian package systemd)")
    # verify wants the programs to exist: point the unit at a stand-in instead of /opt/lvgate.
    stub = tmp_path / "lvgate"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    rendered = tmp_path / unit
    rendered.write_text((DEPLOY / unit).read_text(encoding="utf-8").replace(LVGATE, str(stub)), encoding="utf-8")
    done = subprocess.run([analyze, "verify", str(rendered)], capture_output=True, text=True, timeout=60, check=False)
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if unit in line]
    assert done.returncode == 0, done.stdout + done.stderr
    assert complaints == []  # unknown keys and bad values are only warnings: none allowed


@pytest.mark.parametrize("unit", UNITS)
def test_unit_hardening_and_places(unit: str) -> None:
    d = directives(DEPLOY / unit)
    assert d["User"] == ["lvgate"] and d["Group"] == ["lvgate"]
    assert d["Restart"] == ["on-failure"]
    assert d["NoNewPrivileges"] == ["yes"]
    assert d["ProtectSystem"] == ["strict"]
    assert d["PrivateTmp"] == ["yes"]
    assert d["StateDirectory"] == ["lvgate"]  # /var/lib/lvgate, owned by the service user
    assert d["ConfigurationDirectory"] == ["lvgate"]  # /etc/lvgate
    assert "LVGATE_STATE_DIR=/var/lib/lvgate" in d["Environment"]  # the example configs' state_dir
    assert any(v.startswith(LVGATE) and "/etc/lvgate/" in v for v in d["ExecStart"])
    assert d["WantedBy"] == ["multi-user.target"]


def test_gateway_unit_reaches_serial_ports() -> None:
    d = directives(DEPLOY / "lvgate-gateway.service")
    assert d["SupplementaryGroups"] == ["dialout"]
    assert "PrivateDevices" not in d  # it would hide /dev/ttyUSB*
    assert d["ExecStartPre"] == [f"{LVGATE} check /etc/lvgate/gateway.yaml"]


def test_install_into_a_staging_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    done = install("--destdir", str(root), "--no-venv", "--role", "both")
    assert done.returncode == 0, done.stdout + done.stderr
    etc = root / "etc" / "lvgate"
    assert (etc / "gateway.yaml").read_bytes() == (REPO / "edge_config/examples/room.yaml").read_bytes()
    assert (etc / "collector.yaml").read_bytes() == (REPO / "edge_config/examples/collector.yaml").read_bytes()
    for unit in UNITS:
        assert (root / "etc/systemd/system" / unit).read_bytes() == (DEPLOY / unit).read_bytes()
    assert (root / "usr/share/lvgate/edge_config/profiles/modbus/huawei_ups2000.yaml").is_file()
    assert (root / "var/lib/lvgate").is_dir()
    assert oct(etc.stat().st_mode & 0o777) == "0o750"
    assert not (root / "opt").exists()  # --no-venv


def test_install_keeps_an_existing_config(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/lvgate").mkdir(parents=True)
    mine = root / "etc/lvgate/gateway.yaml"
    mine.write_text("# the technician's room\n")
    done = install("--destdir", str(root), "--no-venv")
    assert done.returncode == 0, done.stdout + done.stderr
    assert mine.read_text() == "# the technician's room\n"
    assert "exists: kept" in done.stdout
    assert not (root / "etc/lvgate/collector.yaml").exists()  # role gateway only
    assert not (root / "etc/systemd/system/lvgate-collector.service").exists()


def test_dry_run_changes_nothing_and_shows_every_step(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    done = install("--dry-run", "--destdir", str(root), "--role", "collector")
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(root.iterdir()) == []
    shown = [line for line in done.stdout.splitlines() if line.startswith("+ ")]
    assert (
        f"+ install -m 0644 {DEPLOY}/lvgate-collector.service {root}/etc/systemd/system/lvgate-collector.service"
        in shown
    )
    assert any("-m venv" in line and f"{root}/opt/lvgate/venv" in line for line in shown)
    assert not any(line.startswith(("+ useradd", "+ systemctl")) for line in shown)  # staged: system left alone


def test_dry_run_on_the_live_system_lists_user_and_units() -> None:
    done = install("--dry-run", "--role", "gateway")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "+ systemctl enable lvgate-gateway.service" in done.stdout
    assert "+ install -m 0644" in done.stdout
    if subprocess.run(["id", "lvgate"], capture_output=True, check=False).returncode != 0:
        assert "+ useradd --system" in done.stdout


def test_bad_role_is_refused() -> None:
    done = install("--dry-run", "--role", "gatway")
    assert done.returncode == 2
    assert "--role must be gateway, collector or both, not 'gatway'" in done.stderr


def test_staged_example_config_checks_as_the_unit_runs_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert install("--destdir", str(root), "--no-venv").returncode == 0
    env = {
        **os.environ,
        "LVGATE_STATE_DIR": str(root / "var/lib/lvgate"),
        "LVGATE_DATA_DIR": str(root / "usr/share/lvgate/edge_config"),
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lvgate"), "check", str(root / "etc/lvgate/gateway.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout


def test_containerfile_copies_what_exists() -> None:
    text = (DEPLOY / "Containerfile").read_text(encoding="utf-8")
    sources = []
    for line in text.splitlines():
        parts = line.split()
        if parts[:1] == ["COPY"] and not parts[1].startswith("--from"):
            sources += parts[1:-1]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
    assert "USER lvgate" in text
    assert '"collector", "-c", "/etc/lvgate/collector.yaml"' in text


def containerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with backslash continuations joined."""
    joined = (DEPLOY / "Containerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_containerfile_builds_on_either_base() -> None:
    # The official python image has `python` and `pip` on PATH; Debian's python3 package has neither
    # (deploy/container-check.sh builds on such a base). Only `python3` and the venv's own pip work on both.
    steps = containerfile_instructions()
    assert ("ARG", "BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm") in steps
    assert [rest for word, rest in steps if word == "FROM"] == ["${BASE_IMAGE} AS build", "${BASE_IMAGE}"]
    words = {w for word, rest in steps if word == "RUN" for w in rest.replace("&&", " ").split()}
    assert "python3" in words
    assert not words & {"pip", "pip3", "python"}, sorted(words & {"pip", "pip3", "python"})


def test_containerignore_lets_every_copy_source_through() -> None:
    # .containerignore excludes everything and re-includes by name: a new COPY source needs a line there.
    kept = {
        line[1:].strip("/")
        for line in (REPO / ".containerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    }
    sources = [
        source
        for word, rest in containerfile_instructions()
        if word == "COPY" and not rest.startswith("--from")
        for source in rest.split()[:-1]
    ]
    assert sources
    for source in sources:
        assert source.split("/")[0] in kept, source


# Each check script, with what its --help must name.
CHECK_SCRIPTS = {
    "container-check.sh": ["--base-image IMAGE"],
    "install-check.sh": ["--rebuild-base", "--wheel FILE"],
}


@pytest.mark.parametrize(("name", "options"), CHECK_SCRIPTS.items())
def test_check_script_is_valid_bash(name: str, options: list[str]) -> None:
    script = DEPLOY / name
    parsed = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30, check=False)
    assert parsed.returncode == 0, parsed.stderr
    # Options are parsed before anything needs root or podman.
    shown = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True, timeout=30, check=False)
    assert shown.returncode == 0 and all(option in shown.stdout for option in options), shown.stdout + shown.stderr
    refused = subprocess.run(["bash", str(script), "--bogus"], capture_output=True, text=True, timeout=30, check=False)
    assert refused.returncode == 2
    assert "unknown option '--bogus'" in refused.stderr


@pytest.mark.parametrize("name", [*CHECK_SCRIPTS, "check-common.sh"])
def test_check_script_passes_shellcheck(name: str) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (Debian package shellcheck)")
    # -x follows the scripts' `. check-common.sh` (its source= directive is relative to the checkout).
    done = subprocess.run(
        [shellcheck, "-x", f"deploy/{name}"], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr

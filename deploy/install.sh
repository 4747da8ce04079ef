#!/usr/bin/env bash
# Install lvgate on a fresh Raspberry Pi OS / Debian (bookworm, arm64 or amd64) board.
#
#   sudo deploy/install.sh                        # the edge gateway, wheel built from this checkout
#   sudo deploy/install.sh --role collector       # the central collector
#   sudo deploy/install.sh --role both --wheel dist/lvgate-0.1.0-py3-none-any.whl
#   deploy/install.sh --dry-run                   # print every step, change nothing
#   deploy/install.sh --destdir /tmp/stage --no-venv   # files only, into a staging root
#
# What it does, in order (each step is safe to repeat):
#   1. checks Python >= 3.11 and python3-venv (apt-get installs python3-venv if missing)
#   2. creates the system user 'lvgate' (no login, no home) in the dialout group
#   3. creates the virtual environment /opt/lvgate/venv and installs the lvgate wheel into it
#   4. copies the profile library to /usr/share/lvgate/edge_config (replaced on every install)
#   5. copies the example configs to /etc/lvgate/ ONLY IF ABSENT (gateway.yaml, collector.yaml)
#   6. installs the systemd units and enables them (started only with --start)
#
# With --destdir (or DESTDIR=...) everything is written below that root and the steps that
# change the running system (user, apt-get, systemctl) are skipped.
set -euo pipefail

ROLE=gateway
WHEEL=""
DRY_RUN=0
DESTDIR="${DESTDIR:-}"
MAKE_VENV=1
START=0
PREFIX=/opt/lvgate
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SOURCE="$(dirname "$HERE")"

usage() { sed -n '2,21s/^# \{0,1\}//p' "$0"; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --role) ROLE="${2:?--role needs gateway, collector or both}"; shift 2 ;;
        --wheel) WHEEL="${2:?--wheel needs a file}"; shift 2 ;;
        --dry-run|-n) DRY_RUN=1; shift ;;
        --destdir) DESTDIR="${2:?--destdir needs a directory}"; shift 2 ;;
        --no-venv) MAKE_VENV=0; shift ;;
        --start) START=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "install.sh: unknown option '$1'" >&2; usage 2 ;;
    esac
done

case "$ROLE" in
    gateway) UNITS=(lvgate-gateway.service) ;;
    collector) UNITS=(lvgate-collector.service) ;;
    both) UNITS=(lvgate-gateway.service lvgate-collector.service) ;;
    *) echo "install.sh: --role must be gateway, collector or both, not '$ROLE'" >&2; exit 2 ;;
esac

ROOT="${DESTDIR%/}"
LIVE=1   # touches the running system (user, apt, systemctl)
[ -n "$ROOT" ] && LIVE=0

say() { printf '==> %s\n' "$*"; }
run() {
    # Every change goes through here, so --dry-run shows exactly what would be done.
    if [ "$DRY_RUN" -eq 1 ]; then printf '+ %s\n' "$*"; else "$@"; fi
}

if [ "$LIVE" -eq 1 ] && [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (sudo), or use --dry-run / --destdir" >&2
    exit 1
fi

# 1. Python
PYTHON="$(command -v python3 || true)"
if [ -z "$PYTHON" ]; then
    echo "install.sh: python3 not found (apt-get install python3)" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    echo "install.sh: lvgate needs Python >= 3.11, $PYTHON is $("$PYTHON" --version 2>&1) (Debian 12 / Raspberry Pi OS bookworm has 3.11)" >&2
    exit 1
fi
if [ "$MAKE_VENV" -eq 1 ] && ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    say "installing python3-venv"
    if [ "$LIVE" -eq 1 ]; then run apt-get install -y python3-venv; else
        echo "install.sh: python3-venv is missing (apt-get install python3-venv)" >&2; exit 1; fi
fi

# 2. user
if [ "$LIVE" -eq 1 ]; then
    if id lvgate >/dev/null 2>&1; then
        say "user lvgate exists"
    else
        say "creating system user lvgate"
        run useradd --system --user-group --home-dir /var/lib/lvgate --no-create-home \
            --shell /usr/sbin/nologin --comment "lvgate gateway/collector" lvgate
    fi
    if getent group dialout >/dev/null; then run usermod --append --groups dialout lvgate; fi
fi

# 3. virtual environment and wheel
if [ "$MAKE_VENV" -eq 1 ]; then
    if [ -z "$WHEEL" ]; then
        say "building the wheel from $SOURCE"
        BUILD="$(mktemp -d)"
        trap 'rm -rf "$BUILD"' EXIT
        run "$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$BUILD" "$SOURCE"
        WHEEL="$BUILD/lvgate-*.whl"
    fi
    say "virtual environment $PREFIX/venv"
    run "$PYTHON" -m venv "$ROOT$PREFIX/venv"
    run "$ROOT$PREFIX/venv/bin/pip" install --quiet --upgrade pip
    # shellcheck disable=SC2086  # the wheel may be a glob from the build directory
    run "$ROOT$PREFIX/venv/bin/pip" install --quiet $WHEEL
fi

# 4. profile library (shipped data: replaced on every install)
say "profiles and example configs in /usr/share/lvgate/edge_config"
run install -d -m 0755 "$ROOT/usr/share/lvgate"
run rm -rf "$ROOT/usr/share/lvgate/edge_config"
run cp -R "$SOURCE/edge_config" "$ROOT/usr/share/lvgate/edge_config"

# 5. configuration: never overwrite what the technician wrote
run install -d -m 0750 "$ROOT/etc/lvgate"
run install -d -m 0750 "$ROOT/var/lib/lvgate"
copy_config() {
    local example="$1" target="$2"
    if [ -e "$ROOT/etc/lvgate/$target" ]; then
        say "/etc/lvgate/$target exists: kept as it is"
    else
        say "/etc/lvgate/$target from $example"
        run install -m 0640 "$SOURCE/edge_config/examples/$example" "$ROOT/etc/lvgate/$target"
    fi
}
if [ "$ROLE" != collector ]; then copy_config room.yaml gateway.yaml; fi
if [ "$ROLE" != gateway ]; then copy_config collector.yaml collector.yaml; fi
if [ "$LIVE" -eq 1 ]; then
    run chown -R root:lvgate "$ROOT/etc/lvgate"
    run chown lvgate:lvgate "$ROOT/var/lib/lvgate"
fi

# 6. systemd units
run install -d -m 0755 "$ROOT/etc/systemd/system"
for unit in "${UNITS[@]}"; do
    say "unit $unit"
    run install -m 0644 "$HERE/$unit" "$ROOT/etc/systemd/system/$unit"
done
if [ "$LIVE" -eq 1 ]; then
    run systemctl daemon-reload
    run systemctl enable "${UNITS[@]}"
    if [ "$START" -eq 1 ]; then run systemctl restart "${UNITS[@]}"; fi
fi

say "done"
if [ "$START" -eq 0 ]; then
    cat <<EOF
Next steps:
  1. edit the config(s) in /etc/lvgate/ (sudoedit /etc/lvgate/gateway.yaml)
  2. check it:  sudo -u lvgate $PREFIX/venv/bin/lvgate check /etc/lvgate/gateway.yaml
  3. start it:  sudo systemctl start ${UNITS[*]}
  4. watch it:  journalctl -u ${UNITS[0]} -f
EOF
fi

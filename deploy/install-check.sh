#!/usr/bin/env bash
# Runs deploy/install.sh and both systemd units for real, under systemd as PID 1 in a fresh Debian 12:
#   1. tools: podman (+ runc on hybrid cgroups), debootstrap, mosquitto, curl, ss (apt-get if root on Debian)
#   2. base image: a Debian 12 root filesystem (debootstrap --variant=minbase with systemd, systemd-sysv,
#      dbus, python3, python3-venv, ca-certificates, iproute2, procps, sudo, curl: what a Raspberry Pi
#      OS Lite image already has) imported as localhost/lvgate-systemd-base:bookworm, kept for next time
#   3. the wheel built on the host from this checkout (or --wheel FILE), and deploy/ + edge_config/ of
#      the working tree packed as a technician would unpack a release
#   4. the image booted with systemd as PID 1 (podman --systemd=always, --network host, its own UTS
#      namespace; CAP_SYS_ADMIN so that systemd can build the units' mount namespaces as it does on a
#      board, CAP_NET_RAW which the gateway unit keeps), Mosquitto on 127.0.0.1 and a free port
#   5. inside, as the technician: install.sh --role both --wheel ... (live), the two configs edited (broker
#      port, Modbus port of the simulated devices, API on 127.0.0.1 and a free port), the README's
#      `sudo -u lvgate ... lvgate check`, simulated devices (`lvgate simulate -c gateway.yaml` as a
#      transient unit), then `systemctl start lvgate-gateway lvgate-collector`
#   6. checks: both units active (running) with NRestarts=0 and the same main PID 20 s later, running as
#      lvgate (the gateway with dialout), the hardening in effect (read-only /, writable /var/lib/lvgate,
#      NoNewPrivs, seccomp, CAP_NET_RAW only for the gateway, none for the collector), ExecStartPre's
#      `lvgate check` exited 0, /api/health: mqtt_connected and stored_points > 0, no traceback in the
#      journal, ss: the API on 127.0.0.1 only, held by the collector; `systemd-analyze security`
#      exposure printed; `systemctl stop` leaves both inactive with result success and status 0
# Everything this script starts (container, Mosquitto, temporary files) is removed on exit; the base image
# is kept so a second run skips debootstrap (--remove-images drops it).
# Slow (under a minute reusing the base image, about 2 with a new one) and needs root: not part of `make test`.
#   make install-check            or   bash deploy/install-check.sh [options]
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE_IMAGE=localhost/lvgate-systemd-base:bookworm
NAME=lvgate-install-check
MIRROR=${DEBIAN_MIRROR:-}
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-venv,ca-certificates,iproute2,procps,sudo,curl
WHEEL=""
REBUILD_BASE=0
REMOVE_IMAGES=0
WAIT_S=90
SETTLE_S=20

usage() {
    cat <<EOF
usage: deploy/install-check.sh [--wheel FILE] [--rebuild-base] [--remove-images]
  --wheel FILE      install this lvgate wheel (default: built from this checkout with pip wheel)
  --rebuild-base    debootstrap $BASE_IMAGE again even if it exists
  --remove-images   remove $BASE_IMAGE at the end
Environment: DEBIAN_MIRROR, the Debian mirror for debootstrap (default: debootstrap's own).
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
        --wheel) WHEEL=${2:?--wheel needs a file}; shift 2 ;;
        --rebuild-base) REBUILD_BASE=1; shift ;;
        --remove-images) REMOVE_IMAGES=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "install-check: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

CHECK=install-check
WORK=""
MOSQUITTO_PID=""
# shellcheck source=deploy/check-common.sh
. "$REPO/deploy/check-common.sh"
indent() { sed 's/^/    /'; }
STARTED=$SECONDS

cleanup() {
    local status=$?
    set +e
    if [ -n "${PODMAN[*]-}" ] && "${PODMAN[@]}" container exists "$NAME" 2>/dev/null; then
        if [ $status -ne 0 ]; then
            say "journal of the units (last 60 lines):"
            "${PODMAN[@]}" exec "$NAME" journalctl --no-pager -n 60 -u lvgate-gateway -u lvgate-collector \
                -u lvgate-check-devices 2>&1
        fi
        "${PODMAN[@]}" rm -f -t 5 "$NAME" >/dev/null 2>&1
    fi
    stop_mosquitto
    [ -n "$WORK" ] && rm -rf "$WORK"
    if [ $status -eq 0 ]; then say "cleaned up (container, Mosquitto, temporary files)"; fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------
step "1. tools"
[ "$(id -u)" -eq 0 ] || fail "needs root (podman with systemd, debootstrap); run: sudo $0"
podman_tools "podman podman" "debootstrap debootstrap" "mosquitto mosquitto" "curl curl" "ss iproute2" "python3 python3"
WORK=$(mktemp -d /var/tmp/lvgate-install-check.XXXXXX)

# Leftovers of an interrupted run.
"${PODMAN[@]}" rm -f -t 0 "$NAME" >/dev/null 2>&1 || true

# Every boot of the image is a new machine (systemd makes a machine ID when the file is empty), and the
# build host's name is not the board's.
prepare_board() {
    : >"$1/etc/machine-id"
    echo lvgate-board >"$1/etc/hostname"
}

# ---------------------------------------------------------------------------------------------------
step "2. base image $BASE_IMAGE"
if "${PODMAN[@]}" image exists "$BASE_IMAGE" && [ $REBUILD_BASE -eq 0 ]; then
    say "reusing $BASE_IMAGE; --rebuild-base to make it again"
else
    debootstrap_image "$BASE_IMAGE" "$PACKAGES" '["/sbin/init"]' "debootstrap bookworm minbase + systemd, python3" \
        prepare_board
fi
base_size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$BASE_IMAGE")
say "$BASE_IMAGE: $((base_size / 1000000)) MB"

# ---------------------------------------------------------------------------------------------------
step "3. wheel and release files"
if [ -n "$WHEEL" ]; then
    [ -f "$WHEEL" ] || fail "no wheel file $WHEEL"
else
    pip=("$REPO/.venv/bin/python" -m pip)
    [ -x "$REPO/.venv/bin/python" ] || pip=(python3 -m pip)
    "${pip[@]}" wheel --quiet --no-deps --wheel-dir "$WORK/wheel" "$REPO" >"$WORK/wheel.log" 2>&1 \
        || { cat "$WORK/wheel.log"; fail "pip wheel"; }
    WHEEL=$(echo "$WORK"/wheel/lvgate-*.whl)
fi
[ -f "$WHEEL" ] || fail "no wheel in $WORK/wheel"
wheel_name=$(basename "$WHEEL")
# What the technician unpacks: the installer, the units and the profile library, as in this working tree.
tar -C "$REPO" -cf "$WORK/release.tar" deploy edge_config
say "wheel $wheel_name, release files: deploy/ and edge_config/ of $REPO"

# ---------------------------------------------------------------------------------------------------
step "4. Mosquitto on 127.0.0.1 and the board booted with systemd"
read -r mqtt_port modbus_port api_port < <(free_ports 3)
start_mosquitto "$mqtt_port"

# pip inside reaches PyPI through the host network, with the host's CA bundle.
host_ca_mount
# Without CAP_SYS_ADMIN systemd quietly skips ProtectSystem=, PrivateTmp=, ProtectHome= ... in a container
# ("namespace setup is prohibited (container manager?)"), and the units would run unconfined: the board's
# PID 1 has it. /proc/sys and /sys stay read-only (podman), so nothing reaches the host's kernel settings.
"${PODMAN[@]}" run -d --name "$NAME" --systemd=always --network host --uts private --hostname lvgate-board \
    --add-host lvgate-board:127.0.1.1 \
    --cap-add SYS_ADMIN,NET_RAW "${ULIMITS[@]}" "${CA_MOUNT[@]}" "$BASE_IMAGE" /sbin/init >/dev/null
in_board() { "${PODMAN[@]}" exec "$NAME" "$@"; }
no_traceback() {
    local unit
    for unit in lvgate-gateway lvgate-collector; do
        if in_board journalctl -u "$unit" --no-pager | grep -A3 Traceback; then fail "traceback in the journal of $unit (above)"; fi
    done
}
booted=""
for _ in $(seq 60); do
    booted=$(in_board systemctl is-system-running 2>/dev/null) || true
    case $booted in running | degraded) break ;; esac
    sleep 0.5
done
case $booted in running | degraded) ;; *) fail "systemd did not finish booting: '$booted'" ;; esac
[ "$(in_board cat /proc/1/comm)" = systemd ] || fail "PID 1 in the container is not systemd"
say "booted: PID 1 is $(in_board systemctl --version | sed -n 1p), state $booted, $(in_board python3 --version)"
[ "$booted" = running ] || say "failed units: $(in_board systemctl --failed --plain --no-legend | tr '\n' ' ')"

# ---------------------------------------------------------------------------------------------------
step "5. as the technician: install.sh --role both --wheel $wheel_name"
"${PODMAN[@]}" cp "$WHEEL" "$NAME:/root/$wheel_name"
in_board mkdir -p /root/lvgate
"${PODMAN[@]}" exec -i "$NAME" tar -C /root/lvgate -xf - <"$WORK/release.tar"
started=$SECONDS
in_board /root/lvgate/deploy/install.sh --role both --wheel "/root/$wheel_name" >"$WORK/install.log" 2>&1 \
    || { cat "$WORK/install.log"; fail "install.sh"; }
install_s=$((SECONDS - started))
grep -q '^==> done$' "$WORK/install.log" || { cat "$WORK/install.log"; fail "install.sh did not say done"; }
indent <"$WORK/install.log"
say "install.sh took $install_s s; $(in_board /opt/lvgate/venv/bin/lvgate --version)"
for unit in lvgate-gateway lvgate-collector; do
    [ "$(in_board systemctl is-enabled "$unit")" = enabled ] || fail "$unit is not enabled"
done
lvgate_uid=$(in_board id -u lvgate)
dialout_gid=$(in_board getent group dialout | cut -d: -f3)
say "user lvgate: $(in_board id lvgate)"

# The edits a technician makes: broker port, where the devices answer, the API's address.
in_board sed -i -e "s/\${LVGATE_MQTT_PORT:-1883}/$mqtt_port/" -e "s/\${LVGATE_MODBUS_PORT:-5020}/$modbus_port/" \
    /etc/lvgate/gateway.yaml /etc/lvgate/collector.yaml
in_board sh -c "printf 'api: {host: 127.0.0.1, port: %s}\n' $api_port >>/etc/lvgate/collector.yaml"
in_board grep -q "port: $mqtt_port" /etc/lvgate/gateway.yaml || fail "gateway.yaml: broker port not set"
say "configs edited: broker 127.0.0.1:$mqtt_port, devices on 127.0.0.1:$modbus_port, API 127.0.0.1:$api_port"
# README step 5, word for word as the technician types it (the collector's config the same way).
for config in gateway collector; do
    checked=$(in_board sudo -u lvgate env LVGATE_STATE_DIR=/var/lib/lvgate /opt/lvgate/venv/bin/lvgate check \
        "/etc/lvgate/$config.yaml" 2>&1) || fail "lvgate check /etc/lvgate/$config.yaml: $checked"
    ok=$(grep -m1 ": OK" <<<"$checked") || fail "lvgate check /etc/lvgate/$config.yaml did not say OK: $checked"
    say "sudo -u lvgate ... lvgate check: $ok"
done

# The room's devices, simulated on loopback from the gateway's own config (a transient unit, as root).
in_board systemd-run --quiet --unit lvgate-check-devices -p Environment=LVGATE_STATE_DIR=/tmp \
    /opt/lvgate/venv/bin/lvgate simulate -c /etc/lvgate/gateway.yaml
for _ in $(seq 100); do listening "$modbus_port" && break; sleep 0.1; done
listening "$modbus_port" || fail "the simulated devices do not listen on 127.0.0.1:$modbus_port"
say "simulated devices on 127.0.0.1:$modbus_port (lvgate simulate -c /etc/lvgate/gateway.yaml)"

# ---------------------------------------------------------------------------------------------------
step "6. systemctl start lvgate-gateway lvgate-collector"
in_board systemctl start lvgate-gateway lvgate-collector || fail "systemctl start"
started_at=$SECONDS
answer=""
while [ $((SECONDS - started_at)) -lt $WAIT_S ]; do
    answer=$(api_health "$api_port" 2>/dev/null) && [ "$(json_field "$answer" mqtt_connected)" = True ] \
        && [ "$(json_field "$answer" stored_points)" -gt 0 ] && break
    answer=""
    sleep 1
done
[ -n "$answer" ] || fail "no /api/health with mqtt_connected and stored points within $WAIT_S s"
say "telemetry stored after $((SECONDS - started_at)) s"
declare -A main_pid
for unit in lvgate-gateway lvgate-collector; do
    main_pid[$unit]=$(in_board systemctl show -p MainPID --value "$unit")
done
# Running for a while, not only started: a restart loop changes the main PID and counts NRestarts.
while [ $((SECONDS - started_at)) -lt $SETTLE_S ]; do sleep 1; done
for unit in lvgate-gateway lvgate-collector; do
    state=$(in_board systemctl show -p ActiveState,SubState,NRestarts,MainPID "$unit" | sort | tr '\n' ' ')
    [ "$state" = "ActiveState=active MainPID=${main_pid[$unit]} NRestarts=0 SubState=running " ] \
        || fail "$unit after $SETTLE_S s: $state (main PID was ${main_pid[$unit]})"
    say "$unit: active (running) after $((SECONDS - started_at)) s, NRestarts=0, main PID ${main_pid[$unit]} unchanged"
done
in_board systemctl status --no-pager --lines 0 lvgate-gateway lvgate-collector | indent || true
pre=$(in_board systemctl show -p ExecStartPre --value lvgate-gateway)
grep -q 'argv\[\]=/opt/lvgate/venv/bin/lvgate check /etc/lvgate/gateway.yaml .*code=exited ; status=0 }' <<<"$pre" \
    || fail "the gateway's ExecStartPre did not exit 0: $pre"
say "gateway's ExecStartPre (lvgate check, as user lvgate in the unit's sandbox): exited 0"

# ---------------------------------------------------------------------------------------------------
step "7. checks"
status_of() { in_board grep "^$2:" "/proc/$1/status" | cut -f2- | tr '\t' ' ' | sed 's/ *$//'; }
root_mount() { in_board cat "/proc/$1/mountinfo" | awk -v m="$2" '$5 == m {print $6}' | tail -1; }
for unit in lvgate-gateway lvgate-collector; do
    pid=${main_pid[$unit]}
    uids=$(status_of "$pid" Uid)
    [ "$uids" = "$lvgate_uid $lvgate_uid $lvgate_uid $lvgate_uid" ] || fail "$unit runs as uid $uids, lvgate is $lvgate_uid"
    groups=" $(status_of "$pid" Groups) "
    if [ $unit = lvgate-gateway ]; then
        [[ $groups == *" $dialout_gid "* ]] || fail "$unit is not in dialout ($dialout_gid): groups$groups"
    fi
    [ "$(status_of "$pid" NoNewPrivs)" = 1 ] || fail "$unit: NoNewPrivs is not set"
    [ "$(status_of "$pid" Seccomp)" = 2 ] || fail "$unit: no seccomp filter"
    caps=$(status_of "$pid" CapEff)/$(status_of "$pid" CapBnd)/$(status_of "$pid" CapAmb)
    if [ $unit = lvgate-gateway ]; then want=0000000000002000; else want=0000000000000000; fi   # bit 13: CAP_NET_RAW
    [ "$caps" = "$want/$want/$want" ] || fail "$unit capabilities effective/bounding/ambient $caps, expected $want"
    [[ $(root_mount "$pid" /) == ro,* ]] || fail "$unit: / is not read-only for it (ProtectSystem=strict not applied)"
    [[ $(root_mount "$pid" /var/lib/lvgate) == rw,* ]] || fail "$unit: /var/lib/lvgate is not writable for it"
    say "$unit: pid $pid uid $lvgate_uid (lvgate), groups${groups% }; NoNewPrivs, seccomp, capabilities $want; / read-only, /var/lib/lvgate writable"
done
if in_board journalctl -b --no-pager | grep -E 'lvgate-(gateway|collector)\.service: .*(prohibited|not supported|Failed to set up)'; then
    fail "systemd skipped or failed part of the units' sandbox (above)"
fi

first_stored=$(json_field "$answer" stored_points)
answer=$(api_health "$api_port") || fail "no /api/health"
say "/api/health: $answer"
{ [ "$(json_field "$answer" mqtt_connected)" = True ] && [ "$(json_field "$answer" stored_points)" -gt "$first_stored" ]; } \
    || fail "telemetry stopped flowing: $first_stored points stored at first, now $answer"
[ "$(json_field "$answer" rejected)" -eq 0 ] || fail "the collector rejected messages: $answer"
say "$(json_field "$answer" stored_points) points stored after $((SECONDS - started_at)) s ($first_stored at the first answer), 0 rejected"
api_on_loopback "$api_port"
ns_pid=$(awk '/^NSpid:/ {print $NF}' "/proc/$LISTENER_PID/status")
[ "$ns_pid" = "${main_pid[lvgate-collector]}" ] \
    || fail "port $api_port is held by pid $ns_pid in the board, not by the collector's ${main_pid[lvgate-collector]}"
say "the API is bound to 127.0.0.1 only, by the collector's main process"

no_traceback
say "no traceback in the journals of the two units"

security=$(in_board systemd-analyze security --no-pager lvgate-gateway lvgate-collector 2>&1 | grep 'Overall exposure level') \
    || fail "systemd-analyze security"
indent <<<"$security"
exposure=$(grep -o 'lvgate-gateway.service: [0-9.]*' <<<"$security" | awk '{print $2}')

# ---------------------------------------------------------------------------------------------------
step "8. systemctl stop lvgate-gateway lvgate-collector"
started=$SECONDS
in_board systemctl stop lvgate-gateway lvgate-collector || fail "systemctl stop"
stop_s=$((SECONDS - started))
for unit in lvgate-gateway lvgate-collector; do
    state=$(in_board systemctl show -p ActiveState,Result,ExecMainCode,ExecMainStatus "$unit" | sort | tr '\n' ' ')
    # ExecMainCode 1 is CLD_EXITED: the process exited by itself (0) after SIGTERM, it was not killed.
    [ "$state" = "ActiveState=inactive ExecMainCode=1 ExecMainStatus=0 Result=success " ] \
        || fail "$unit after stop: $state"
    say "$unit: inactive, exited with status 0 (result success)"
done
no_traceback
in_board journalctl -u lvgate-gateway -u lvgate-collector --no-pager -n 4 -o cat | indent
say "stopped in $stop_s s, no traceback"

if [ $REMOVE_IMAGES -eq 1 ]; then
    "${PODMAN[@]}" rm -f -t 5 "$NAME" >/dev/null 2>&1 || true
    "${PODMAN[@]}" rmi -f "$BASE_IMAGE" >/dev/null
    say "removed $BASE_IMAGE"
fi
elapsed=$((SECONDS - STARTED))
step "OK: install.sh and both units under systemd in $((elapsed / 60)) min $((elapsed % 60)) s; gateway exposure $exposure; stored_points $(json_field "$answer" stored_points), mqtt_connected true"

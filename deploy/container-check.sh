#!/usr/bin/env bash
# Builds deploy/Containerfile with podman and checks the collector image for real:
#   1. tools: podman (+ runc on hybrid cgroups), debootstrap, mosquitto, curl, ss (apt-get if root on Debian)
#   2. base image: by default a local Debian 12 root filesystem (debootstrap: python3, python3-venv,
#      ca-certificates) imported as localhost/lvgate-base:bookworm, for machines that cannot reach
#      docker.io; --base-image docker.io/library/python:3.11-slim-bookworm builds on the official one
#   3. podman build --build-arg BASE_IMAGE=... (timed; image size printed)
#   4. without any network: `lvgate --version` matches pyproject.toml, `lvgate check` of the image's
#      /etc/lvgate/collector.yaml says OK, the image's user is lvgate (not root)
#   5. the collector against a Mosquitto on 127.0.0.1 (--network host, API on 127.0.0.1 and a free
#      port): ss shows the API bound to 127.0.0.1 only by the container's process, that process runs
#      as lvgate, /api/health answers with the broker connected, one telemetry message is stored in
#      the state volume, and SIGTERM (podman stop) ends it with exit code 0
# Everything this script starts (Mosquitto, the container, its volume, temporary files) is removed
# on exit; the two images are kept so a second run only rebuilds (--remove-images drops them).
# Slow (about 2 minutes, 3-4 with a new base) and needs root: not part of `make test`.
#   make container-check            or   bash deploy/container-check.sh [options]
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE_IMAGE=""
LOCAL_BASE=localhost/lvgate-base:bookworm
IMAGE=localhost/lvgate-collector:check
NAME=lvgate-check-collector
VOLUME=lvgate-check-state
MIRROR=${DEBIAN_MIRROR:-}
REBUILD_BASE=0
REMOVE_IMAGES=0
WAIT_S=60

usage() {
    cat <<EOF
usage: deploy/container-check.sh [--base-image IMAGE] [--rebuild-base] [--image TAG] [--remove-images]
  --base-image IMAGE  build on IMAGE (e.g. docker.io/library/python:3.11-slim-bookworm) instead of
                      the local Debian root filesystem $LOCAL_BASE
  --rebuild-base      debootstrap $LOCAL_BASE again even if it exists
  --image TAG         tag of the built image (default $IMAGE)
  --remove-images     remove the built image (and the local base) at the end
Environment: DEBIAN_MIRROR, the Debian mirror for debootstrap (default: debootstrap's own).
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
        --base-image) BASE_IMAGE=${2:?--base-image needs an image}; shift 2 ;;
        --rebuild-base) REBUILD_BASE=1; shift ;;
        --image) IMAGE=${2:?--image needs a tag}; shift 2 ;;
        --remove-images) REMOVE_IMAGES=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "container-check: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

CHECK=container-check
WORK=""
MOSQUITTO_PID=""
# shellcheck source=deploy/check-common.sh
. "$REPO/deploy/check-common.sh"
cleanup() {
    local status=$?
    set +e
    if [ -n "${PODMAN[*]-}" ]; then
        if "${PODMAN[@]}" container exists "$NAME" 2>/dev/null; then
            [ $status -eq 0 ] || { say "collector log (last 40 lines):"; "${PODMAN[@]}" logs --tail 40 "$NAME" 2>&1; }
            "${PODMAN[@]}" rm -f -t 5 "$NAME" >/dev/null 2>&1
        fi
        "${PODMAN[@]}" volume exists "$VOLUME" 2>/dev/null && "${PODMAN[@]}" volume rm -f "$VOLUME" >/dev/null 2>&1
    fi
    stop_mosquitto
    [ -n "$WORK" ] && rm -rf "$WORK"
    if [ $status -eq 0 ]; then say "cleaned up (container, volume, Mosquitto, temporary files)"; fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------
step "1. tools"
[ "$(id -u)" -eq 0 ] || fail "needs root (podman build as root, debootstrap); run: sudo $0"
needed=("podman podman" "mosquitto mosquitto" "mosquitto_pub mosquitto-clients" "curl curl" "ss iproute2" "python3 python3")
[ -n "$BASE_IMAGE" ] || needed+=("debootstrap debootstrap")
podman_tools "${needed[@]}"
WORK=$(mktemp -d /var/tmp/lvgate-container-check.XXXXXX)

# Leftovers of an interrupted run.
"${PODMAN[@]}" rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
"${PODMAN[@]}" volume rm -f "$VOLUME" >/dev/null 2>&1 || true

# ---------------------------------------------------------------------------------------------------
step "2. base image"
if [ -n "$BASE_IMAGE" ]; then
    say "using $BASE_IMAGE (pulled by podman build if absent)"
elif "${PODMAN[@]}" image exists "$LOCAL_BASE" && [ $REBUILD_BASE -eq 0 ]; then
    BASE_IMAGE=$LOCAL_BASE
    say "reusing $LOCAL_BASE ($("${PODMAN[@]}" run --rm --network none "${ULIMITS[@]}" "$LOCAL_BASE" python3 --version)); --rebuild-base to make it again"
else
    BASE_IMAGE=$LOCAL_BASE
    debootstrap_image "$LOCAL_BASE" python3,python3-venv,ca-certificates '["/bin/bash"]' "debootstrap bookworm minbase + python3"
    say "$LOCAL_BASE: $("${PODMAN[@]}" run --rm --network none "${ULIMITS[@]}" "$LOCAL_BASE" python3 --version)"
fi

# ---------------------------------------------------------------------------------------------------
step "3. build $IMAGE from deploy/Containerfile"
# pip inside the build reaches PyPI through the default network, with the host's CA bundle mounted
# for the RUN steps only; a build-time mount is not committed to the image.
host_ca_mount
old_image=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
started=$(date +%s)
"${PODMAN[@]}" build --layers=false "${ULIMITS[@]}" "${CA_MOUNT[@]}" --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    -f "$REPO/deploy/Containerfile" -t "$IMAGE" "$REPO" >"$WORK/build.log" 2>&1 \
    || { tail -30 "$WORK/build.log"; fail "podman build (log above)"; }
build_s=$(($(date +%s) - started))
# The previous build of the same tag is now untagged: drop it, so reruns do not pile up images.
[ -z "$old_image" ] || [ "$old_image" = "$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$IMAGE")" ] \
    || "${PODMAN[@]}" rmi "$old_image" >/dev/null 2>&1 || true
size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
base_size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$BASE_IMAGE")
say "built in $build_s s: $IMAGE $((size / 1000000)) MB (base $((base_size / 1000000)) MB)"

# ---------------------------------------------------------------------------------------------------
step "4. the image without network"
run_offline() { "${PODMAN[@]}" run --rm --network none "${ULIMITS[@]}" "$@"; }
want=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$REPO/pyproject.toml")
got=$(run_offline "$IMAGE" --version)
[ "$got" = "lvgate $want" ] || fail "lvgate --version printed '$got', expected 'lvgate $want'"
say "lvgate --version: $got"
checked=$(run_offline "$IMAGE" check /etc/lvgate/collector.yaml) || fail "lvgate check: $checked"
case $checked in *": OK"*) ;; *) fail "lvgate check did not say OK: $checked" ;; esac
say "lvgate check: $checked"
who=$(run_offline --entrypoint id "$IMAGE" -un)
uid=$(run_offline --entrypoint id "$IMAGE" -u)
{ [ "$who" = lvgate ] && [ "$uid" -ne 0 ]; } || fail "image user is '$who' (uid $uid), expected lvgate"
say "image user: $who (uid $uid)"

# ---------------------------------------------------------------------------------------------------
step "5. the collector against Mosquitto on 127.0.0.1"
read -r mqtt_port api_port < <(free_ports 2)
start_mosquitto "$mqtt_port"

# The image's example config, with the API on a free loopback port: mounted as an operator would.
{ cat "$REPO/edge_config/examples/collector.yaml"; printf 'api: {host: 127.0.0.1, port: %s}\n' "$api_port"; } >"$WORK/collector.yaml"
chmod 0644 "$WORK/collector.yaml"
"${PODMAN[@]}" volume create "$VOLUME" >/dev/null
"${PODMAN[@]}" run -d --name "$NAME" --network host "${ULIMITS[@]}" -e "LVGATE_MQTT_PORT=$mqtt_port" \
    -v "$WORK/collector.yaml:/etc/lvgate/collector.yaml:ro" -v "$VOLUME:/var/lib/lvgate" "$IMAGE" >/dev/null
pid=$("${PODMAN[@]}" inspect --format '{{.State.Pid}}' "$NAME")
say "container $NAME, collector pid $pid on the host"

deadline=$((SECONDS + WAIT_S))
answer=""
while [ $SECONDS -lt $deadline ]; do
    "${PODMAN[@]}" container inspect --format '{{.State.Running}}' "$NAME" | grep -q true || fail "the collector exited"
    answer=$(api_health "$api_port" 2>/dev/null) && [ "$(json_field "$answer" mqtt_connected)" = True ] && break
    answer=""
    sleep 0.5
done
[ -n "$answer" ] || fail "no /api/health with mqtt_connected within $WAIT_S s"
say "/api/health: $answer"

api_on_loopback "$api_port"
[ "$LISTENER_PID" = "$pid" ] || fail "port $api_port is held by $LISTENER_PID, not by the container's process $pid"
read -r _ ruid euid _ < <(grep '^Uid:' "/proc/$pid/status")
{ [ "$ruid" = "$uid" ] && [ "$euid" = "$uid" ]; } || fail "collector runs as uid $ruid/$euid, expected $uid"
say "collector process: uid $ruid ($("${PODMAN[@]}" exec "$NAME" id -un)), $(tr '\0' ' ' <"/proc/$pid/cmdline")"

payload='{"schema_version": 1, "ts": "2026-09-21T14:13:20.000Z", "site": "check", "room": "B1", "gateway": "gw-check", "device": "env-1", "device_class": "env_sensor", "readings": {"temperature": {"v": 21.5, "q": "good"}}}'
mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -q 1 -t lvgate/gw-check/env-1/telemetry -m "$payload"
deadline=$((SECONDS + 30))
while [ $SECONDS -lt $deadline ]; do
    answer=$(api_health "$api_port") && [ "$(json_field "$answer" stored_points)" -ge 1 ] && break
    sleep 0.5
done
{ [ "$(json_field "$answer" stored_points)" -eq 1 ] && [ "$(json_field "$answer" rejected)" -eq 0 ]; } \
    || fail "one telemetry reading published, health says: $answer"
say "one telemetry message published, stored: stored_points 1, rejected 0"

"${PODMAN[@]}" stop -t 20 "$NAME" >/dev/null
code=$("${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' "$NAME")
[ "$code" -eq 0 ] || fail "collector exit code $code after SIGTERM"
say "podman stop (SIGTERM): exit code 0"
state=$(run_offline -v "$VOLUME:/var/lib/lvgate" --entrypoint ls "$IMAGE" -ln /var/lib/lvgate)
grep -Eq "^-.* $uid +$uid .* history\.sqlite$" <<<"$state" || fail "no history.sqlite owned by $uid in the volume: $state"
say "state volume holds history.sqlite owned by uid $uid"

if [ $REMOVE_IMAGES -eq 1 ]; then
    "${PODMAN[@]}" rmi -f "$IMAGE" >/dev/null
    say "removed $IMAGE"
    if [ "$BASE_IMAGE" = "$LOCAL_BASE" ]; then
        "${PODMAN[@]}" rmi -f "$LOCAL_BASE" >/dev/null
        say "removed $LOCAL_BASE"
    fi
fi
step "OK: $IMAGE ($((size / 1000000)) MB, built in $build_s s on $BASE_IMAGE)"

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

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
step() { printf '\ncontainer-check: == %s\n' "$*"; }
say() { printf 'container-check: %s\n' "$*"; }
fail() { printf 'container-check: FAILED: %s\n' "$*" >&2; exit 1; }

WORK=""
MOSQUITTO_PID=""
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
    if [ -n "$MOSQUITTO_PID" ] && kill -0 "$MOSQUITTO_PID" 2>/dev/null; then
        kill "$MOSQUITTO_PID" 2>/dev/null
        wait "$MOSQUITTO_PID" 2>/dev/null
    fi
    [ -n "$WORK" ] && rm -rf "$WORK"
    if [ $status -eq 0 ]; then say "cleaned up (container, volume, Mosquitto, temporary files)"; fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------
step "1. tools"
[ "$(id -u)" -eq 0 ] || fail "needs root (podman build as root, debootstrap); run: sudo $0"
hybrid_cgroups=0
# crun (Debian 12's default runtime) refuses cgroup v1 with a v2 hierarchy beside it; runc copes.
if [ -d /sys/fs/cgroup/unified ] && grep -q ' /sys/fs/cgroup/unified cgroup2 ' /proc/mounts; then hybrid_cgroups=1; fi
needed=("podman podman" "mosquitto mosquitto" "mosquitto_pub mosquitto-clients" "curl curl" "ss iproute2" "python3 python3")
[ -n "$BASE_IMAGE" ] || needed+=("debootstrap debootstrap")
[ $hybrid_cgroups -eq 0 ] || needed+=("runc runc")
missing=()
for entry in "${needed[@]}"; do
    command -v "${entry%% *}" >/dev/null 2>&1 || missing+=("${entry##* }")
done
if [ ${#missing[@]} -gt 0 ]; then
    { [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; } \
        || fail "missing packages: ${missing[*]} (not Debian: install them by hand)"
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } \
        || fail "apt-get install ${missing[*]}"
fi
PODMAN=(podman)
if [ $hybrid_cgroups -eq 1 ]; then
    PODMAN+=(--runtime runc)
    say "hybrid cgroups (v1 with /sys/fs/cgroup/unified): using runc"
fi
# podman as root gives containers RLIMIT_NOFILE 1048576 and RLIMIT_NPROC 32768; in a sandbox without
# CAP_SYS_RESOURCE the runtime cannot set them (setrlimit: Operation not permitted), so ask for no more
# than this shell's own hard limits.
nofile=$(ulimit -Hn)
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; then nofile=65536; fi
nproc=$(ulimit -Hu)
if [ "$nproc" = unlimited ] || [ "$nproc" -gt 16384 ]; then nproc=16384; fi
ULIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
say "$("${PODMAN[@]}" --version), storage $("${PODMAN[@]}" info --format '{{.Store.GraphDriverName}}'), ulimits nofile=$nofile nproc=$nproc"
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
    rootfs=$WORK/rootfs
    old_base=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$LOCAL_BASE" 2>/dev/null || true)
    started=$(date +%s)
    say "debootstrap --variant=minbase bookworm ${MIRROR:+from $MIRROR }(python3, python3-venv, ca-certificates)"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" ${MIRROR:+"$MIRROR"} \
        >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
    tar --numeric-owner -C "$rootfs" -c . \
        | "${PODMAN[@]}" import --change 'CMD ["/bin/bash"]' --message "debootstrap bookworm minbase + python3" - "$LOCAL_BASE" >/dev/null 2>"$WORK/import.log"
    rm -rf "$rootfs"
    # A rebuilt base leaves the previous one untagged: drop it unless an image still uses it.
    [ -z "$old_base" ] || [ "$old_base" = "$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$LOCAL_BASE")" ] \
        || "${PODMAN[@]}" rmi "$old_base" >/dev/null 2>&1 || true
    say "imported $LOCAL_BASE in $(($(date +%s) - started)) s ($("${PODMAN[@]}" run --rm --network none "${ULIMITS[@]}" "$LOCAL_BASE" python3 --version))"
fi

# ---------------------------------------------------------------------------------------------------
step "3. build $IMAGE from deploy/Containerfile"
# pip inside the build reaches PyPI through the default network. Debian's pip reads the system CA
# bundle, so the host's is mounted over it for the RUN steps only (a TLS-inspecting proxy's CA goes
# in there); a build-time mount is not committed to the image.
ca_mount=()
[ ! -f /etc/ssl/certs/ca-certificates.crt ] \
    || ca_mount=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
old_image=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
started=$(date +%s)
"${PODMAN[@]}" build --layers=false "${ULIMITS[@]}" "${ca_mount[@]}" --build-arg "BASE_IMAGE=$BASE_IMAGE" \
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
read -r mqtt_port api_port < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mqtt_port" >"$WORK/mosquitto.conf"
mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
MOSQUITTO_PID=$!
listening() { ss -Hltn "sport = :$1" | grep -q .; }
for _ in $(seq 50); do listening "$mqtt_port" && break; sleep 0.1; done
listening "$mqtt_port" || { cat "$WORK/mosquitto.log"; fail "Mosquitto did not listen on 127.0.0.1:$mqtt_port"; }
say "Mosquitto (pid $MOSQUITTO_PID) on 127.0.0.1:$mqtt_port"

# The image's example config, with the API on a free loopback port: mounted as an operator would.
{ cat "$REPO/edge_config/examples/collector.yaml"; printf 'api: {host: 127.0.0.1, port: %s}\n' "$api_port"; } >"$WORK/collector.yaml"
chmod 0644 "$WORK/collector.yaml"
"${PODMAN[@]}" volume create "$VOLUME" >/dev/null
"${PODMAN[@]}" run -d --name "$NAME" --network host "${ULIMITS[@]}" -e "LVGATE_MQTT_PORT=$mqtt_port" \
    -v "$WORK/collector.yaml:/etc/lvgate/collector.yaml:ro" -v "$VOLUME:/var/lib/lvgate" "$IMAGE" >/dev/null
pid=$("${PODMAN[@]}" inspect --format '{{.State.Pid}}' "$NAME")
say "container $NAME, collector pid $pid on the host"

health() { curl -fsS --max-time 5 "http://127.0.0.1:$api_port/api/health"; }
field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
deadline=$((SECONDS + WAIT_S))
answer=""
while [ $SECONDS -lt $deadline ]; do
    "${PODMAN[@]}" container inspect --format '{{.State.Running}}' "$NAME" | grep -q true || fail "the collector exited"
    answer=$(health 2>/dev/null) && [ "$(field "$answer" mqtt_connected)" = True ] && break
    answer=""
    sleep 0.5
done
[ -n "$answer" ] || fail "no /api/health with mqtt_connected within $WAIT_S s"
say "/api/health: $answer"

sockets=$(ss -Hltnp "sport = :$api_port")
say "ss -ltnp sport = :$api_port: $sockets"
[ "$(wc -l <<<"$sockets")" -eq 1 ] || fail "expected one listening socket on port $api_port"
[ "$(awk '{print $4}' <<<"$sockets")" = "127.0.0.1:$api_port" ] || fail "the API is not bound to 127.0.0.1 only"
grep -q "pid=$pid," <<<"$sockets" || fail "port $api_port is not held by the container's process $pid"
read -r _ ruid euid _ < <(grep '^Uid:' "/proc/$pid/status")
{ [ "$ruid" = "$uid" ] && [ "$euid" = "$uid" ]; } || fail "collector runs as uid $ruid/$euid, expected $uid"
say "collector process: uid $ruid ($("${PODMAN[@]}" exec "$NAME" id -un)), $(tr '\0' ' ' <"/proc/$pid/cmdline")"

payload='{"schema_version": 1, "ts": "2026-09-21T14:13:20.000Z", "site": "check", "room": "B1", "gateway": "gw-check", "device": "env-1", "device_class": "env_sensor", "readings": {"temperature": {"v": 21.5, "q": "good"}}}'
mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -q 1 -t lvgate/gw-check/env-1/telemetry -m "$payload"
deadline=$((SECONDS + 30))
while [ $SECONDS -lt $deadline ]; do
    answer=$(health) && [ "$(field "$answer" stored_points)" -ge 1 ] && break
    sleep 0.5
done
{ [ "$(field "$answer" stored_points)" -eq 1 ] && [ "$(field "$answer" rejected)" -eq 0 ]; } \
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

# Shared by deploy/container-check.sh and deploy/install-check.sh, which source it after setting
# CHECK (the name their messages start with) and WORK (their temporary directory, set before any
# function here that writes files is called). Not meant to be run on its own.
# The variables set here (PODMAN, ULIMITS, CA_MOUNT, LISTENER_PID) are read by the sourcing script.
# shellcheck shell=bash disable=SC2034

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
step() { printf '\n%s: == %s\n' "$CHECK" "$*"; }
say() { printf '%s: %s\n' "$CHECK" "$*"; }
fail() { printf '%s: FAILED: %s\n' "$CHECK" "$*" >&2; exit 1; }

# podman_tools "COMMAND PACKAGE" ...: installs the packages of missing commands (apt-get, on Debian),
# then sets PODMAN (the podman command line) and ULIMITS (options for every podman run and build).
podman_tools() {
    local -a needed=("$@") missing=()
    local entry hybrid_cgroups=0 nofile nproc
    # crun (Debian 12's default runtime) refuses cgroup v1 with a v2 hierarchy beside it; runc copes.
    if [ -d /sys/fs/cgroup/unified ] && grep -q ' /sys/fs/cgroup/unified cgroup2 ' /proc/mounts; then hybrid_cgroups=1; fi
    [ $hybrid_cgroups -eq 0 ] || needed+=("runc runc")
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
}

# debootstrap_image IMAGE PACKAGES CMD MESSAGE [PREPARE]: a Debian 12 minbase root file system with
# PACKAGES (comma-separated), PREPARE (a function given the directory) run on it, imported as IMAGE
# with CMD (JSON form). A rebuilt image leaves the previous one untagged: dropped unless still used.
debootstrap_image() {
    local image=$1 packages=$2 cmd=$3 message=$4 prepare=${5:-} rootfs=$WORK/rootfs old started=$SECONDS
    old=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
    say "debootstrap --variant=minbase bookworm ${MIRROR:+from $MIRROR }(${packages//,/ })"
    debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" ${MIRROR:+"$MIRROR"} \
        >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
    [ -z "$prepare" ] || "$prepare" "$rootfs"
    tar --numeric-owner -C "$rootfs" -c . \
        | "${PODMAN[@]}" import --change "CMD $cmd" --message "$message" - "$image" >/dev/null 2>"$WORK/import.log" \
        || { cat "$WORK/import.log"; fail "podman import"; }
    rm -rf "$rootfs"
    [ -z "$old" ] || [ "$old" = "$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$image")" ] \
        || "${PODMAN[@]}" rmi "$old" >/dev/null 2>&1 || true
    say "imported $image in $((SECONDS - started)) s"
}

# host_ca_mount: CA_MOUNT, the podman option that mounts the host's CA bundle over the image's (Debian's
# pip reads it), so pip reaches PyPI through a TLS-inspecting proxy too; empty if the host has none.
host_ca_mount() {
    CA_MOUNT=()
    [ ! -f /etc/ssl/certs/ca-certificates.crt ] \
        || CA_MOUNT=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
}

# free_ports N: N free TCP ports on 127.0.0.1, on one line.
free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
}

listening() { ss -Hltn "sport = :$1" | grep -q .; }

# start_mosquitto PORT: a Mosquitto of our own on 127.0.0.1:PORT (MOSQUITTO_PID; stop_mosquitto ends it).
start_mosquitto() {
    local port=$1
    printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$WORK/mosquitto.conf"
    mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
    MOSQUITTO_PID=$!
    for _ in $(seq 50); do listening "$port" && break; sleep 0.1; done
    listening "$port" || { cat "$WORK/mosquitto.log"; fail "Mosquitto did not listen on 127.0.0.1:$port"; }
    say "Mosquitto (pid $MOSQUITTO_PID) on 127.0.0.1:$port"
}

stop_mosquitto() {
    if [ -n "${MOSQUITTO_PID:-}" ] && kill -0 "$MOSQUITTO_PID" 2>/dev/null; then
        kill "$MOSQUITTO_PID" 2>/dev/null
        wait "$MOSQUITTO_PID" 2>/dev/null
    fi
}

api_health() { curl -fsS --max-time 5 "http://127.0.0.1:$1/api/health"; }
json_field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# api_on_loopback PORT: exactly one socket listens on PORT, bound to 127.0.0.1; LISTENER_PID is the
# (host) process that holds it.
api_on_loopback() {
    local port=$1 sockets
    sockets=$(ss -Hltnp "sport = :$port")
    say "ss -ltnp sport = :$port: $sockets"
    [ "$(wc -l <<<"$sockets")" -eq 1 ] || fail "expected one listening socket on port $port"
    [ "$(awk '{print $4}' <<<"$sockets")" = "127.0.0.1:$port" ] || fail "the API is not bound to 127.0.0.1 only"
    LISTENER_PID=$(grep -o 'pid=[0-9]*' <<<"$sockets" | head -1 | cut -d= -f2)
    [ -n "$LISTENER_PID" ] || fail "ss shows no process for port $port"
}

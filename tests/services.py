"""Real peers for the tests, on free loopback ports, in temporary directories.

Everything here binds 127.0.0.1 only, keeps its state under a directory the caller gives,
waits for readiness by polling (bounded, never a fixed sleep), and is stopped by the PID it
recorded. A missing program makes the calling test skip with the command that installs it.

- `free_port()`, `wait_for()`, `wait_for_async()`
- `ManagedProcess` / `ProcessGuard`: subprocesses with their output in files, terminated
  (SIGTERM, then SIGKILL after a bound) at the end; `leftovers()` finds what they left running.
- `MosquittoBroker`: Mosquitto 2.0 (optionally persistent, optionally with a TLS listener).
- `InfluxDB1`: Debian's influxd 1.6 (the 1.x `/write` and `/query` API).
- `listening_sockets()`: what a process listens on, read from `ss`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import inspect
import ipaddress
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

LOOPBACK = "127.0.0.1"
SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
INSTALL_HINT = "run make system-deps"

T = TypeVar("T")
PathLike = str | os.PathLike[str]


class ServiceError(RuntimeError):
    """A service did not start or stop as expected; the message carries its log."""


# --------------------------------------------------------------------------- programs


def find_program(name: str) -> str | None:
    """Path of `name` on PATH or in the sbin directories (Debian puts daemons there)."""
    path = os.environ.get("PATH", os.defpath)
    return shutil.which(name, path=os.pathsep.join([path, *SBIN_DIRS]))


def require_program(name: str, package: str | None = None) -> str:
    """Path of `name`, or skip the calling test saying how to install it."""
    found = find_program(name)
    if found is None:
        pkg = f" (Debian package {package})" if package and package != name else ""
        pytest.skip(f"{name} not installed{pkg}: {INSTALL_HINT}")
    return found


def lvgate_executable() -> Path:
    """The `lvgate` console script of the environment running the tests."""
    exe = Path(sys.executable).parent / "lvgate"
    if not exe.exists():
        pytest.fail(f"{exe} does not exist: run make install")
    return exe


# --------------------------------------------------------------------------- ports and waiting

_handed_out: set[tuple[str, int]] = set()


def free_port(kind: Literal["tcp", "udp"] = "tcp") -> int:
    """A port on 127.0.0.1 that nothing listens on now and that this process has not handed out before.

    Not handing a port out twice keeps a stopped service's port (to be restarted on the same
    port) from going to another service in the meantime.
    """
    sock_type = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
    for _ in range(100):
        with socket.socket(socket.AF_INET, sock_type) as sock:
            sock.bind((LOOPBACK, 0))
            port: int = sock.getsockname()[1]
        if (kind, port) not in _handed_out:
            _handed_out.add((kind, port))
            return port
    raise RuntimeError("no free loopback port found in 100 tries")


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = 0.05,
    what: str | None = None,
) -> T:
    """Call `predicate` until it returns something truthy, and return that; TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            name = what or getattr(predicate, "__name__", repr(predicate))
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {name}")
        time.sleep(min(interval, remaining))


@overload
async def wait_for_async(
    predicate: Callable[[], Awaitable[T | None]],
    timeout: float,
    *,
    interval: float = ...,
    what: str | None = ...,
) -> T: ...


@overload
async def wait_for_async(
    predicate: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = ...,
    what: str | None = ...,
) -> T: ...


async def wait_for_async(
    predicate: Callable[[], Any],
    timeout: float,
    *,
    interval: float = 0.05,
    what: str | None = None,
) -> Any:
    """`wait_for` for asyncio tests: sleeps with `asyncio.sleep`, and awaits the predicate's result if needed."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            name = what or getattr(predicate, "__name__", repr(predicate))
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {name}")
        await asyncio.sleep(min(interval, remaining))


def tcp_accepts(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """Whether a TCP connection to host:port succeeds now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- /proc


@dataclass(frozen=True)
class ProcInfo:
    """One process as /proc shows it."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    cmdline: str

    @property
    def alive(self) -> bool:
        """Running or sleeping: neither a zombie nor dead."""
        return self.state not in ("Z", "X", "x")


def read_proc(pid: int) -> ProcInfo | None:
    """The process `pid`, or None if it does not exist (any more)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw_cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # "pid (comm) state ppid pgrp session ..."; comm may hold spaces and parentheses.
    comm_end = stat.rindex(")")
    comm = stat[stat.index("(") + 1 : comm_end]
    fields = stat[comm_end + 2 :].split()
    cmdline = raw_cmd.replace(b"\0", b" ").decode(errors="replace").strip() or f"[{comm}]"
    return ProcInfo(
        pid=pid, ppid=int(fields[1]), pgid=int(fields[2]), sid=int(fields[3]), state=fields[0], cmdline=cmdline
    )


def all_processes() -> list[ProcInfo]:
    """Every process visible in /proc."""
    procs = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = read_proc(int(entry))
            if info is not None:
                procs.append(info)
    return procs


def descendants(pid: int, *, include_zombies: bool = False) -> list[ProcInfo]:
    """Children, grandchildren, ... of `pid` (by parent pid, so orphans that were reparented are not included)."""
    procs = all_processes()
    children: dict[int, list[ProcInfo]] = {}
    for proc in procs:
        children.setdefault(proc.ppid, []).append(proc)
    found: list[ProcInfo] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child.pid)
    return [p for p in found if include_zombies or p.alive]


def session_members(sid: int, *, include_zombies: bool = False) -> list[ProcInfo]:
    """Processes in session `sid` (a process started with start_new_session=True leads a session with sid == its pid)."""
    return [p for p in all_processes() if p.sid == sid and (include_zombies or p.alive)]


_subreaper_enabled = False


def enable_child_subreaper() -> bool:
    """Make this process adopt its orphaned descendants (Linux PR_SET_CHILD_SUBREAPER).

    Then a grandchild whose parent exits (even one that called setsid) is reparented to us
    instead of to init, so `ManagedProcess.leftovers()` can still find it. Idempotent.
    """
    global _subreaper_enabled
    if _subreaper_enabled:
        return True
    if not sys.platform.startswith("linux"):
        return False
    pr_set_child_subreaper = 36
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        _subreaper_enabled = libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        _subreaper_enabled = False
    return _subreaper_enabled


def _reap(pids: Iterable[int]) -> None:
    """Collect the exit status of adopted children so they do not stay zombies."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


# --------------------------------------------------------------------------- processes

_live: dict[int, ManagedProcess] = {}


def _stop_everything_at_exit() -> None:
    for proc in list(_live.values()):
        with contextlib.suppress(Exception):
            proc.terminate(timeout=5.0)


atexit.register(_stop_everything_at_exit)


def _known_child_pids() -> set[int]:
    return set(_live)


class ManagedProcess:
    """A subprocess whose stdout and stderr go to files, stopped by its PID.

    Started in a session of its own (`new_session=True`, the default), so Ctrl-C on the test
    run does not reach it before the fixtures' teardown, and its descendants can be found by
    session id even after it exits.
    """

    def __init__(
        self,
        argv: Sequence[PathLike],
        *,
        name: str,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        cwd: PathLike | None = None,
        new_session: bool = True,
    ) -> None:
        self.argv = [os.fspath(a) for a in argv]
        self.name = name
        log_dir.mkdir(parents=True, exist_ok=True)
        for n in itertools.count(1):
            suffix = "" if n == 1 else f".{n}"
            self.stdout_path = log_dir / f"{name}{suffix}.stdout"
            self.stderr_path = log_dir / f"{name}{suffix}.stderr"
            if not self.stdout_path.exists() and not self.stderr_path.exists():
                break
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if env:
            full_env.update(env)
        # Orphans adopted by this process before the start belong to somebody else.
        self._foreign_before = self._adopted_orphans()
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=cwd,
                env=full_env,
                start_new_session=new_session,
                close_fds=True,
            )
        self.pid = self.popen.pid
        self.new_session = new_session
        self.started_at = time.monotonic()
        _live[self.pid] = self

    def __repr__(self) -> str:
        return f"<ManagedProcess {self.name} pid={self.pid} returncode={self.returncode}>"

    @property
    def returncode(self) -> int | None:
        """Exit status once it has exited (negative: killed by that signal), else None."""
        return self.popen.poll()

    def is_running(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float) -> int:
        """Wait for it to exit by itself; ServiceError with its output if it does not within `timeout` s."""
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ServiceError(
                f"{self.name} (pid {self.pid}) still running after {timeout:g} s\n{self.output()}"
            ) from None
        _live.pop(self.pid, None)
        return code

    def send_signal(self, sig: int) -> None:
        if self.is_running():
            self.popen.send_signal(sig)

    def terminate(self, timeout: float = 10.0, *, kill_after: float = 5.0) -> int:
        """SIGTERM, wait up to `timeout` s, then SIGKILL; returns the exit status."""
        if self.is_running():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(kill_after)
        _live.pop(self.pid, None)
        code = self.popen.returncode
        assert code is not None
        return code

    def kill(self) -> int:
        """SIGKILL now (a crash or a pulled plug); returns the exit status."""
        if self.is_running():
            self.popen.kill()
        self.popen.wait(10.0)
        _live.pop(self.pid, None)
        code = self.popen.returncode
        assert code is not None
        return code

    def stdout_text(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def output(self, tail: int = 6000) -> str:
        """Both outputs (their ends), for assertion messages."""
        parts = []
        for label, path, text in (
            ("stdout", self.stdout_path, self.stdout_text()),
            ("stderr", self.stderr_path, self.stderr_text()),
        ):
            cut = text if len(text) <= tail else "...\n" + text[-tail:]
            parts.append(f"--- {self.name} {label} ({path}) ---\n{cut}")
        return "\n".join(parts)

    def wait_for_output(
        self,
        pattern: str | re.Pattern[str],
        timeout: float,
        *,
        stream: Literal["stdout", "stderr", "both"] = "both",
    ) -> re.Match[str]:
        """Poll the output files until `pattern` (a regular expression) matches; fail early if it exits first."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern

        def probe() -> re.Match[str] | None:
            texts = []
            if stream in ("stdout", "both"):
                texts.append(self.stdout_text())
            if stream in ("stderr", "both"):
                texts.append(self.stderr_text())
            for text in texts:
                match = regex.search(text)
                if match:
                    return match
            if not self.is_running():
                raise ServiceError(
                    f"{self.name} exited with {self.returncode} before printing {regex.pattern!r}\n{self.output()}"
                )
            return None

        try:
            return wait_for(probe, timeout, what=f"{self.name} to print {regex.pattern!r}")
        except TimeoutError as exc:
            raise ServiceError(f"{exc}\n{self.output()}") from None

    def _adopted_orphans(self) -> set[int]:
        """Direct children of this (test) process that no ManagedProcess started: adopted orphans."""
        if not _subreaper_enabled:
            return set()
        known = _known_child_pids()
        return {p.pid for p in descendants(os.getpid()) if p.ppid == os.getpid() and p.pid not in known}

    def leftovers(self) -> list[ProcInfo]:
        """Processes it started that are still alive, not counting itself.

        Found by session id (when started with new_session) and, once `enable_child_subreaper()`
        is in force, as orphans adopted by the test process since it started (which catches
        children that left its session) together with their descendants.
        """
        found: dict[int, ProcInfo] = {}
        if self.new_session:
            for proc in session_members(self.pid):
                found[proc.pid] = proc
        if self.is_running():
            for proc in descendants(self.pid):
                found[proc.pid] = proc
        new_orphans = self._adopted_orphans() - self._foreign_before
        for pid in new_orphans:
            info = read_proc(pid)
            if info is not None and info.alive:
                found[pid] = info
            for proc in descendants(pid):
                found[proc.pid] = proc
        found.pop(self.pid, None)
        return sorted(found.values(), key=lambda p: p.pid)

    def kill_leftovers(self, timeout: float = 5.0) -> list[ProcInfo]:
        """SIGKILL whatever `leftovers()` finds, reap adopted ones, and return what was found."""
        left = self.leftovers()
        for proc in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, signal.SIGKILL)
        pids = {p.pid for p in left}
        if pids:
            with contextlib.suppress(TimeoutError):

                def all_gone() -> bool:
                    _reap(pids)
                    return all(info is None or not info.alive for info in map(read_proc, pids))

                wait_for(all_gone, timeout, what="leftover processes to die")
        return left


class ProcessGuard:
    """Starts subprocesses for one test and stops all of them (and whatever they left) at teardown."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: list[ManagedProcess] = []
        enable_child_subreaper()

    def start(
        self,
        argv: Sequence[PathLike],
        *,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: PathLike | None = None,
        new_session: bool = True,
    ) -> ManagedProcess:
        """Start `argv` with stdout/stderr in `log_dir/NAME.stdout|.stderr` (NAME defaults to the program's name)."""
        proc = ManagedProcess(
            argv,
            name=name or Path(os.fspath(argv[0])).name,
            log_dir=self.log_dir,
            env=env,
            cwd=cwd,
            new_session=new_session,
        )
        self.processes.append(proc)
        return proc

    def stop_all(self, timeout: float = 10.0) -> None:
        """Terminate every process, newest first, then kill what they left running."""
        for proc in reversed(self.processes):
            proc.terminate(timeout)
        for proc in reversed(self.processes):
            proc.kill_leftovers()


# --------------------------------------------------------------------------- sockets


@dataclass(frozen=True)
class ListeningSocket:
    """One listening TCP socket or bound UDP socket, as `ss` reports it."""

    protocol: str
    address: str
    port: int
    pid: int
    process: str

    @property
    def loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.address).is_loopback
        except ValueError:  # "*" and the like: every address
            return False


_SS_USER = re.compile(r'\("([^"]*)",pid=(\d+),fd=\d+\)')


def parse_ss(output: str) -> list[ListeningSocket]:
    """Parse `ss -H -l -n -t -u -p` output."""
    sockets = []
    for line in output.splitlines():
        cols = line.split()
        if len(cols) < 5 or cols[0] not in ("tcp", "udp"):
            continue
        local = cols[4]
        host, _, port = local.rpartition(":")
        host = host.strip("[]").split("%", 1)[0]
        users = _SS_USER.findall(line)
        if not users:
            sockets.append(ListeningSocket(cols[0], host, int(port), 0, ""))
        for process, pid in users:
            sockets.append(ListeningSocket(cols[0], host, int(port), int(pid), process))
    return sockets


def listening_sockets(pids: Iterable[int] | None = None) -> list[ListeningSocket]:
    """Listening TCP and bound UDP sockets (all, or those of `pids`), read from `ss`."""
    ss = require_program("ss", "iproute2")
    out = subprocess.run(
        [ss, "-H", "-l", "-n", "-t", "-u", "-p"], capture_output=True, text=True, check=True, timeout=10
    )
    found = parse_ss(out.stdout)
    if pids is None:
        return found
    wanted = set(pids)
    return [s for s in found if s.pid in wanted]


# --------------------------------------------------------------------------- services


class _Service:
    """Common start/stop/restart of a daemon that keeps its state in `workdir`."""

    name = "service"
    program = ""
    package = ""
    start_timeout = 30.0
    stop_timeout = 15.0

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process: ManagedProcess | None = None
        self.ports_given = False
        self.last_start_seconds: float | None = None

    # subclasses
    def _argv(self, program: str) -> list[str]:
        raise NotImplementedError

    def _write_config(self) -> None:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def _pick_new_ports(self) -> None:
        raise NotImplementedError

    def ports(self) -> list[int]:
        raise NotImplementedError

    # common
    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def pid(self) -> int:
        if self.process is None or not self.process.is_running():
            raise ServiceError(f"{self.name} is not running")
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.is_running()

    @property
    def log_path(self) -> Path | None:
        """Where the current (or last) run writes its log."""
        return None if self.process is None else self.process.stderr_path

    def start(self, timeout: float | None = None) -> None:
        """Start it and wait until it serves requests. Idempotent while it runs.

        If its (automatically chosen) port was taken meanwhile, tries again on new ports, at most 3 times.
        """
        if self.running:
            return
        program = require_program(self.program, self.package)
        limit = self.start_timeout if timeout is None else timeout
        begin = time.monotonic()
        for attempt in range(3):
            self._write_config()
            proc = ManagedProcess(self._argv(program), name=self.name, log_dir=self.workdir / "logs")
            self.process = proc

            def ready(proc: ManagedProcess = proc) -> bool:
                if not proc.is_running():
                    raise ServiceError(f"{self.name} exited with {proc.returncode} while starting\n{proc.output()}")
                return self._ready()

            try:
                wait_for(ready, limit, interval=0.02, what=f"{self.name} on port(s) {self.ports()}")
            except ServiceError:
                log = proc.output().lower()
                if attempt < 2 and not self.ports_given and "address already in use" in log:
                    proc.terminate(5.0)
                    self._pick_new_ports()
                    continue
                proc.terminate(5.0)
                raise
            except TimeoutError as exc:
                proc.terminate(5.0)
                raise ServiceError(f"{exc}\n{proc.output()}") from None
            self.last_start_seconds = time.monotonic() - begin
            return

    def stop(self, timeout: float | None = None) -> int | None:
        """Stop it cleanly (SIGTERM, SIGKILL after the bound); returns its exit status, None if it was not running."""
        if self.process is None:
            return None
        code = self.process.terminate(self.stop_timeout if timeout is None else timeout)
        return code

    def kill(self) -> int | None:
        """SIGKILL: the service dies without saving anything."""
        if self.process is None:
            return None
        return self.process.kill()

    def restart(self, timeout: float | None = None) -> None:
        """Stop and start again on the same port(s) with the same state directory."""
        self.stop()
        self.ports_given = True  # keep the ports even if something took them
        self.start(timeout)

    def listening(self) -> list[ListeningSocket]:
        """The sockets it listens on now (from `ss`)."""
        return listening_sockets([self.pid])

    def __enter__(self) -> _Service:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ----- Mosquitto


@dataclass(frozen=True)
class MqttTls:
    """Files for a TLS listener (PEM)."""

    cafile: Path
    certfile: Path
    keyfile: Path
    require_certificate: bool = False


def make_test_certificates(directory: Path, *, client: bool = True) -> MqttTls:
    """A throwaway CA, a server certificate for 127.0.0.1/localhost and (if `client`) a client certificate, with openssl.

    Client files: `directory/client.crt` and `directory/client.key`.
    """
    openssl = require_program("openssl", "openssl")
    directory.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True, timeout=60)

    run(
        *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
        *("-subj", "/CN=lvgate test CA", "-keyout", "ca.key", "-out", "ca.crt"),
        *("-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"),
    )
    subjects = [("server", "/CN=localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost")]
    if client:
        subjects.append(("client", "/CN=lvgate-test-client", "extendedKeyUsage=clientAuth"))
    for stem, subject, ext in subjects:
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", f"{stem}.key", "-out", f"{stem}.csr")
        (directory / f"{stem}.ext").write_text(ext + "\n")
        run(
            *("x509", "-req", "-in", f"{stem}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"),
            *("-days", "2", "-out", f"{stem}.crt", "-extfile", f"{stem}.ext"),
        )
    return MqttTls(cafile=directory / "ca.crt", certfile=directory / "server.crt", keyfile=directory / "server.key")


def mqtt_ping(port: int, host: str = LOOPBACK, timeout: float = 1.0) -> bool:
    """An MQTT 3.1.1 CONNECT/CONNACK exchange: True if the broker accepts an anonymous client."""
    client_id = b"lvgate-test-probe"
    var_header = b"\x00\x04MQTT\x04\x02\x00\x0a"  # protocol name, level 4, clean session, keepalive 10 s
    payload = len(client_id).to_bytes(2, "big") + client_id
    body = var_header + payload
    packet = b"\x10" + bytes([len(body)]) + body
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(packet)
            reply = b""
            while len(reply) < 4:
                chunk = sock.recv(4 - len(reply))
                if not chunk:
                    return False
                reply += chunk
            with contextlib.suppress(OSError):
                sock.sendall(b"\xe0\x00")  # DISCONNECT
            return reply == b"\x20\x02\x00\x00"
    except OSError:
        return False


class MosquittoBroker(_Service):
    """A private Mosquitto 2.0 broker on a free loopback port.

    persistence=True keeps retained messages and sessions across `restart()` in `workdir/persistence/`.
    tls=MqttTls(...) adds a TLS listener on `tls_port` (127.0.0.1 too).
    extra_config: more mosquitto.conf lines, appended as they are.
    """

    name = "mosquitto"
    program = "mosquitto"
    package = "mosquitto"
    start_timeout = 15.0
    stop_timeout = 10.0

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        persistence: bool = False,
        tls: MqttTls | None = None,
        tls_port: int | None = None,
        extra_config: Sequence[str] = (),
    ) -> None:
        super().__init__(workdir)
        self.ports_given = port is not None
        self.port = port if port is not None else free_port()
        self.persistence = persistence
        self.tls = tls
        self.tls_port = (tls_port or free_port()) if tls is not None else None
        self.extra_config = list(extra_config)
        self.config_path = workdir / "mosquitto.conf"
        self.persistence_dir = workdir / "persistence"

    @property
    def url(self) -> str:
        return f"mqtt://{LOOPBACK}:{self.port}"

    def ports(self) -> list[int]:
        return [self.port] + ([self.tls_port] if self.tls_port is not None else [])

    def config_text(self) -> str:
        lines = ["# written by tests/services.py"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # As root, mosquitto would switch to the user 'mosquitto', which cannot write our temp dirs.
            lines.append("user root")
        lines += [
            f"listener {self.port} {LOOPBACK}",
            "allow_anonymous true",
            f"persistence {'true' if self.persistence else 'false'}",
        ]
        if self.persistence:
            self.persistence_dir.mkdir(parents=True, exist_ok=True)
            lines.append(f"persistence_location {self.persistence_dir}/")
        lines += [
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        ]
        if self.tls is not None:
            lines += [
                f"listener {self.tls_port} {LOOPBACK}",
                f"cafile {self.tls.cafile}",
                f"certfile {self.tls.certfile}",
                f"keyfile {self.tls.keyfile}",
                f"require_certificate {'true' if self.tls.require_certificate else 'false'}",
            ]
        lines += self.extra_config
        return "\n".join(lines) + "\n"

    def _write_config(self) -> None:
        self.config_path.write_text(self.config_text())

    def _argv(self, program: str) -> list[str]:
        return [program, "-c", str(self.config_path)]

    def _ready(self) -> bool:
        if not mqtt_ping(self.port):
            return False
        return self.tls_port is None or tcp_accepts(self.tls_port)

    def _pick_new_ports(self) -> None:
        self.port = free_port()
        if self.tls_port is not None:
            self.tls_port = free_port()


# ----- InfluxDB 1.x


def _quote_ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class InfluxDB1(_Service):
    """Debian's influxd 1.6 on free loopback ports (HTTP and the backup/RPC port), data in `workdir`."""

    name = "influxd"
    program = "influxd"
    package = "influxdb"
    start_timeout = 30.0
    stop_timeout = 15.0

    def __init__(self, workdir: Path, *, http_port: int | None = None, rpc_port: int | None = None) -> None:
        super().__init__(workdir)
        self.ports_given = http_port is not None or rpc_port is not None
        self.http_port = http_port if http_port is not None else free_port()
        self.rpc_port = rpc_port if rpc_port is not None else free_port()
        self.config_path = workdir / "influxdb.conf"
        self.data_root = workdir / "influxdb"

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    def ports(self) -> list[int]:
        return [self.http_port, self.rpc_port]

    def config_text(self) -> str:
        root = self.data_root
        return f"""# written by tests/services.py
reporting-disabled = true
bind-address = "{LOOPBACK}:{self.rpc_port}"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[http]
  bind-address = "{LOOPBACK}:{self.http_port}"
  log-enabled = false
[monitor]
  store-enabled = false
[ifql]
  enabled = false
"""

    def _write_config(self) -> None:
        self.config_path.write_text(self.config_text())

    def _argv(self, program: str) -> list[str]:
        return [program, "run", "-config", str(self.config_path)]

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ping", timeout=1.0).status_code == 204
        except httpx.HTTPError:
            return False

    def _pick_new_ports(self) -> None:
        self.http_port = free_port()
        self.rpc_port = free_port()

    # --- HTTP API

    def query(
        self,
        db: str | None,
        q: str,
        *,
        epoch: Literal["ns", "u", "ms", "s", "m", "h"] | None = None,
        check: bool = True,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """POST /query; returns the parsed JSON. `epoch="ns"` gives integer timestamps instead of RFC 3339.

        check=True raises ServiceError when the HTTP status or any statement reports an error.
        """
        params: dict[str, str] = {"q": q}
        if db is not None:
            params["db"] = db
        if epoch is not None:
            params["epoch"] = epoch
        response = httpx.post(f"{self.url}/query", params=params, timeout=timeout)
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            raise ServiceError(f"influxd: {q!r}: HTTP {response.status_code}: {response.text}") from None
        if check:
            errors = [r["error"] for r in body.get("results", []) if "error" in r]
            if response.status_code >= 400 or "error" in body or errors:
                raise ServiceError(f"influxd: {q!r}: HTTP {response.status_code}: {body}")
        return body

    def rows(
        self, db: str, q: str, *, epoch: Literal["ns", "u", "ms", "s", "m", "h"] | None = "ns"
    ) -> list[dict[str, Any]]:
        """The points a SELECT returns, each a dict of column -> value plus its series' tags and `_measurement`."""
        rows: list[dict[str, Any]] = []
        for result in self.query(db, q, epoch=epoch).get("results", []):
            for series in result.get("series", []):
                tags = series.get("tags", {})
                for values in series.get("values", []):
                    row = dict(zip(series["columns"], values, strict=True))
                    row.update(tags)
                    row["_measurement"] = series.get("name")
                    rows.append(row)
        return rows

    def write(
        self,
        db: str,
        lines: str | Iterable[str],
        *,
        precision: Literal["ns", "u", "ms", "s", "m", "h"] = "ns",
        timeout: float = 10.0,
    ) -> None:
        """POST /write with line protocol; ServiceError unless InfluxDB answers 204."""
        data = lines if isinstance(lines, str) else "\n".join(lines)
        response = httpx.post(
            f"{self.url}/write", params={"db": db, "precision": precision}, content=data.encode(), timeout=timeout
        )
        if response.status_code != 204:
            raise ServiceError(f"influxd /write: HTTP {response.status_code}: {response.text}")

    def create_database(self, name: str) -> None:
        self.query(None, f"CREATE DATABASE {_quote_ident(name)}")

    def drop_database(self, name: str) -> None:
        self.query(None, f"DROP DATABASE {_quote_ident(name)}")

    def databases(self) -> list[str]:
        body = self.query(None, "SHOW DATABASES")
        series = body["results"][0].get("series", [])
        return [row[0] for s in series for row in s.get("values", [])]


# --------------------------------------------------------------------------- factories


class BrokerFactory:
    """Makes private brokers under `root` (each in its own directory) and stops them all at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.brokers: list[MosquittoBroker] = []

    def __call__(
        self,
        *,
        port: int | None = None,
        persistence: bool = False,
        tls: MqttTls | None = None,
        extra_config: Sequence[str] = (),
        start: bool = True,
    ) -> MosquittoBroker:
        broker = MosquittoBroker(
            self.root / f"mosquitto-{len(self.brokers) + 1}",
            port=port,
            persistence=persistence,
            tls=tls,
            extra_config=extra_config,
        )
        self.brokers.append(broker)
        if start:
            broker.start()
        return broker

    def stop_all(self) -> None:
        for broker in reversed(self.brokers):
            broker.stop()


class InfluxDBFactory:
    """Makes private InfluxDB 1.x servers under `root` and stops them all at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.servers: list[InfluxDB1] = []

    def __call__(self, *, start: bool = True) -> InfluxDB1:
        server = InfluxDB1(self.root / f"influxdb-{len(self.servers) + 1}")
        self.servers.append(server)
        if start:
            server.start()
        return server

    def stop_all(self) -> None:
        for server in reversed(self.servers):
            server.stop()


# --------------------------------------------------------------------------- an MQTT client for assertions


@dataclass(frozen=True)
class ReceivedMessage:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    received_at: float  # time.time()

    def text(self) -> str:
        return self.payload.decode()


class MqttProbe:
    """A paho-mqtt 2.x client that records every message it receives, for tests to assert on.

    with MqttProbe(broker.port) as probe:
        probe.subscribe("lvgate/#")
        msg = probe.wait_for_message("lvgate/+/+/state", timeout=10)
    """

    def __init__(
        self,
        port: int,
        *,
        host: str = LOOPBACK,
        client_id: str = "",
        tls_ca: Path | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.messages: list[ReceivedMessage] = []
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._acks: dict[int, threading.Event] = {}
        self._connect_error: str | None = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if tls_ca is not None:
            self.client.tls_set(ca_certs=str(tls_ca))
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish

    # paho callbacks (network thread)
    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._connect_error = str(reason_code)
        self._connected.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        received = ReceivedMessage(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), time.time())
        with self._lock:
            self.messages.append(received)

    def _ack(self, mid: int) -> None:
        with self._lock:
            self._acks.setdefault(mid, threading.Event()).set()

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        self._ack(mid)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._ack(mid)

    def _wait_ack(self, mid: int, timeout: float, what: str) -> None:
        with self._lock:
            event = self._acks.setdefault(mid, threading.Event())
        if not event.wait(timeout):
            raise TimeoutError(f"no acknowledgement for {what} within {timeout:g} s")

    # API
    def connect(self, timeout: float = 10.0) -> MqttProbe:
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            raise TimeoutError(f"no CONNACK from {self.host}:{self.port} within {timeout:g} s")
        if self._connect_error is not None:
            raise ServiceError(f"broker refused the connection: {self._connect_error}")
        return self

    def subscribe(self, topic: str, qos: int = 1, timeout: float = 10.0) -> None:
        result, mid = self.client.subscribe(topic, qos)
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise ServiceError(f"subscribe {topic!r} failed: {result}")
        self._wait_ack(mid, timeout, f"SUBSCRIBE {topic}")

    def publish(
        self, topic: str, payload: str | bytes, qos: int = 1, retain: bool = False, timeout: float = 10.0
    ) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos > 0:
            self._wait_ack(info.mid, timeout, f"PUBLISH {topic}")

    def received(self, topic_filter: str = "#") -> list[ReceivedMessage]:
        """Messages received so far whose topic matches the MQTT filter."""
        with self._lock:
            return [m for m in self.messages if mqtt.topic_matches_sub(topic_filter, m.topic)]

    def wait_for_message(
        self,
        topic_filter: str = "#",
        timeout: float = 10.0,
        predicate: Callable[[ReceivedMessage], bool] | None = None,
    ) -> ReceivedMessage:
        """The first received message matching the filter (and predicate), waiting up to `timeout` s."""

        def probe() -> ReceivedMessage | None:
            for message in self.received(topic_filter):
                if predicate is None or predicate(message):
                    return message
            return None

        return wait_for(probe, timeout, interval=0.02, what=f"an MQTT message on {topic_filter!r}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> MqttProbe:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

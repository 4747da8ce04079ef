"""One MQTT connection, driven by the asyncio event loop.

paho-mqtt 2.x does the protocol; its socket is served by the event loop (add_reader /
add_writer, as aiomqtt does) instead of a network thread, so a publish is a direct write and
an acknowledgement a direct callback: no thread hand-offs on the hot path of a gateway.
One task owns (re)connecting, with capped exponential back-off and jitter; only the blocking
connect itself (TCP + TLS handshake) runs in a worker thread. Every callback logs, never
swallows, what goes wrong inside it. Used by the gateway (publishing) and the collector
(subscribing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import select
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkSettings:
    host: str
    port: int
    client_id: str
    keepalive: int = 30
    protocol: str = "5"
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    check_hostname: bool = True
    clean_start: bool = True
    session_expiry_s: int = 0


class _Client(mqtt.Client):
    """paho's client with a cheaper acknowledgement path for a busy publisher.

    ``on_publish`` stays unset, so paho neither builds a reason code and properties for every
    QoS 0 message it writes nor for every plain PUBACK (no reason code, no properties: the
    broker's "success"); acknowledgements reach ``acked`` from paho's own bookkeeping
    (``_do_on_publish``), once per message it had in flight. Anything else takes paho's path.
    """

    acked: Callable[[int], None] | None = None
    # What one recv() of the connection brought: paho asks for a packet's header a byte at a time
    # (one system call each); these serve its reads until they run out.
    _rbuf: bytes = b""
    _rpos: int = 0
    _rsock: Any = None

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rsock is not self._sock:  # a new connection: nothing of the old one is served
            self._rbuf, self._rpos, self._rsock = b"", 0, self._sock
        if self._rpos >= len(self._rbuf):
            data: bytes = super()._sock_recv(_RECV_BYTES)  # BlockingIOError etc. reach paho as before
            if not data:
                return data  # closed by the broker
            self._rbuf, self._rpos = data, 0
        start = self._rpos
        self._rpos = min(start + bufsize, len(self._rbuf))
        return self._rbuf[start : self._rpos]

    def buffered(self) -> bool:
        """Bytes received and not yet handed to paho (the socket may have none left)."""
        return self._rsock is self._sock and self._rpos < len(self._rbuf)

    def _handle_pubackcomp(self, cmd: Any) -> MQTTErrorCode:
        packet = self._in_packet["packet"]
        if cmd == "PUBACK" and len(packet) == 2:
            mid = packet[0] << 8 | packet[1]
            with self._out_message_mutex:
                if mid in self._out_messages:
                    return self._do_on_publish(mid, _SUCCESS, _NO_PROPERTIES)
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        rc: MQTTErrorCode = super()._handle_pubackcomp(cmd)
        return rc

    def _do_on_publish(self, mid: int, reason_code: Any, properties: Any) -> MQTTErrorCode:
        rc: MQTTErrorCode = super()._do_on_publish(mid, reason_code, properties)
        if self.acked is not None:
            try:
                self.acked(mid)
            except Exception:
                log.exception("MQTT acknowledgement handler failed")
        return rc


_SUCCESS = ReasonCode(PacketTypes.PUBACK)
_NO_PROPERTIES = Properties(PacketTypes.PUBACK)  # type: ignore[no-untyped-call]


class MqttLink:
    """An MQTT client whose events arrive on the asyncio loop."""

    def __init__(
        self,
        settings: LinkSettings,
        *,
        will: tuple[str, bytes] | None = None,
        on_connected: Callable[[], Awaitable[None]] | None = None,
        on_message: Callable[[mqtt.MQTTMessage], None] | None = None,
        on_ack: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_connected = on_connected
        self._on_message = on_message
        self._on_ack = on_ack
        self.connected = asyncio.Event()
        self.connect_count = 0
        self.stopping = False
        self.last_error: str | None = None
        protocol = mqtt.MQTTv5 if settings.protocol == "5" else mqtt.MQTTv311
        kwargs: dict[str, Any] = {"client_id": settings.client_id, "protocol": protocol}
        if protocol == mqtt.MQTTv311:
            kwargs["clean_session"] = settings.clean_start
        self.client = _Client(CallbackAPIVersion.VERSION2, **kwargs)
        self.client.max_inflight_messages_set(200)
        if settings.username:
            self.client.username_pw_set(settings.username, settings.password)
        if settings.ca_file or settings.cert_file:
            self.client.tls_set(
                ca_certs=settings.ca_file,
                certfile=settings.cert_file,
                keyfile=settings.key_file,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
            self.client.tls_insecure_set(not settings.check_hostname)
        if will:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.client.on_connect = self._handle_connect
        self.client.on_disconnect = self._handle_disconnect
        self.client.on_message = self._handle_message
        self.client.acked = self._handle_ack
        self.client.on_socket_open = self._socket_open
        self.client.on_socket_close = self._socket_close
        self.client.on_socket_register_write = self._want_write
        self.client.on_socket_unregister_write = self._done_writing
        self._flush_pending = False
        self._writer_added = False
        self._lost = asyncio.Event()
        self._owner: asyncio.Task[None] | None = None
        self._thread_id = threading.get_ident()

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread_id = threading.get_ident()
        properties = None
        if self.settings.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.settings.session_expiry_s
        connect_kwargs: dict[str, Any] = {"keepalive": self.settings.keepalive, "properties": properties}
        if self.settings.protocol == "5":
            connect_kwargs["clean_start"] = self.settings.clean_start
        self.client.connect_async(self.settings.host, self.settings.port, **connect_kwargs)
        self._owner = asyncio.create_task(self._own_connection(), name="mqtt-connection")

    async def _own_connection(self, max_delay: float = 30.0) -> None:
        """Connect, serve, and reconnect after a loss: the one owner of the connection."""
        delay = 1.0
        while not self.stopping:
            self._lost.clear()
            try:
                await asyncio.to_thread(self.client.reconnect)
            except (OSError, ssl.SSLError, ValueError) as exc:
                error = f"cannot connect to {self.settings.host}:{self.settings.port}: {_describe(exc)}"
                if error != self.last_error:  # say it once, not at every retry
                    log.error("MQTT %s", error)
                self.last_error = error
                # Jitter, so that a room of gateways does not come back in lockstep after a broker restart.
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, max_delay)
                continue
            connects_before = self.connect_count
            misc = asyncio.create_task(self._keepalive(), name="mqtt-keepalive")
            try:
                await self._lost.wait()
            finally:
                misc.cancel()
            if self.stopping:
                break
            # A working connection that broke comes back soon; a refusing broker is not hammered.
            delay = 1.0 if self.connect_count > connects_before else min(delay * 2, max_delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))

    async def _keepalive(self) -> None:
        """paho's housekeeping: pings at keepalive, and noticing a broker that went silent."""
        while True:
            await asyncio.sleep(1.0)
            if self.client.loop_misc() != mqtt.MQTT_ERR_SUCCESS:
                self._lost.set()

    async def stop(self, final: tuple[str, bytes] | None = None) -> None:
        """Disconnect cleanly, publishing ``final`` (retained) first when connected."""
        if final and self.connected.is_set():
            info = self.client.publish(final[0], final[1], qos=1, retain=True)
            for _ in range(200):  # up to 2 s for the broker's acknowledgement
                if info.is_published() or not self.connected.is_set():
                    break
                await asyncio.sleep(0.01)
        self.stopping = True
        if self.connected.is_set():
            self.client.disconnect()
        if self._owner is not None:
            self._lost.set()
            self._owner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._owner
        self.connected.clear()

    # --- the socket, served by the event loop ---------------------------------------------
    def _on_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn`` on the event loop: now when already there, else as soon as it can."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self._thread_id:
            self._guarded(fn, *args)
        else:
            loop.call_soon_threadsafe(self._guarded, fn, *args)

    def _socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # Small packets go out at once: without this, Nagle's algorithm holds a publish back
        # until the broker acknowledges the previous segment (tens of ms of added latency).
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._on_loop(self._watch, sock)

    def _watch(self, sock: Any) -> None:
        assert self._loop is not None
        self._loop.add_reader(sock, self._readable)

    def _readable(self) -> None:
        # paho reads one packet per loop_read(): keep reading while more bytes wait, so a burst
        # is taken in one event-loop turn (and its messages reach the inbox in one commit), not
        # one turn per message. Bounded, so the other tasks still get their turns.
        sock = self.client.socket()
        for _ in range(_READS_PER_TURN):
            if self.client.loop_read() != mqtt.MQTT_ERR_SUCCESS:
                self._lost.set()
                return
            if not self.client.buffered() and (sock is None or not _more_to_read(sock)):
                return
        if self.client.buffered() and self._loop is not None:
            # The socket may have nothing more to say, so its reader would not fire for these.
            self._loop.call_soon(self._readable)

    def _socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._on_loop(self._unwatch, sock)

    def _unwatch(self, sock: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)
        self._writer_added = False
        self._lost.set()

    def _want_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._on_loop(self._schedule_flush, sock)

    def _schedule_flush(self, sock: Any) -> None:
        """paho has something to send: write it at the end of this loop turn, together with
        everything else published during the turn (paho asks once until it has written all)."""
        assert self._loop is not None
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self._flush, sock)

    def _flush(self, sock: Any) -> None:
        self._flush_pending = False
        self.client.loop_write()
        if self.client.want_write() and not self._writer_added:  # the socket is full: wait until writable
            assert self._loop is not None
            with contextlib.suppress(ValueError, OSError):
                self._loop.add_writer(sock, self.client.loop_write)
                self._writer_added = True

    def _done_writing(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._on_loop(self._remove_writer, sock)

    def _remove_writer(self, sock: Any) -> None:
        assert self._loop is not None
        if self._writer_added:
            self._writer_added = False
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_writer(sock)

    # --- publishing ------------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> int:
        """Hand a message to paho; returns its message id (acks arrive through ``on_ack``)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        return int(info.mid)

    def subscribe(self, topics: list[str], qos: int = 1) -> None:
        if topics:
            self.client.subscribe([(t, qos) for t in topics])

    # --- paho callbacks (on the event loop) ----------------------------------------------
    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        self._on_loop(fn, *args)

    @staticmethod
    def _guarded(fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("MQTT handler %s failed", getattr(fn, "__qualname__", fn))

    def _handle_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if getattr(reason, "is_failure", False):
            self.last_error = f"broker refused the connection: {reason}"
            log.error("MQTT %s:%s: %s", self.settings.host, self.settings.port, self.last_error)
            return
        self._call(self._connected)

    def _connected(self) -> None:
        self.connect_count += 1
        self.last_error = None
        self.connected.set()
        log.info("MQTT connected to %s:%s", self.settings.host, self.settings.port)
        if self._on_connected is not None:
            task = asyncio.ensure_future(self._on_connected())
            task.add_done_callback(_log_task_failure)

    def _handle_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._call(self._disconnected, str(reason))

    def _disconnected(self, reason: str) -> None:
        if self.connected.is_set() and not self.stopping:
            log.warning("MQTT disconnected from %s:%s: %s", self.settings.host, self.settings.port, reason)
        self.connected.clear()
        self._lost.set()

    def _handle_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self._on_message is not None:
            self._call(self._on_message, message)

    def _handle_ack(self, mid: int) -> None:
        if self._on_ack is not None:
            self._call(self._on_ack, mid)


_READS_PER_TURN = 500
_RECV_BYTES = 256 * 1024
_select = select.select


def _more_to_read(sock: Any) -> bool:
    """Bytes waiting on the connection (decrypted ones held by TLS included)?"""
    try:
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        return bool(_select([sock], [], [], 0)[0])
    except (OSError, ValueError):  # closed meanwhile: the next loop_read finds out
        return False


def _describe(exc: BaseException) -> str:
    """Why a connection attempt failed, in words a technician can act on."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS handshake failed: certificate verify failed: {exc.verify_message}"
            " (is mqtt.tls.ca_file the CA that signed the broker's certificate?)"
        )
    if isinstance(exc, ssl.SSLError):
        return "TLS handshake failed: " + str(exc.reason or exc).lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _log_task_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("MQTT on-connect work failed", exc_info=task.exception())

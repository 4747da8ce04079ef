"""One MQTT connection, owned by paho's network thread, bridged into asyncio.

paho-mqtt 2.x is the single reconnect owner (capped back-off); every callback hands its
work to the event loop and logs, never swallows, what goes wrong inside it. Used by the
gateway (publishing) and the collector (subscribing).
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

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
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, **kwargs)
        self.client.max_inflight_messages_set(200)
        # A little jitter so a room of gateways does not reconnect in lockstep after a broker restart.
        self.client.reconnect_delay_set(min_delay=1, max_delay=int(20 + random.uniform(0, 10)))
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
        self.client.on_publish = self._handle_publish
        self.client.on_connect_fail = self._handle_connect_fail

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        properties = None
        if self.settings.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.settings.session_expiry_s
        connect_kwargs: dict[str, Any] = {"keepalive": self.settings.keepalive, "properties": properties}
        if self.settings.protocol == "5":
            connect_kwargs["clean_start"] = self.settings.clean_start
        self.client.connect_async(self.settings.host, self.settings.port, **connect_kwargs)
        self.client.loop_start()

    async def stop(self, final: tuple[str, bytes] | None = None) -> None:
        """Disconnect cleanly, publishing ``final`` (retained) first when connected."""
        if final and self.connected.is_set():
            info = self.client.publish(final[0], final[1], qos=1, retain=True)
            await asyncio.to_thread(info.wait_for_publish, 2.0)
        self.stopping = True
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)

    # --- publishing ------------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> int:
        """Hand a message to paho; returns its message id (acks arrive through ``on_ack``)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        return int(info.mid)

    def subscribe(self, topics: list[str], qos: int = 1) -> None:
        if topics:
            self.client.subscribe([(t, qos) for t in topics])

    # --- paho callbacks (network thread) ---------------------------------------------------
    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._guarded, fn, *args)

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

    def _handle_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        error = f"cannot connect to {self.settings.host}:{self.settings.port}: {diagnose(self.settings)}"
        if error != self.last_error:  # say it once, not at every retry
            log.error("MQTT %s", error)
        self.last_error = error

    def _handle_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self._on_message is not None:
            self._call(self._on_message, message)

    def _handle_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        if self._on_ack is not None:
            self._call(self._on_ack, mid)


def diagnose(settings: LinkSettings, timeout: float = 3.0) -> str:
    """Why a connection fails, in words: paho only says that it did."""
    try:
        sock = socket.create_connection((settings.host, settings.port), timeout=timeout)
    except OSError as exc:
        return exc.strerror or str(exc)
    try:
        if settings.ca_file or settings.cert_file:
            context = ssl.create_default_context(cafile=settings.ca_file)
            context.check_hostname = settings.check_hostname
            if settings.cert_file:
                context.load_cert_chain(settings.cert_file, settings.key_file)
            try:
                with context.wrap_socket(sock, server_hostname=settings.host) as tls:
                    tls.do_handshake()
            except ssl.SSLCertVerificationError as exc:
                return (
                    f"TLS handshake failed: certificate verify failed: {exc.verify_message}"
                    " (is mqtt.tls.ca_file the CA that signed the broker's certificate?)"
                )
            except ssl.SSLError as exc:
                reason = str(exc.reason or exc).lower().replace("_", " ")
                return f"TLS handshake failed: {reason}"
            except OSError as exc:
                return f"TLS handshake failed: {exc}"
        return "the broker accepted TCP but not the MQTT connection"
    finally:
        sock.close()


def _log_task_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("MQTT on-connect work failed", exc_info=task.exception())

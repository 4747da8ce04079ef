"""Move queued messages from disk to the broker, in order, deleting each only once acked."""

from __future__ import annotations

import asyncio
import logging
import time

from lvgate.diskqueue import DiskQueue, Priority
from lvgate.mqtt_link import MqttLink

log = logging.getLogger(__name__)


class Outbox:
    """Durable, ordered, paced publishing of telemetry and events.

    ``window`` bounds the messages handed to the broker and not yet acknowledged; ``max_rate``
    paces a replay after an outage so a backlog does not flood the broker.
    """

    def __init__(self, queue: DiskQueue, link: MqttLink, *, window: int = 100, max_rate: float = 2000.0) -> None:
        self.queue = queue
        self.link = link
        self.window = window
        self.max_rate = max_rate
        self._inflight: dict[int, int] = {}  # paho mid -> queue id
        self._sent_up_to = 0  # highest queue id handed to paho
        self._wake = asyncio.Event()
        self._caught_up = False  # every queued message has been handed to the connection
        self._acked: list[int] = []  # queue ids acknowledged, deleted once per event-loop turn
        self._pending: list[tuple[str, bytes, Priority]] = []  # put, committed at the end of this turn
        self._closed = False
        self.published = 0

    def put(self, topic: str, payload: bytes, priority: Priority = Priority.HISTORY) -> None:
        """Queue a message. It is committed to disk in one transaction with every other message
        put during the same event-loop turn (devices polled together cost one commit), before
        anything is handed to the broker."""
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.commit)
        self._pending.append((topic, payload, priority))

    def commit(self) -> None:
        """Write what was put to disk; when nothing older waits, hand it straight to the
        connection too, sparing a read back from disk (order is kept: nothing was skipped)."""
        if not self._pending:
            return
        items, self._pending = self._pending, []
        direct = self._caught_up and self.link.connected.is_set() and len(self._inflight) + len(items) <= self.window
        ids = self.queue.put_many(items, in_flight_up_to=self._sent_up_to, protect_new=direct)
        if direct:
            for (topic, payload, _), queue_id in zip(items, ids, strict=True):
                self._inflight[self.link.publish(topic, payload, qos=1)] = queue_id
                self._sent_up_to = queue_id
            return
        self._caught_up = False
        self._wake.set()

    def on_ack(self, mid: int) -> None:
        queue_id = self._inflight.pop(mid, None)
        if queue_id is None:
            return
        if not self._acked:
            # Deleting is bookkeeping: batch it (a crash before then only re-sends, never loses).
            asyncio.get_running_loop().call_later(0.25, self._delete_acked)
        self._acked.append(queue_id)
        self.published += 1
        if not self._caught_up:
            self._wake.set()

    def _delete_acked(self) -> None:
        done, self._acked = self._acked, []
        if done and not self._closed:
            self.queue.remove(done)

    def close(self) -> None:
        """Settle the bookkeeping before the queue file is closed."""
        self.commit()
        self._delete_acked()
        self._closed = True

    def on_reconnect(self) -> None:
        """paho re-sends what it had in flight; we carry on after the last id handed over."""
        self._caught_up = False
        self._wake.set()

    async def drain(self, timeout: float) -> bool:
        """Wait until everything queued is acknowledged (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        self.commit()
        while self.depth or self._inflight:
            self._delete_acked()
            if not (self.depth or self._inflight):
                break
            if time.monotonic() > deadline or not self.link.connected.is_set():
                return False
            self._wake.set()
            await asyncio.sleep(0.02)
        return True

    @property
    def depth(self) -> int:
        return len(self.queue) + len(self._pending)

    async def run(self) -> None:
        tokens = self.max_rate
        last = time.monotonic()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.link.connected.is_set():
                room = self.window - len(self._inflight)
                if room <= 0:
                    break
                batch = self.queue.peek(room, after_id=self._sent_up_to)
                if not batch:
                    self._caught_up = True
                    break
                now = time.monotonic()
                tokens = min(self.max_rate, tokens + (now - last) * self.max_rate)
                last = now
                if tokens < 1:
                    await asyncio.sleep((1 - tokens) / self.max_rate)
                    continue
                for message in batch[: max(1, int(tokens))]:
                    mid = self.link.publish(message.topic, message.payload, qos=1)
                    self._inflight[mid] = message.id
                    self._sent_up_to = message.id
                    tokens -= 1
                await asyncio.sleep(0)  # let acks and polls in between chunks

"""Abnormal inspection items open or link an alarm in the alarm book.

Link: an open alarm of the same device about the same entity (``psu_status`` matches an alarm on
``psu_status`` or ``psu_status.2``). Open: the book is fed an ``inspection_abnormal`` event for the
device; the event rule of that name (``edge_config/rules/maintenance.yaml``, level III) raises it.
Called inside the caller's ``CentralDb.transaction()``.
"""

from __future__ import annotations

import logging
from typing import Protocol

from lvgate.collector.alarms.book import AlarmBook, DeviceContext, EventInput

log = logging.getLogger(__name__)
ABNORMAL_EVENT = "inspection_abnormal"
ABNORMAL_RULE = "inspection_abnormal"


class AlarmHook(Protocol):
    def link_or_open(
        self, ctx: DeviceContext, entity: str | None, ts_ms: int, *, open_new: bool = True
    ) -> str | None: ...


class NoAlarms:
    """Without an alarm book: nothing is linked or opened."""

    def link_or_open(self, ctx: DeviceContext, entity: str | None, ts_ms: int, *, open_new: bool = True) -> str | None:
        return None


class BookAlarms:
    def __init__(self, book: AlarmBook) -> None:
        self.book = book

    def _find(self, ctx: DeviceContext, entity: str | None) -> str | None:
        for row in self.book.active_for_device(ctx.gateway, ctx.device):
            if row["cleared_ms"] is not None:
                continue
            other = row["entity"]
            if entity is not None and other is not None and (other == entity or other.startswith(entity + ".")):
                return str(row["id"])
        return None

    def link_or_open(self, ctx: DeviceContext, entity: str | None, ts_ms: int, *, open_new: bool = True) -> str | None:
        found = self._find(ctx, entity)
        if found is not None or not open_new:
            return found
        self.book.apply([EventInput(ctx, ABNORMAL_EVENT, ts_ms)])
        for row in self.book.active_for_device(ctx.gateway, ctx.device):
            if row["rule"] == ABNORMAL_RULE and row["cleared_ms"] is None:
                return str(row["id"])
        log.warning("no alarm rule '%s' in the alarm book: abnormal item of %s not raised", ABNORMAL_RULE, ctx.device)
        return None

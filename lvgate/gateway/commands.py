"""Requests on ``bridge/request/<command>``, answered on ``bridge/response/<command>``.

Every request is a JSON object with a ``transaction`` chosen by the caller; the response
carries it back with ``status`` ok or error, so a caller can match answers to questions
(as Zigbee2MQTT's bridge requests do).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from lvgate.gateway.yaml_source import ConfigError
from lvgate.mqtt_schema.topics import SCHEMA_VERSION

if TYPE_CHECKING:
    from lvgate.gateway.runtime import Gateway

log = logging.getLogger(__name__)


class RequestError(Exception):
    """The request cannot be carried out; the text goes back to the caller."""


class Commands:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "poll_now": self.poll_now,
            "reload_config": self.reload_config,
            "get_config": self.get_config,
            "list_devices": self.list_devices,
        }

    async def handle(self, command: str, payload: bytes) -> dict[str, Any]:
        transaction: Any = None
        try:
            try:
                request = json.loads(payload) if payload.strip() else {}
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise RequestError(f"request is not JSON: {exc}") from None
            if not isinstance(request, dict):
                raise RequestError("request must be a JSON object")
            transaction = request.get("transaction")
            handler = self._handlers.get(command)
            if handler is None:
                raise RequestError(f"unknown command '{command}'; known: {', '.join(sorted(self._handlers))}")
            data = await handler(request)
        except RequestError as exc:
            log.warning("request '%s' refused: %s", command, exc)
            return self._response(transaction, error=str(exc))
        except Exception as exc:
            log.exception("request '%s' failed", command)
            return self._response(transaction, error=f"internal error: {exc}")
        return self._response(transaction, data=data)

    @staticmethod
    def _response(transaction: Any, *, data: Any = None, error: str | None = None) -> dict[str, Any]:
        # transaction is null when the request could not be read far enough to find it
        body: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "transaction": transaction if isinstance(transaction, str | int) else None,
            "status": "error" if error else "ok",
        }
        if error:
            body["error"] = error
        else:
            body["data"] = data
        return body

    async def poll_now(self, request: dict[str, Any]) -> dict[str, Any]:
        """Poll one device (``device``) or every polled device now; answers how many readings came back."""
        gateway = self.gateway
        wanted = request.get("device")
        if wanted is not None and wanted not in gateway.devices:
            raise RequestError(f"no device '{wanted}' on this gateway")
        targets = [r for r in gateway.devices.values() if r.poller.polled and wanted in (None, r.config.id)]
        results = await asyncio.gather(*(gateway.poll_once(r) for r in targets))
        polled = zip(targets, results, strict=True)
        return {"devices": {r.config.id: {"readings": len(found), "online": r.stats.online} for r, found in polled}}

    async def reload_config(self, request: dict[str, Any]) -> dict[str, Any]:
        from lvgate.gateway.config import load_gateway_config

        try:
            new_config = await asyncio.to_thread(load_gateway_config, self.gateway.config.file)
        except ConfigError as exc:
            raise RequestError("config not reloaded: " + "; ".join(str(p) for p in exc.problems)) from None
        summary = await self.gateway.reload(new_config)
        return {"config_digest": new_config.digest, **summary}

    async def get_config(self, request: dict[str, Any]) -> dict[str, Any]:
        config = self.gateway.config
        return {"config_digest": config.digest, "file": str(config.file), "config": config.redacted()}

    async def list_devices(self, request: dict[str, Any]) -> dict[str, Any]:
        devices = [
            {
                "id": r.config.id,
                "name": r.config.display_name,
                "driver": r.config.driver,
                "profile": r.config.profile,
                "device_class": r.device_class,
                "online": r.stats.online,
                "reason": r.stats.reason,
                "entities": sorted(r.units),
            }
            for r in self.gateway.devices.values()
        ]
        return {"devices": devices}

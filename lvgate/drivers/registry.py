"""Find drivers through the ``lvgate.drivers`` entry-point group, loading each only when used.

A gateway with only Modbus devices never imports the SNMP or camera stacks: that keeps its
memory and start-up small on a Raspberry Pi.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from lvgate.drivers.base import Driver

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "lvgate.drivers"


class InstalledDrivers(Mapping[str, Driver]):
    """Every installed driver by name; a driver's module is imported on first access.

    A plugin that fails to load is logged once and behaves as absent; :meth:`failure`
    says why.
    """

    def __init__(self) -> None:
        self._entries: dict[str, EntryPoint] = {e.name: e for e in entry_points(group=ENTRY_POINT_GROUP)}
        self._loaded: dict[str, Driver] = {}
        self._failed: dict[str, str] = {}

    def _load(self, name: str) -> Driver | None:
        if name in self._loaded:
            return self._loaded[name]
        entry = self._entries.get(name)
        if entry is None or name in self._failed:
            return None
        try:
            driver = entry.load()
        except Exception as exc:
            log.exception("driver plugin '%s' (%s) failed to load", name, entry.value)
            self._failed[name] = f"{type(exc).__name__}: {exc}"
            return None
        if not isinstance(driver, Driver):
            log.error("driver plugin '%s' (%s) is not an lvgate Driver", name, entry.value)
            self._failed[name] = "not an lvgate Driver"
            return None
        self._loaded[name] = driver
        return driver

    def failure(self, name: str) -> str | None:
        return self._failed.get(name)

    def __getitem__(self, name: str) -> Driver:
        driver = self._load(name)
        if driver is None:
            raise KeyError(name)
        return driver

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries


@cache
def drivers() -> InstalledDrivers:
    return InstalledDrivers()

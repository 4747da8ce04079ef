"""Find drivers through the ``lvgate.drivers`` entry-point group."""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import entry_points

from lvgate.drivers.base import Driver

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "lvgate.drivers"


@cache
def drivers() -> dict[str, Driver]:
    """Every installed driver by name. A plugin that fails to load is logged and left out."""
    found: dict[str, Driver] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            driver = entry.load()
        except Exception:
            log.exception("driver plugin '%s' (%s) failed to load", entry.name, entry.value)
            continue
        if not isinstance(driver, Driver):
            log.error("driver plugin '%s' (%s) is not an lvgate Driver", entry.name, entry.value)
            continue
        found[driver.name] = driver
    return found

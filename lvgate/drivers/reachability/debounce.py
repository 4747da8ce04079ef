"""Turn a series of poll outcomes into 'down' and 'up' events, without flapping."""

from __future__ import annotations

from typing import Literal

Change = Literal["down", "up"]


class Debounce:
    """A target is down after ``down_after`` failed polls in a row and up again at the first
    success. Before its first verdict (``state`` None) a target that answers is simply up: no
    'up' event is sent for a target that was never down."""

    def __init__(self, down_after: int) -> None:
        if down_after < 1:
            raise ValueError("down_after must be at least 1")
        self.down_after = down_after
        self.state: bool | None = None
        self.failures = 0

    def update(self, ok: bool) -> Change | None:
        """Record one poll; the change it causes, if any."""
        if ok:
            self.failures = 0
            was, self.state = self.state, True
            return "up" if was is False else None
        self.failures += 1
        if self.failures >= self.down_after and self.state is not False:
            self.state = False
            return "down"
        return None

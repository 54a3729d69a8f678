"""A light FIFO slot counter for the outbox's global and per-host POST limits.

``anyio.CapacityLimiter`` tracks borrowers and checkpoints on every acquisition, which
measured as a few percent of a delivery's cost; delivery only needs "at most N at once,
first come first served", and the POST that follows yields to the event loop anyway.
"""

from __future__ import annotations

from collections import deque

import anyio


class Slots:
    """At most ``total`` holders at once; waiters are served in arrival order."""

    __slots__ = ("_waiters", "free", "total")

    def __init__(self, total: int) -> None:
        if total < 1:
            raise ValueError("a limit must allow at least one holder")
        self.total = total
        self.free = total
        self._waiters: deque[anyio.Event] = deque()

    @property
    def in_use(self) -> int:
        """Slots currently held."""
        return self.total - self.free

    async def acquire(self) -> None:
        """Take a slot, waiting for one if none is free."""
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return
        event = anyio.Event()
        self._waiters.append(event)
        try:
            await event.wait()
        except BaseException:
            if event.is_set():
                self.release()  # the slot was handed to us as we were cancelled: pass it on
            else:
                self._waiters.remove(event)
            raise

    def release(self) -> None:
        """Give a slot back (to the longest waiter, if any)."""
        if self._waiters:
            self._waiters.popleft().set()  # the slot passes directly to the waiter
        else:
            self.free += 1


__all__ = ["Slots"]

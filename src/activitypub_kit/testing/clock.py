"""A clock tests move by hand, and a condition wait with a deadline."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio


class FakeClock:
    """A :data:`~activitypub_kit.storage.Clock` that only moves when told to.

    Pass it to a backend (``MemoryQueue(clock=clock)``) and call :meth:`advance` instead of
    sleeping to make leases, delays, TTLs and deduplication windows run out.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        """Return the current fake time (POSIX seconds)."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        self.now += seconds


async def wait_until(
    condition: Callable[[], Awaitable[bool]],
    *,
    within: float = 10.0,
    interval: float = 0.01,
    message: str = "condition",
) -> None:
    """Re-check ``condition`` until it holds; fail with ``AssertionError`` after ``within`` seconds.

    For behaviour that depends on real time (a backend with native TTLs, another process)
    this is the synchronisation point: it waits for the state, not for a guessed duration.
    """
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} did not hold within {within} s")
        await anyio.sleep(interval)


__all__ = ["FakeClock", "wait_until"]

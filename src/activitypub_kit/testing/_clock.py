"""A clock tests move by hand, a condition wait with a deadline, an event-loop watch."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

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


class LoopWatch:
    """What :func:`watch_event_loop` saw: the gaps between the ticks of its task."""

    def __init__(self) -> None:
        #: Seconds between consecutive ticks (each tick asks for ``interval``).
        self.gaps: list[float] = []

    @property
    def longest(self) -> float:
        """The longest gap: how long the event loop was held at most (``0.0`` if no tick)."""
        return max(self.gaps, default=0.0)


@contextlib.asynccontextmanager
async def watch_event_loop(interval: float = 0.005) -> AsyncIterator[LoopWatch]:
    """Tick every ``interval`` seconds while the block runs; report the gaps.

    ``async with watch_event_loop() as watch: ...`` then ``assert watch.longest < 0.1``
    checks that nothing in the block held the event loop (a responsiveness bound, not a
    speed figure).
    """
    watch = LoopWatch()
    async with anyio.create_task_group() as group:

        async def tick() -> None:
            last = time.perf_counter()
            while True:
                await anyio.sleep(interval)
                now = time.perf_counter()
                watch.gaps.append(now - last)
                last = now

        group.start_soon(tick)
        try:
            yield watch
        finally:
            group.cancel_scope.cancel()


__all__ = ["FakeClock", "wait_until", "LoopWatch", "watch_event_loop"]

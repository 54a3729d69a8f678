"""A short-lived in-process picture of host health, so healthy hosts cost no store reads.

The circuit breaker and the unavailable-domain tracker keep state only for hosts that
failed recently.  Reading that state once per delivery would cost a store round trip per
inbox even though almost every host is healthy; :class:`HealthView` instead lists the
(small) set of hosts with state every ``ttl`` seconds and answers from memory in between.
Hosts with state still go through the breaker's real, store-backed admission, so the
half-open probe stays one-at-a-time across workers; the only cost of the cache is that a
host whose circuit another process opened may get attempts for up to ``ttl`` seconds more.
Failures and successes recorded by this process update the picture at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio

from activitypub_kit.delivery._health import CircuitBreaker, UnavailableDomains


class HealthView:
    """Which hosts have breaker state, recent failure days, or are marked unavailable."""

    def __init__(
        self,
        breaker: CircuitBreaker | None,
        domains: UnavailableDomains | None,
        *,
        ttl: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.breaker = breaker
        self.domains = domains
        self.ttl = ttl
        self.clock = clock
        self.tracked: set[str] = set()
        self.failing: set[str] = set()
        self.unavailable: set[str] = set()
        self._until: float | None = None
        self._refreshing = anyio.Lock()

    async def refresh(self, *, force: bool = False) -> None:
        """Re-list the state from the store when the picture is older than ``ttl``.

        Concurrent callers (a batch's targets, inbox requests) share one re-listing.
        """
        if not force and self._fresh():
            return
        async with self._refreshing:
            if not force and self._fresh():
                return  # another caller re-listed while we waited
            await self._relist()

    def _fresh(self) -> bool:
        return self._until is not None and self.clock() < self._until

    async def _relist(self) -> None:
        now = self.clock()
        tracked: set[str] = set()
        failing: set[str] = set()
        unavailable: set[str] = set()
        if self.breaker is not None:
            async for key, _ in self.breaker.store.list(self.breaker.prefix):
                tracked.add(key[-1])
        if self.domains is not None:
            prefix = self.domains.prefix
            async for key, _ in self.domains.store.list((*prefix, "flag")):
                unavailable.add(key[-1])
            async for key, _ in self.domains.store.list((*prefix, "days")):
                failing.add(key[-1])
        self.tracked, self.failing, self.unavailable = tracked, failing, unavailable
        self._until = now + self.ttl

    def note_failure(self, host: str, *, unavailable: bool = False) -> None:
        """This process recorded a failure for ``host``."""
        self.tracked.add(host)
        self.failing.add(host)
        if unavailable:
            self.unavailable.add(host)

    def note_success(self, host: str) -> None:
        """This process recorded a success for ``host`` (its state was cleared)."""
        self.tracked.discard(host)
        self.failing.discard(host)
        self.unavailable.discard(host)

    def note_available(self, host: str) -> None:
        """This process cleared ``host``'s unavailable mark (its breaker state is kept)."""
        self.failing.discard(host)
        self.unavailable.discard(host)


__all__ = ["HealthView"]

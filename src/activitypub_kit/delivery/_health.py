"""Remote host health: a per-host circuit breaker and an unavailable-domain tracker.

Both keep their state in a :class:`~activitypub_kit.storage.KeyValueStore`, so every worker
process on every machine sees the same picture, and every entry carries a TTL: a hostile
actor advertising inboxes on a million dead hosts cannot grow our storage without bound.

- :class:`CircuitBreaker` stops hammering a host that keeps failing right now: after
  ``failure_threshold`` consecutive failures it opens for ``cooldown`` seconds (doubling on
  each re-open, up to ``max_cooldown``), then lets exactly one probe through (half-open);
  the probe's success closes it, its failure re-opens it.
- :class:`UnavailableDomains` is the long memory (Mastodon's rule): a host that failed on
  ``days_threshold`` distinct days is skipped entirely until it answers again or one of its
  actors sends us a signed request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from activitypub_kit.storage._base import JSONValue, KeyValueStore

Clock = Callable[[], float]


class CircuitState(StrEnum):
    """What the breaker says about a host."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True, slots=True)
class Admission:
    """The breaker's answer for one delivery attempt."""

    allowed: bool
    state: CircuitState
    #: When the host may be tried again (epoch seconds), for a refused attempt.
    retry_at: float | None = None
    #: Whether the breaker holds state for the host (recent failures); when ``False`` a
    #: success need not be recorded, which saves a store write per healthy delivery.
    tracked: bool = True


class CircuitBreaker:
    """A per-host circuit breaker shared through a key-value store."""

    def __init__(
        self,
        store: KeyValueStore,
        *,
        failure_threshold: int = 5,
        cooldown: float = 60.0,
        max_cooldown: float = 3600.0,
        probe_timeout: float = 60.0,
        state_ttl: float = 7 * 24 * 3600.0,
        clock: Clock = time.time,
        prefix: tuple[str, ...] = ("delivery", "circuit"),
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.store = store
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self.probe_timeout = probe_timeout
        self.state_ttl = state_ttl
        self.clock = clock
        self.prefix = prefix

    def _key(self, host: str) -> tuple[str, ...]:
        return (*self.prefix, host)

    def _reopen_at(self, state: dict[str, Any]) -> float:
        opens = int(state.get("opens", 1))
        span: float = min(self.cooldown * 2.0 ** max(0, opens - 1), self.max_cooldown)
        return float(state["opened_at"]) + span

    async def admit(self, host: str) -> Admission:
        """Ask whether an attempt to ``host`` may go ahead now."""
        key = self._key(host)
        while True:
            raw = await self.store.get(key)
            if not isinstance(raw, dict) or raw.get("opened_at") is None:
                return Admission(True, CircuitState.CLOSED, tracked=raw is not None)
            now = self.clock()
            reopen_at = self._reopen_at(raw)
            if now < reopen_at:
                return Admission(False, CircuitState.OPEN, reopen_at)
            probe_at = raw.get("probe_at")
            if probe_at is not None and now < float(probe_at) + self.probe_timeout:
                return Admission(
                    False, CircuitState.HALF_OPEN, float(probe_at) + self.probe_timeout
                )
            claimed = {**raw, "probe_at": now}
            if await self.store.cas(key, raw, claimed, ttl=self.state_ttl):
                return Admission(True, CircuitState.HALF_OPEN)
            # another worker changed the state under us: look again

    async def record_success(self, host: str) -> None:
        """The host answered: close its circuit and forget its failures."""
        await self.store.delete(self._key(host))

    async def record_failure(self, host: str) -> CircuitState:
        """Count a failed attempt; return the state the host is now in."""
        key = self._key(host)
        while True:
            raw = await self.store.get(key)
            now = self.clock()
            state: dict[str, JSONValue] = dict(raw) if isinstance(raw, dict) else {}
            failures = int(state.get("failures", 0)) + 1  # type: ignore[arg-type]
            state["failures"] = failures
            was_probe = state.get("probe_at") is not None
            if was_probe or (state.get("opened_at") is None and failures >= self.failure_threshold):
                state["opens"] = int(state.get("opens", 0)) + 1  # type: ignore[arg-type]
                state["opened_at"] = now
                state["probe_at"] = None
            if await self.store.cas(key, raw, state, ttl=self.state_ttl):
                return (
                    CircuitState.OPEN if state.get("opened_at") is not None else CircuitState.CLOSED
                )


class UnavailableDomains:
    """Hosts that failed on too many distinct days are skipped until they come back."""

    def __init__(
        self,
        store: KeyValueStore,
        *,
        days_threshold: int = 7,
        unavailable_ttl: float = 30 * 24 * 3600.0,
        clock: Clock = time.time,
        prefix: tuple[str, ...] = ("delivery", "unavailable"),
    ) -> None:
        self.store = store
        self.days_threshold = days_threshold
        self.unavailable_ttl = unavailable_ttl
        self.clock = clock
        self.prefix = prefix

    def _days_key(self, host: str) -> tuple[str, ...]:
        return (*self.prefix, "days", host)

    def _flag_key(self, host: str) -> tuple[str, ...]:
        return (*self.prefix, "flag", host)

    async def is_available(self, host: str) -> bool:
        """Whether deliveries to ``host`` should be attempted at all."""
        return await self.store.get(self._flag_key(host)) is None

    async def record_failure(self, host: str) -> bool:
        """Note that delivery to ``host`` failed today; return whether it is now unavailable."""
        today = datetime.fromtimestamp(self.clock(), UTC).date().isoformat()
        key = self._days_key(host)
        window = (self.days_threshold + 1) * 24 * 3600.0
        while True:
            raw = await self.store.get(key)
            days = [d for d in raw if isinstance(d, str)] if isinstance(raw, list) else []
            if today in days:
                break
            if await self.store.cas(key, raw, sorted([*days, today]), ttl=window):
                days.append(today)
                break
        if len(set(days)) >= self.days_threshold:
            await self.store.set(self._flag_key(host), today, ttl=self.unavailable_ttl)
            return True
        return False

    async def record_success(self, host: str) -> None:
        """``host`` answered (or one of its actors talked to us): it is available again."""
        await self.store.delete(self._flag_key(host))
        await self.store.delete(self._days_key(host))


__all__ = ["CircuitState", "Admission", "CircuitBreaker", "UnavailableDomains"]

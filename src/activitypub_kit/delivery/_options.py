"""Every delivery setting in one immutable value: :class:`DeliveryOptions`.

``Federation(delivery=DeliveryOptions(...))`` builds its :class:`~activitypub_kit.delivery.Outbox`
from it, and so does :meth:`Outbox.from_options <activitypub_kit.delivery.Outbox.from_options>`
for an outbox of your own.  The options are frozen, and so is an outbox once built: its parts
(retry schedule, circuit breaker, unavailable-domain tracker, limits) are wired together at
construction, so a changed setting means a new outbox — never one silently ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from activitypub_kit.delivery._health import CircuitBreaker, UnavailableDomains
from activitypub_kit.delivery._observe import DeliveryObserver
from activitypub_kit.delivery._retry import DeliverySchedule
from activitypub_kit.storage._base import KeyValueStore


@dataclass(frozen=True, slots=True)
class BreakerOptions:
    """Settings of the per-host :class:`~activitypub_kit.delivery.CircuitBreaker`."""

    #: Consecutive failures that open a host's circuit.
    failure_threshold: int = 5
    #: Seconds the circuit stays open the first time; doubled on each re-open.
    cooldown: float = 60.0
    #: Longest time the circuit stays open.
    max_cooldown: float = 3600.0
    #: Seconds a half-open probe may take before another one is allowed.
    probe_timeout: float = 60.0
    #: How long a host's breaker state is kept in the store.
    state_ttl: float = 7 * 24 * 3600.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if min(self.cooldown, self.max_cooldown, self.probe_timeout, self.state_ttl) <= 0:
            raise ValueError("breaker durations must be positive")

    def build(self, store: KeyValueStore, *, clock: Callable[[], float]) -> CircuitBreaker:
        """The breaker these options describe, keeping its state in ``store``."""
        return CircuitBreaker(
            store,
            failure_threshold=self.failure_threshold,
            cooldown=self.cooldown,
            max_cooldown=self.max_cooldown,
            probe_timeout=self.probe_timeout,
            state_ttl=self.state_ttl,
            clock=clock,
        )


@dataclass(frozen=True, slots=True)
class UnavailableOptions:
    """Settings of the :class:`~activitypub_kit.delivery.UnavailableDomains` tracker."""

    #: Distinct days with failures after which a host is skipped (Mastodon: 7).
    days_threshold: int = 7
    #: How long the "unavailable" mark lasts without news from the host.
    unavailable_ttl: float = 30 * 24 * 3600.0

    def __post_init__(self) -> None:
        if self.days_threshold < 1:
            raise ValueError("days_threshold must be at least 1")
        if self.unavailable_ttl <= 0:
            raise ValueError("unavailable_ttl must be positive")

    def build(self, store: KeyValueStore, *, clock: Callable[[], float]) -> UnavailableDomains:
        """The tracker these options describe, keeping its state in ``store``."""
        return UnavailableDomains(
            store,
            days_threshold=self.days_threshold,
            unavailable_ttl=self.unavailable_ttl,
            clock=clock,
        )


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    """How an outbox delivers: retries, host health, sharding and concurrency.

    ``breaker`` and ``unavailable`` are on by default; ``None`` turns either off.  Every
    worker sharing a queue must use the same ``shards`` (ordering depends on it).
    """

    #: When to retry and when to give up (Mastodon's schedule by default).
    schedule: DeliverySchedule = field(default_factory=DeliverySchedule)
    #: The per-host circuit breaker (``None``: no breaker).
    breaker: BreakerOptions | None = field(default_factory=BreakerOptions)
    #: Unavailable-domain tracking (``None``: hosts are never skipped for being down).
    unavailable: UnavailableOptions | None = field(default_factory=UnavailableOptions)
    #: Batch shards per activity (hosts are spread over them).
    shards: int = 64
    #: Most targets in one batch message.
    batch_size: int = 256
    #: POSTs in flight at once in one process.
    global_limit: int = 128
    #: POSTs in flight at once to any one host, in one process.
    per_host_limit: int = 4
    #: Seconds the in-process picture of host health is reused.
    health_cache_ttl: float = 2.0
    #: Metrics and traces hook (e.g. :class:`~activitypub_kit.delivery.OpenTelemetryObserver`).
    observer: DeliveryObserver | None = None
    #: Wall clock of the retry schedule, breaker and tracker (tests pass a fake one).
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        for name in ("shards", "batch_size", "global_limit", "per_host_limit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.health_cache_ttl < 0:
            raise ValueError("health_cache_ttl must not be negative")

    def outbox_settings(self, store: KeyValueStore) -> dict[str, Any]:
        """The :class:`~activitypub_kit.delivery.Outbox` fields these options set.

        The breaker and the tracker are built on ``store`` (share it between workers).
        """
        clock = self.clock
        return {
            "policy": self.schedule,
            "breaker": None if self.breaker is None else self.breaker.build(store, clock=clock),
            "domains": (
                None if self.unavailable is None else self.unavailable.build(store, clock=clock)
            ),
            "shards": self.shards,
            "batch_size": self.batch_size,
            "global_limit": self.global_limit,
            "per_host_limit": self.per_host_limit,
            "health_cache_ttl": self.health_cache_ttl,
            "observer": self.observer,
            "clock": clock,
        }


__all__ = ["BreakerOptions", "UnavailableOptions", "DeliveryOptions"]

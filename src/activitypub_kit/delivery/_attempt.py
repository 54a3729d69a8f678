"""One delivery attempt to one inbox: admission, the POST, and what its answer means.

:class:`Attempts` is the part of the outbox that talks to the transport: it consults the
host's health (unavailable? circuit open?), makes the POST under the global and per-host
limits, classifies the answer with the retry policy, records failures and recoveries with
the circuit breaker and the unavailable-domain tracker, tells the hooks about permanent
failures and gone recipients (each with a
:class:`~activitypub_kit.delivery._failures.DeliveryFailure` reason), and reports every
outcome as a :class:`~activitypub_kit.delivery._observe.DeliveryEvent`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from activitypub_kit.delivery._failures import DeliveryFailure, DeliveryFailureEvent
from activitypub_kit.delivery._health import CircuitBreaker, UnavailableDomains
from activitypub_kit.delivery._health_view import HealthView
from activitypub_kit.delivery._hooks import DeliveryHooks
from activitypub_kit.delivery._limits import Slots
from activitypub_kit.delivery._observe import (
    DeliveryEvent,
    DeliveryOutcome,
    Observability,
    logger,
)
from activitypub_kit.delivery._planning import InboxTarget, SkipReason, Unresolved, inbox_host
from activitypub_kit.delivery._retry import Outcome, RetryPolicy, classify_status
from activitypub_kit.delivery._transport import DeliveryResult, Transport

#: Planning skips that mean a recipient misses the activity (the others are by design).
_SKIPPED = {
    SkipReason.NO_INBOX: DeliveryFailure.INVALID_INBOX,
    SkipReason.BAD_URL: DeliveryFailure.INVALID_INBOX,
    SkipReason.BLOCKED: DeliveryFailure.BLOCKED,
}


@dataclass(slots=True)
class Body:
    """A serialised activity and its SHA-256, computed once per activity."""

    data: bytes
    sha256: bytes


@dataclass(slots=True)
class Attempts:
    """Makes and judges delivery attempts for an :class:`~activitypub_kit.delivery.Outbox`."""

    transport: Transport
    policy: RetryPolicy
    hooks: DeliveryHooks
    _health: HealthView
    _observe: Observability
    breaker: CircuitBreaker | None = None
    domains: UnavailableDomains | None = None
    global_limit: int = 128
    per_host_limit: int = 4
    clock: Callable[[], float] = time.time
    _global: Slots | None = None
    _hosts: dict[str, Slots] = field(default_factory=dict)

    async def attempt(
        self,
        msg: Mapping[str, Any],
        body: Body,
        target: InboxTarget,
        *,
        failures: int,
        first_at: float,
    ) -> tuple[float, bool] | None:
        """Try one delivery; ``None`` when this target is settled, else when to retry.

        ``failures`` counts the failed attempts before this one.  The answer is
        ``(delay, failed)``: ``failed`` is false when no attempt was made (open circuit).
        """
        host = target.host
        health = self._health
        assert health is not None
        if host in health.unavailable:
            self.event(DeliveryOutcome.UNAVAILABLE, msg, target, error="host unavailable")
            await self.give_up(
                msg, target, DeliveryFailure.HOST_UNAVAILABLE, error="host marked unavailable",
                attempts=failures,
            )  # fmt: skip
            return None
        tracked = host in health.tracked
        if tracked and self.breaker is not None:
            admission = await self.breaker.admit(host)
            if not admission.allowed:
                now = self.clock()
                wait = max(0.0, (admission.retry_at or now) - now)
                if now + wait - first_at >= self.policy.horizon:
                    error = "circuit still open at the end of the retry horizon"
                    self.event(DeliveryOutcome.FAILED, msg, target, attempt=failures, error=error)
                    await self.give_up(
                        msg, target, DeliveryFailure.CIRCUIT_OPEN, error=error, attempts=failures
                    )
                    return None
                self.event(DeliveryOutcome.CIRCUIT_OPEN, msg, target, retry_in=wait)
                return wait, False
            tracked = admission.tracked
        started = time.perf_counter()
        result = await self._post(target, body, msg["key"])
        duration = time.perf_counter() - started
        attempt = failures + 1
        outcome = Outcome.RETRY if result.status is None else classify_status(result.status)
        if result.permanent:
            outcome = Outcome.PERMANENT
        if outcome is Outcome.DELIVERED:
            self.event(DeliveryOutcome.SENT, msg, target, result, attempt, duration)
            if tracked or host in health.failing:
                await self._recovered(host)
            return None
        if outcome is Outcome.RETRY:
            delay = await self._failed(msg, target, result, attempt, first_at, duration)
            return None if delay is None else (delay, True)
        if outcome is Outcome.GONE and not target.shared:
            self.event(DeliveryOutcome.GONE, msg, target, result, attempt, duration)
            gone = self.failure(msg, target, DeliveryFailure.GONE, result.status, None, attempt)
            await self._hook(self.hooks.on_gone, gone)
            await self._hook(self.hooks.on_failure, gone)
            return None
        self.event(DeliveryOutcome.FAILED, msg, target, result, attempt, duration)
        if result.permanent:
            reason = DeliveryFailure.INVALID_INBOX
        elif outcome is Outcome.GONE:
            reason = DeliveryFailure.GONE  # a shared inbox: its recipients are not known gone
        else:
            reason = DeliveryFailure.REFUSED
        await self.give_up(
            msg, target, reason, status=result.status, error=result.error, attempts=attempt
        )
        return None

    async def _recovered(self, host: str) -> None:
        if self.breaker is not None:
            await self.breaker.record_success(host)
        if self.domains is not None:
            await self.domains.record_success(host)
        assert self._health is not None
        self._health.note_success(host)

    async def _failed(
        self,
        msg: Mapping[str, Any],
        target: InboxTarget,
        result: DeliveryResult,
        attempt: int,
        first_at: float,
        duration: float,
    ) -> float | None:
        host = target.host
        unavailable = False
        if self.breaker is not None:
            await self.breaker.record_failure(host)
        if self.domains is not None:
            unavailable = await self.domains.record_failure(host)
        assert self._health is not None
        self._health.note_failure(host, unavailable=unavailable)
        if not self.policy.should_retry(attempt, self.clock() - first_at):
            error = result.error or "retries exhausted"
            self.event(DeliveryOutcome.FAILED, msg, target, result, attempt, duration, error)
            await self.give_up(
                msg, target, DeliveryFailure.RETRIES_EXHAUSTED, status=result.status,
                error=error, attempts=attempt,
            )  # fmt: skip
            return None
        delay = self.policy.delay(attempt, retry_after=result.retry_after)
        self.event(
            DeliveryOutcome.RETRY, msg, target, result, attempt, duration, result.error, delay
        )
        return delay

    async def _post(self, target: InboxTarget, body: Body, key_ref: str) -> DeliveryResult:
        if self._global is None:
            self._global = Slots(self.global_limit)
        host_slots = self._hosts.get(target.host)
        if host_slots is None:
            if len(self._hosts) > 4096:  # forget idle hosts
                self._hosts = {h: s for h, s in self._hosts.items() if s.in_use}
            host_slots = self._hosts[target.host] = Slots(self.per_host_limit)
        await host_slots.acquire()
        try:
            await self._global.acquire()
            try:
                return await self.transport.deliver(
                    target.inbox, body.data, body_sha256=body.sha256, key_ref=key_ref
                )
            except Exception as exc:  # a transport bug must not lose the delivery
                logger.warning(
                    "transport raised for %s: %r",
                    target.inbox,
                    exc,
                    extra={"inbox": target.inbox, "error": repr(exc)},
                )
                return DeliveryResult(status=None, error=f"transport raised {exc!r}")
            finally:
                self._global.release()
        finally:
            host_slots.release()

    def event(
        self,
        outcome: DeliveryOutcome,
        msg: Mapping[str, Any],
        target: InboxTarget,
        result: DeliveryResult | None = None,
        attempt: int = 1,
        duration: float | None = None,
        error: str | None = None,
        retry_in: float | None = None,
    ) -> None:
        """Report one outcome (counted, logged, handed to the observer)."""
        assert self._observe is not None
        self._observe.record(
            DeliveryEvent(
                outcome,
                msg["activity"],
                target.inbox,
                target.host,
                status=None if result is None else result.status,
                error=error if error is not None else (None if result is None else result.error),
                attempt=attempt,
                duration=duration,
                scheme=None if result is None or result.scheme is None else result.scheme.value,
                retry_in=retry_in,
            ),
            requests=0 if result is None else result.requests,
        )

    def failure(
        self,
        msg: Mapping[str, Any],
        target: InboxTarget,
        reason: DeliveryFailure,
        status: int | None = None,
        error: str | None = None,
        attempts: int = 0,
    ) -> DeliveryFailureEvent:
        """The event the hooks receive for ``target``."""
        return DeliveryFailureEvent(
            reason,
            msg["activity"],
            target.inbox,
            target.host,
            target.recipients,
            status=status,
            error=error,
            attempts=attempts,
        )

    async def give_up(
        self,
        msg: Mapping[str, Any],
        target: InboxTarget,
        reason: DeliveryFailure,
        *,
        status: int | None = None,
        error: str | None = None,
        attempts: int = 0,
    ) -> None:
        """Settle a target as failed for good: ``on_failure`` hears why (the event is logged)."""
        event = self.failure(msg, target, reason, status, error, attempts)
        await self._hook(self.hooks.on_failure, event)

    async def left_out(
        self,
        msg: Mapping[str, Any],
        skipped: Sequence[tuple[str, SkipReason]],
        unresolved: Sequence[Unresolved],
        refused: Sequence[tuple[InboxTarget, tuple[str, ...]]],
    ) -> None:
        """Count, log and hand to ``on_failure`` every recipient a fan-out leaves out.

        ``skipped`` comes from planning (recipients without a usable inbox), ``unresolved``
        from the recipient resolver, ``refused`` from the block policy (per inbox).
        """
        for target, ids in refused:
            blocked = InboxTarget(target.inbox, target.host, ids, target.shared)
            self.event(DeliveryOutcome.BLOCKED, msg, blocked, error="blocked by policy")
            await self.give_up(msg, blocked, DeliveryFailure.BLOCKED, error="blocked by policy")
        failed = [(r.id, r.reason, r.error) for r in unresolved]
        failed += [(rid, _SKIPPED[why], why.value) for rid, why in skipped if why in _SKIPPED]
        for rid, reason, error in failed:
            blocked_member = reason is DeliveryFailure.BLOCKED
            outcome = DeliveryOutcome.BLOCKED if blocked_member else DeliveryOutcome.FAILED
            member = InboxTarget(rid, inbox_host(rid) or "", (rid,), False)
            self.event(outcome, msg, member, error=error)
            event = DeliveryFailureEvent(reason, msg["activity"], None, None, (rid,), error=error)
            await self._hook(self.hooks.on_failure, event)

    @staticmethod
    async def _hook(
        hook: Callable[[DeliveryFailureEvent], Awaitable[None]] | None,
        event: DeliveryFailureEvent,
    ) -> None:
        # A hook bug must neither stop the other deliveries of a batch nor make the queue
        # run the batch (and its POSTs) again: it is logged with its traceback.
        if hook is None:
            return
        try:
            await hook(event)
        except Exception:
            logger.exception(
                "delivery hook failed for %s (%s)",
                event.inbox or event.recipients,
                event.reason.value,
                extra={"activity": event.activity, "reason": event.reason.value},
            )


__all__ = ["Body", "Attempts"]

"""The durable outbox: two-stage fan-out over a message queue, with retries and ordering.

``Outbox.send`` stores the serialised activity once and enqueues a single *fan-out* message,
so it returns at once whatever the audience size.  Workers running :meth:`Outbox.handle`
then go through three kinds of messages:

``fanout``
    expand the audience (followers listings are resolved by a :class:`RecipientResolver`),
    plan one target per inbox (shared inboxes first), and enqueue the targets as ``batch``
    messages, one per *shard* of hosts.
``batch``
    deliver to every target of the shard concurrently (a global and a per-host limit),
    consult the circuit breaker and the unavailable-domain tracker, and turn each transient
    failure into its own ``retry`` message before the batch is acknowledged.
``retry``
    one inbox, one more attempt, on the :class:`~activitypub_kit.delivery.retry.RetryPolicy`
    schedule; permanent failures and exhausted retries reach the hooks.

Durability: a message is acknowledged only after its work is done or handed on to another
durable message, so a worker killed at any point loses nothing (some inboxes may receive the
activity twice; receivers de-duplicate by activity id).  Private keys never enter the queue:
messages carry ``key_ref`` and the :class:`Transport` resolves it.

Ordering: everything about one object shares ordering keys — the fan-out by object, the
batches by ``(object, shard)`` with hosts assigned to a fixed number of shards, retries by
``(object, host)`` — and a per ``(object, host)`` counter of pending retries makes a later
activity about the same object wait behind them.  So a ``Delete`` never overtakes the
``Create`` or ``Update`` it follows to the same host.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from activitypub_kit.delivery.health import CircuitBreaker, UnavailableDomains
from activitypub_kit.delivery.planning import (
    InboxTarget,
    Recipient,
    plan_delivery,
    strip_hidden_recipients,
)
from activitypub_kit.delivery.retry import Outcome, RetryPolicy, classify_status
from activitypub_kit.errors import DeliveryError
from activitypub_kit.storage.base import JSONValue, KeyValueStore, Message, MessageQueue
from activitypub_kit.storage.worker import RetryLater

logger = logging.getLogger("activitypub_kit.delivery")


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one POST to an inbox gave: a status, or an error that prevented one."""

    status: int | None
    retry_after: float | None = None
    error: str | None = None


class Transport(Protocol):
    """Signs and POSTs a serialised activity to one inbox (the HTTP edge of delivery)."""

    async def deliver(
        self, inbox: str, body: bytes, *, body_sha256: bytes, key_ref: str
    ) -> DeliveryResult:
        """POST ``body`` to ``inbox`` signed with the key named ``key_ref``.

        Network failures are reported as ``DeliveryResult(status=None, error=...)``, not
        raised.
        """
        ...


class RecipientResolver(Protocol):
    """Expands an audience reference (e.g. a local actor's followers) into recipients."""

    def expand(self, audience: Mapping[str, JSONValue]) -> AsyncIterator[Recipient | str]:
        """Yield the recipients of one ``{"followers": handle}``-style audience entry."""
        ...


@dataclass(slots=True)
class DeliveryHooks:
    """Callbacks for outcomes an application wants to act on (all optional)."""

    #: ``(inbox, activity_id, status, recipient_ids)`` after a permanent failure or when
    #: retries are exhausted (status ``None`` for a network error).
    on_failure: Callable[[str, str, int | None, Sequence[str]], Awaitable[None]] | None = None
    #: ``(recipient_ids)`` when a personal inbox answered 410 Gone.
    on_gone: Callable[[Sequence[str]], Awaitable[None]] | None = None


@dataclass(slots=True)
class DeliveryStats:
    """Counters since the outbox was created (one process)."""

    sent: int = 0
    retried: int = 0
    failed_permanently: int = 0
    gone: int = 0
    circuit_open_skips: int = 0
    unavailable_skips: int = 0
    deferred_for_order: int = 0
    fanouts: int = 0
    batches: int = 0


def _object_id(activity: Mapping[str, Any]) -> str:
    obj = activity.get("object")
    if isinstance(obj, str):
        return obj
    if isinstance(obj, Mapping) and isinstance(obj.get("id"), str):
        return str(obj["id"])
    return str(activity["id"])


def _shard(host: str, shards: int) -> int:
    return zlib.crc32(host.encode()) % shards


@dataclass(slots=True)
class _Body:
    data: bytes
    sha256: bytes


@dataclass(slots=True)
class Outbox:
    """Durable, batched, per-instance delivery of activities (see the module docstring)."""

    queue: MessageQueue
    store: KeyValueStore
    transport: Transport
    resolver: RecipientResolver | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: CircuitBreaker | None = None
    domains: UnavailableDomains | None = None
    hooks: DeliveryHooks = field(default_factory=DeliveryHooks)
    is_local: Callable[[str], bool] | None = None
    is_blocked: Callable[[str], bool] | None = None
    #: Hosts are spread over this many batch messages per activity (fixed, for ordering).
    shards: int = 64
    #: POSTs in flight at once in this process, and to any one host.
    global_limit: int = 128
    per_host_limit: int = 4
    clock: Callable[[], float] = time.time
    stats: DeliveryStats = field(default_factory=DeliveryStats)
    _global: anyio.CapacityLimiter | None = None
    _hosts: dict[str, anyio.CapacityLimiter] = field(default_factory=dict)
    _bodies: dict[str, _Body] = field(default_factory=dict)

    # -- sending -------------------------------------------------------------------------

    async def send(
        self,
        activity: Mapping[str, Any],
        *,
        key_ref: str,
        to: Sequence[Recipient | str | Mapping[str, JSONValue]],
        sender: str | None = None,
    ) -> str:
        """Queue ``activity`` for delivery to ``to``; return its id.

        ``to`` mixes :class:`Recipient` values, inbox URLs, and audience references that the
        :class:`RecipientResolver` expands in the worker (e.g. ``{"followers": "alice"}``).
        ``key_ref`` names the signing key; the key itself is never queued.
        """
        activity_id = activity.get("id")
        if not isinstance(activity_id, str) or not activity_id:
            raise DeliveryError("an activity to deliver needs a string id")
        body = json.dumps(
            strip_hidden_recipients(activity), ensure_ascii=False, separators=(",", ":")
        )
        ttl = self.policy.horizon + 86400.0
        await self.store.set(("delivery", "body", activity_id), body, ttl=ttl)
        audience: list[JSONValue] = []
        for entry in to:
            if isinstance(entry, Recipient):
                audience.append(
                    {"id": entry.id, "inbox": entry.inbox, "shared": entry.shared_inbox}
                )
            elif isinstance(entry, str):
                audience.append(entry)
            else:
                audience.append(dict(entry))
        object_id = _object_id(activity)
        await self.queue.enqueue(
            {
                "kind": "fanout",
                "activity": activity_id,
                "object": object_id,
                "key": key_ref,
                "sender": sender,
                "to": audience,
            },
            ordering_key=f"fanout\n{object_id}",
            dedup_key=f"fanout\n{activity_id}",
        )
        return activity_id

    # -- worker side ---------------------------------------------------------------------

    async def handle(self, message: Message) -> None:
        """Handle one delivery message; raising makes the queue retry it."""
        body = message.body
        if not isinstance(body, Mapping) or body.get("kind") not in ("fanout", "batch", "retry"):
            raise DeliveryError(f"not a delivery message: {str(body)[:80]}")
        kind = body["kind"]
        if kind == "fanout":
            await self._fanout(body)
        elif kind == "batch":
            await self._batch(body)
        else:
            await self._retry(body, message)

    async def _load_body(self, activity_id: str) -> _Body:
        cached = self._bodies.get(activity_id)
        if cached is not None:
            return cached
        raw = await self.store.get(("delivery", "body", activity_id))
        if not isinstance(raw, str):
            raise DeliveryError(f"body of {activity_id} is gone (expired or never stored)")
        data = raw.encode()
        loaded = _Body(data, hashlib.sha256(data).digest())
        if len(self._bodies) >= 256:
            self._bodies.pop(next(iter(self._bodies)))
        self._bodies[activity_id] = loaded
        return loaded

    async def _recipients(self, audience: Sequence[JSONValue]) -> AsyncIterator[Recipient | str]:
        for entry in audience:
            if isinstance(entry, str):
                yield entry
            elif isinstance(entry, Mapping) and "id" in entry:
                inbox, shared = entry.get("inbox"), entry.get("shared")
                yield Recipient(
                    id=str(entry["id"]),
                    inbox=inbox if isinstance(inbox, str) else None,
                    shared_inbox=shared if isinstance(shared, str) else None,
                )
            elif isinstance(entry, Mapping):
                if self.resolver is None:
                    raise DeliveryError(f"no RecipientResolver to expand audience {entry}")
                async for recipient in self.resolver.expand(entry):
                    yield recipient

    async def _fanout(self, msg: Mapping[str, Any]) -> None:
        recipients = [r async for r in self._recipients(msg["to"])]
        plan = plan_delivery(
            recipients,
            sender=msg.get("sender"),
            is_local=self.is_local,
            is_blocked=self.is_blocked,
        )
        shards: dict[int, list[JSONValue]] = {}
        for target in plan.targets:
            shards.setdefault(_shard(target.host, self.shards), []).append(
                [target.inbox, target.host, list(target.recipients), target.shared]
            )
        activity_id, object_id = msg["activity"], msg["object"]
        for shard, targets in sorted(shards.items()):
            await self.queue.enqueue(
                {
                    "kind": "batch",
                    "activity": activity_id,
                    "object": object_id,
                    "key": msg["key"],
                    "targets": targets,
                },
                ordering_key=f"batch\n{object_id}\n{shard}",
                dedup_key=f"batch\n{activity_id}\n{shard}",
            )
        self.stats.fanouts += 1
        logger.info(
            "fan-out planned",
            extra={"activity": activity_id, "inboxes": len(plan.targets), "batches": len(shards)},
        )

    async def _batch(self, msg: Mapping[str, Any]) -> None:
        body = await self._load_body(msg["activity"])
        targets = [
            InboxTarget(inbox=t[0], host=t[1], recipients=tuple(t[2]), shared=bool(t[3]))
            for t in msg["targets"]
        ]
        async with anyio.create_task_group() as group:
            for target in targets:
                group.start_soon(self._first_attempt, msg, body, target)
        self.stats.batches += 1

    async def _first_attempt(
        self, msg: Mapping[str, Any], body: _Body, target: InboxTarget
    ) -> None:
        first_at = self.clock()
        if await self._pending(msg["object"], target.host):
            # An earlier activity about this object still waits for this host: queue behind it.
            self.stats.deferred_for_order += 1
            await self._schedule_retry(msg, target, failures=0, first_at=first_at, delay=0.0)
            return
        retry = await self._attempt(msg, body, target, failures=0, first_at=first_at)
        if retry is not None:
            delay, failed = retry
            await self._schedule_retry(
                msg, target, failures=int(failed), first_at=first_at, delay=delay
            )

    async def _retry(self, msg: Mapping[str, Any], message: Message) -> None:
        t = msg["target"]
        target = InboxTarget(inbox=t[0], host=t[1], recipients=tuple(t[2]), shared=bool(t[3]))
        body = await self._load_body(msg["activity"])
        counter = ("delivery", "failures", message.id)
        extra = await self.store.get(counter)
        failures = int(msg["failures"]) + (extra if isinstance(extra, int) else 0)
        retry = await self._attempt(
            msg, body, target, failures=failures, first_at=float(msg["first_at"])
        )
        if retry is None:
            await self.store.delete(counter)
            await self._release_pending(msg["object"], target.host)
            return
        delay, failed = retry
        if failed:
            ttl = self.policy.horizon + 86400.0
            await self.store.set(counter, failures + 1 - int(msg["failures"]), ttl=ttl)
        # Keep this message (and so its place in the ordering key's line): nack with a delay.
        raise RetryLater(delay)

    async def _attempt(
        self,
        msg: Mapping[str, Any],
        body: _Body,
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
        if self.domains is not None and not await self.domains.is_available(host):
            self.stats.unavailable_skips += 1
            await self._give_up(msg, target, None, "host marked unavailable")
            return None
        tracked = False
        if self.breaker is not None:
            admission = await self.breaker.admit(host)
            if not admission.allowed:
                self.stats.circuit_open_skips += 1
                return max(0.0, (admission.retry_at or self.clock()) - self.clock()), False
            tracked = admission.tracked
        result = await self._post(target, body, msg["key"])
        outcome = Outcome.RETRY if result.status is None else classify_status(result.status)
        if outcome is Outcome.DELIVERED:
            self.stats.sent += 1
            if tracked and self.breaker is not None:
                await self.breaker.record_success(host)
            return None
        if outcome is Outcome.RETRY:
            delay = await self._failed(
                msg, target, result, failures=failures + 1, first_at=first_at
            )
            return None if delay is None else (delay, True)
        if outcome is Outcome.GONE and not target.shared:
            self.stats.gone += 1
            if self.hooks.on_gone is not None:
                await self.hooks.on_gone(target.recipients)
            return None
        await self._give_up(msg, target, result.status, "permanent failure")
        return None

    async def _failed(
        self,
        msg: Mapping[str, Any],
        target: InboxTarget,
        result: DeliveryResult,
        *,
        failures: int,
        first_at: float,
    ) -> float | None:
        host = target.host
        if self.breaker is not None:
            await self.breaker.record_failure(host)
        if self.domains is not None:
            await self.domains.record_failure(host)
        if not self.policy.should_retry(failures, self.clock() - first_at):
            await self._give_up(msg, target, result.status, result.error or "retries exhausted")
            return None
        self.stats.retried += 1
        return self.policy.delay(failures, retry_after=result.retry_after)

    async def _post(self, target: InboxTarget, body: _Body, key_ref: str) -> DeliveryResult:
        if self._global is None:
            self._global = anyio.CapacityLimiter(self.global_limit)
        host_limit = self._hosts.get(target.host)
        if host_limit is None:
            host_limit = self._hosts[target.host] = anyio.CapacityLimiter(self.per_host_limit)
        async with self._global, host_limit:
            try:
                return await self.transport.deliver(
                    target.inbox, body.data, body_sha256=body.sha256, key_ref=key_ref
                )
            except Exception as exc:  # a transport bug must not lose the delivery
                logger.warning(
                    "transport raised", extra={"inbox": target.inbox, "error": repr(exc)}
                )
                return DeliveryResult(status=None, error=f"transport raised {exc!r}")
            finally:
                if host_limit.borrowed_tokens == 0 and len(self._hosts) > 4096:
                    self._hosts.pop(target.host, None)

    async def _schedule_retry(
        self,
        msg: Mapping[str, Any],
        target: InboxTarget,
        *,
        failures: int,
        first_at: float,
        delay: float,
    ) -> None:
        """Start a retry chain for one target of a batch (counted as pending for ordering)."""
        await self._add_pending(msg["object"], target.host)
        await self.queue.enqueue(
            {
                "kind": "retry",
                "activity": msg["activity"],
                "object": msg["object"],
                "key": msg["key"],
                "target": [target.inbox, target.host, list(target.recipients), target.shared],
                "failures": failures,
                "first_at": first_at,
            },
            delay=delay,
            ordering_key=f"retry\n{msg['object']}\n{target.host}",
        )

    async def _give_up(
        self, msg: Mapping[str, Any], target: InboxTarget, status: int | None, reason: str
    ) -> None:
        self.stats.failed_permanently += 1
        logger.warning(
            "delivery failed permanently",
            extra={
                "inbox": target.inbox,
                "activity": msg["activity"],
                "status": status,
                "reason": reason,
            },
        )
        if self.hooks.on_failure is not None:
            await self.hooks.on_failure(target.inbox, msg["activity"], status, target.recipients)

    # -- ordering: pending retries per (object, host) ----------------------------------

    def _pending_key(self, object_id: str, host: str) -> tuple[str, ...]:
        return ("delivery", "pending", object_id, host)

    async def _pending(self, object_id: str, host: str) -> bool:
        value = await self.store.get(self._pending_key(object_id, host))
        return isinstance(value, int) and value > 0

    async def _add_pending(self, object_id: str, host: str) -> None:
        key = self._pending_key(object_id, host)
        ttl = self.policy.horizon + 86400.0
        while True:
            current = await self.store.get(key)
            count = current if isinstance(current, int) else 0
            if await self.store.cas(key, current, count + 1, ttl=ttl):
                return

    async def _release_pending(self, object_id: str, host: str) -> None:
        key = self._pending_key(object_id, host)
        while True:
            current = await self.store.get(key)
            count = current if isinstance(current, int) else 0
            new = count - 1 if count > 1 else None
            if await self.store.cas(key, current, new, ttl=self.policy.horizon + 86400.0):
                return


__all__ = [
    "DeliveryResult",
    "Transport",
    "RecipientResolver",
    "DeliveryHooks",
    "DeliveryStats",
    "Outbox",
]

"""The durable outbox: two-stage fan-out over a message queue, with retries and ordering.

``Outbox.send`` stores the serialised activity once and enqueues a single *fan-out* message,
so it returns at once whatever the audience size.  Workers running :meth:`Outbox.handle`
then go through three kinds of messages:

``fanout``
    expand the audience (followers listings are resolved by a :class:`RecipientResolver`),
    plan one target per inbox (shared inboxes first), and enqueue the targets as ``batch``
    messages, one (or a few, for huge audiences) per *shard* of hosts.
``batch``
    deliver to every target of the shard concurrently (a global and a per-host limit),
    consult the circuit breaker and the unavailable-domain tracker (through a short-lived
    in-process :class:`~activitypub_kit.delivery._health_view.HealthView`, so healthy hosts
    cost no store reads), and turn each transient failure into its own ``retry`` message
    before the batch is acknowledged.
``retry``
    one inbox, one more attempt, on the :class:`~activitypub_kit.delivery._retry.RetryPolicy`
    schedule; permanent failures and exhausted retries reach the hooks.

Moderation: ``is_blocked`` (inbox hosts) and ``is_blocked_actor`` (recipient ids), plain or
``async``, are asked at fan-out — what they refuse gets no request, is counted
(``stats.blocked``) and reaches ``on_failure`` with ``DeliveryFailure.BLOCKED`` — and a
pending retry checks its host again.  Every recipient that will not get the activity
reaches ``on_failure`` once, with a :class:`~activitypub_kit.delivery.DeliveryFailure`
reason.

Configuration is fixed once an outbox is built (its parts are wired together at
construction): assigning a setting afterwards raises ``AttributeError``; build another
outbox (``dataclasses.replace`` works) instead.

Durability: a message is acknowledged only after its work is done or handed on to another
durable message, so a worker killed at any point loses nothing (some inboxes may receive the
activity twice; receivers de-duplicate by activity id).  Private keys never enter the queue:
messages carry ``key_ref`` and the :class:`Transport` resolves it.

Ordering: everything about one object shares ordering keys — the fan-out by object, the
batches by ``(object, shard)`` with hosts assigned to a fixed number of shards, retries by
``(object, host)`` — and a marker per pending retry chain (object, host, activity, inbox)
makes a later activity about the same object wait behind them.  So a ``Delete`` never
overtakes the ``Create`` or ``Update`` it follows to the same host.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from activitypub_kit._cache import BoundedCache
from activitypub_kit.delivery import _messages as m
from activitypub_kit.delivery._attempt import Attempts, Body
from activitypub_kit.delivery._failures import DeliveryFailure
from activitypub_kit.delivery._health import CircuitBreaker, UnavailableDomains
from activitypub_kit.delivery._health_view import HealthView
from activitypub_kit.delivery._hooks import DeliveryHooks, FailureHook, RecipientResolver
from activitypub_kit.delivery._known import HostInbox, KnownInboxes, remember_all
from activitypub_kit.delivery._moderation import blocked_skips, moderate
from activitypub_kit.delivery._observe import (
    DeliveryObserver,
    DeliveryOutcome,
    DeliveryStats,
    Observability,
)
from activitypub_kit.delivery._planning import (
    InboxTarget,
    Predicate,
    Recipient,
    Unresolved,
    ask,
    inbox_host,
    plan_delivery,
    strip_hidden_recipients,
)
from activitypub_kit.delivery._retry import RetryPolicy
from activitypub_kit.delivery._transport import DeliveryResult, Transport
from activitypub_kit.errors import DeliveryError
from activitypub_kit.models._helpers import single_id
from activitypub_kit.storage._base import JSONValue, KeyValueStore, Message, MessageQueue
from activitypub_kit.storage._worker import RetryLater

if TYPE_CHECKING:
    from activitypub_kit.delivery._options import DeliveryOptions


def _vouches(target: InboxTarget) -> bool:
    """Whether the (first) recipient of ``target`` lives on the inbox's host."""
    return inbox_host(target.recipients[0]) == target.host


@dataclass(slots=True)
class _Batch:
    """What one batch message knows about its targets before sending."""

    msg: Mapping[str, Any]
    body: Body
    pending: set[str]


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
    #: ``(host[:port]) -> blocked?`` for each inbox host (plain or ``async``).
    is_blocked: Predicate | None = None
    #: ``(recipient id) -> blocked?`` for each recipient (plain or ``async``).
    is_blocked_actor: Predicate | None = None
    #: Every inbox a fan-out targets is recorded here (one per host, see
    #: :mod:`~activitypub_kit.delivery._known`); ``None`` records nothing.
    known_inboxes: KnownInboxes | None = None
    #: Hosts are spread over this many batch shards per activity.  Every worker must use
    #: the same number: it is what keeps activities about one object in order.
    shards: int = 64
    #: POSTs in flight at once in this process, and to any one host.
    global_limit: int = 128
    per_host_limit: int = 4
    clock: Callable[[], float] = time.time
    stats: DeliveryStats = field(default_factory=DeliveryStats)
    #: Optional metrics/traces hook (see :class:`~activitypub_kit.delivery._observe`).
    observer: DeliveryObserver | None = None
    #: Most targets in one batch message (a shard with more is split, in order).
    batch_size: int = 256
    #: Seconds the in-process picture of host health is reused before re-listing it.
    health_cache_ttl: float = 2.0
    _bodies: BoundedCache[str, Body] = field(default_factory=lambda: BoundedCache(256))
    _health: HealthView | None = None
    _observe: Observability | None = None
    _attempts: Attempts = field(init=False)
    _sealed: bool = field(default=False, init=False, repr=False)

    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("_") and getattr(self, "_sealed", False):
            raise AttributeError(
                f"Outbox.{name} is fixed once the outbox is built (its parts were wired"
                " together then); build a new Outbox, e.g. dataclasses.replace(outbox, ...)"
            )
        object.__setattr__(self, name, value)

    @classmethod
    def from_options(
        cls,
        queue: MessageQueue,
        store: KeyValueStore,
        transport: Transport,
        options: DeliveryOptions,
        *,
        resolver: RecipientResolver | None = None,
        hooks: DeliveryHooks | None = None,
        is_local: Callable[[str], bool] | None = None,
        is_blocked: Predicate | None = None,
        is_blocked_actor: Predicate | None = None,
        known_inboxes: KnownInboxes | None = None,
    ) -> Outbox:
        """An outbox configured by ``options``: its breaker and tracker keep state in ``store``."""
        return cls(
            queue,
            store,
            transport,
            resolver=resolver,
            hooks=hooks if hooks is not None else DeliveryHooks(),
            is_local=is_local,
            is_blocked=is_blocked,
            is_blocked_actor=is_blocked_actor,
            known_inboxes=known_inboxes,
            **options.outbox_settings(store),
        )

    def __post_init__(self) -> None:
        self._health = HealthView(
            self.breaker, self.domains, ttl=self.health_cache_ttl, clock=self.clock
        )
        self._observe = Observability(self.stats, self.observer)
        self._attempts = Attempts(
            self.transport,
            self.policy,
            self.hooks,
            self._health,
            self._observe,
            breaker=self.breaker,
            domains=self.domains,
            global_limit=self.global_limit,
            per_host_limit=self.per_host_limit,
            clock=self.clock,
        )
        self._sealed = True

    # -- sending -------------------------------------------------------------------------

    async def send(
        self,
        activity: Mapping[str, Any],
        *,
        key_ref: str,
        to: Sequence[Recipient | str | Mapping[str, JSONValue]],
        sender: str | None = None,
        body: str | None = None,
    ) -> str:
        """Queue ``activity`` for delivery to ``to``; return its id.

        ``to`` mixes :class:`Recipient` values, inbox URLs, and audience references that the
        :class:`RecipientResolver` expands in the worker (e.g. ``{"followers": "alice"}``).
        ``key_ref`` names the signing key; the key itself is never queued.  The body is
        serialised here, once, without ``bto``/``bcc``.

        ``body`` is a pre-serialised activity (one being forwarded, as its author signed
        it): it is stored and POSTed byte for byte (UTF-8), never re-serialised.
        ``activity`` then only names the delivery — its ``id`` keys the stored body and
        de-duplicates the fan-out, its ``object`` orders it — and needs no other property.
        """
        activity_id = activity.get("id")
        if not isinstance(activity_id, str) or not activity_id:
            raise DeliveryError("an activity to deliver needs a string id")
        if body is None:
            body = json.dumps(
                strip_hidden_recipients(activity), ensure_ascii=False, separators=(",", ":")
            )
        ttl = self._ttl()
        await self.store.set(m.body_key(activity_id), body, ttl=ttl)
        audience = [m.encode_recipient(entry) for entry in to]
        message: dict[str, JSONValue] = {
            "kind": "fanout",
            "activity": activity_id,
            "object": single_id(activity.get("object")) or activity_id,
            "key": key_ref,
            "sender": sender,
        }
        chunks = m.chunk_audience(audience)
        if chunks is None:
            message["to"] = audience
        else:
            for index, chunk in enumerate(chunks):
                await self.store.set(m.audience_key(activity_id, index), chunk, ttl=ttl)
            message["to_chunks"] = len(chunks)
        await self.queue.enqueue(
            message,
            ordering_key=f"fanout\n{message['object']}",
            dedup_key=f"fanout\n{activity_id}",
        )
        return activity_id

    def _ttl(self) -> float:
        return self.policy.horizon + 86400.0

    async def record_inbound(self, host: str) -> None:
        """``host`` (``host[:port]``) just sent us a verified request: it is up.

        Clears its unavailable mark and failure days (``UnavailableDomains.record_success``).
        Costs no store write unless the host has such state (the in-process health picture,
        refreshed every ``health_cache_ttl`` seconds, says which hosts do).
        """
        if self.domains is None:
            return
        assert self._health is not None
        await self._health.refresh()
        if host in self._health.failing or host in self._health.unavailable:
            await self.domains.record_success(host)
            self._health.note_available(host)

    async def metrics(self) -> dict[str, JSONValue]:
        """This process's counters plus the queue's depth (all workers, from the queue)."""
        queue = await self.queue.stats()
        figures: dict[str, JSONValue] = dict(self.stats.as_dict())
        figures.update(
            queue_depth=queue.depth,
            queue_ready=queue.ready,
            queue_leased=queue.leased,
            queue_dead=queue.dead,
            queue_oldest_age=queue.oldest_age,
        )
        return figures

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

    async def _load_body(self, activity_id: str) -> Body:
        cached = self._bodies.get(activity_id)
        if cached is not None:
            return cached
        raw = await self.store.get(m.body_key(activity_id))
        if not isinstance(raw, str):
            raise DeliveryError(f"body of {activity_id} is gone (expired or never stored)")
        data = raw.encode()
        loaded = Body(data, hashlib.sha256(data).digest())
        self._bodies.set(activity_id, loaded)
        return loaded

    async def _audience(self, msg: Mapping[str, Any]) -> list[JSONValue] | None:
        if "to_chunks" not in msg:
            return list(msg["to"])
        audience: list[JSONValue] = []
        for index in range(int(msg["to_chunks"])):
            chunk = await self.store.get(m.audience_key(msg["activity"], index))
            if not isinstance(chunk, list):
                return None
            audience.extend(chunk)
        return audience

    async def _recipients(
        self, audience: Sequence[JSONValue]
    ) -> AsyncIterator[Recipient | str | Unresolved]:
        for entry in audience:
            if isinstance(entry, str):
                yield entry
            elif isinstance(entry, Mapping) and "id" in entry:
                yield m.decode_recipient(entry)
            elif isinstance(entry, Mapping):
                if self.resolver is None:
                    raise DeliveryError(f"no RecipientResolver to expand audience {entry}")
                async for recipient in self.resolver.expand(entry):
                    yield recipient

    async def _fanout(self, msg: Mapping[str, Any]) -> None:
        activity_id, object_id = msg["activity"], msg["object"]
        audience = await self._audience(msg)
        if audience is None:
            if await self.store.get(m.fanned_key(activity_id)) is not None:
                return  # fanned out already; only the acknowledgement was lost
            raise DeliveryError(f"audience of {activity_id} is gone (expired or never stored)")
        recipients: list[Recipient | str] = []
        host_wide: list[HostInbox] = []
        unresolved: list[Unresolved] = []
        async for recipient in self._recipients(audience):
            if isinstance(recipient, Unresolved):
                unresolved.append(recipient)
            elif isinstance(recipient, HostInbox):
                host_wide.append(recipient)
            else:
                recipients.append(recipient)
        plan = plan_delivery(recipients, sender=msg.get("sender"), is_local=self.is_local)
        if host_wide:  # each known server once: not where a recipient already takes us
            reached = {target.host for target in plan.targets}
            extra = plan_delivery(
                [r for r in host_wide if inbox_host(r.id) not in reached], is_local=self.is_local
            )
            plan.targets += extra.targets
            plan.skipped += extra.skipped
        if plan.local and self.hooks.on_local is not None:
            body = await self._load_body(activity_id)
            await self.hooks.on_local(json.loads(body.data), [r.id for r in plan.local])
        policy = {"host_blocked": self.is_blocked, "actor_blocked": self.is_blocked_actor}
        moderated = await moderate(plan.targets, **policy)
        skipped = await blocked_skips(plan.skipped, **policy)
        await self._attempts.left_out(msg, skipped, unresolved, moderated.refused)
        shards: dict[int, list[InboxTarget]] = {}
        for target in moderated.targets:
            shards.setdefault(m.shard_of(target.host, self.shards), []).append(target)
        batches = 0
        for shard, targets in sorted(shards.items()):
            targets.sort(key=lambda t: (t.host, t.inbox))  # stable if re-run after a crash
            for start in range(0, len(targets), self.batch_size):
                part = targets[start : start + self.batch_size]
                await self.queue.enqueue(
                    {
                        "kind": "batch",
                        "activity": activity_id,
                        "object": object_id,
                        "key": msg["key"],
                        "targets": [m.encode_target(t) for t in part],
                    },
                    ordering_key=f"batch\n{object_id}\n{shard}",
                    dedup_key=f"batch\n{activity_id}\n{shard}\n{start}",
                )
                batches += 1
        if "to_chunks" in msg:
            await self.store.set(m.fanned_key(activity_id), 1, ttl=self._ttl())
            for index in range(int(msg["to_chunks"])):
                await self.store.delete(m.audience_key(activity_id, index))
        if self.known_inboxes is not None:
            # Only an inbox on the host of (the first of) its recipients: an actor document
            # cannot make us record another server's inbox under that server's name.
            targets = moderated.targets
            vouched = [t for t in targets if t.recipients[:1] and _vouches(t)]
            await remember_all(self.known_inboxes, ((t.inbox, t.shared) for t in vouched))
        assert self._observe is not None
        self._observe.fanout(activity_id, len(moderated.targets), batches)

    async def _batch(self, msg: Mapping[str, Any]) -> None:
        body = await self._load_body(msg["activity"])
        targets = [m.decode_target(t) for t in msg["targets"]]
        assert self._health is not None
        await self._health.refresh()
        # One listing tells which hosts still have retries pending for this object (an
        # earlier activity about it); the batch ordering key guarantees none is added
        # for these hosts while this batch runs.
        pending = {key[3] async for key, _ in self.store.list(m.pending_prefix(msg["object"]))}
        batch = _Batch(msg, body, pending)
        async with anyio.create_task_group() as group:
            for target in targets:
                group.start_soon(self._first_attempt, batch, target)
        self.stats.batches += 1

    async def _first_attempt(self, batch: _Batch, target: InboxTarget) -> None:
        msg = batch.msg
        first_at = self.clock()
        if target.host in batch.pending:
            # An earlier activity about this object still waits for this host: queue behind it.
            self._attempts.event(DeliveryOutcome.DEFERRED, msg, target, retry_in=0.0)
            await self._schedule_retry(msg, target, failures=0, first_at=first_at, delay=0.0)
            return
        retry = await self._attempts.attempt(msg, batch.body, target, failures=0, first_at=first_at)
        if retry is not None:
            delay, failed = retry
            await self._schedule_retry(
                msg, target, failures=int(failed), first_at=first_at, delay=delay
            )

    async def _retry(self, msg: Mapping[str, Any], message: Message) -> None:
        target = m.decode_target(msg["target"])
        body = await self._load_body(msg["activity"])
        counter = ("delivery", "failures", message.id)
        extra = await self.store.get(counter)
        failures = int(msg["failures"]) + (extra if isinstance(extra, int) else 0)
        assert self._health is not None
        await self._health.refresh()
        retry: tuple[float, bool] | None = None
        if self.is_blocked is not None and await ask(self.is_blocked, target.host):
            # Blocked since the chain started: stop it, without a request.
            self._attempts.event(DeliveryOutcome.BLOCKED, msg, target, error="blocked by policy")
            await self._attempts.give_up(
                msg, target, DeliveryFailure.BLOCKED, error="blocked by policy", attempts=failures
            )
        else:
            retry = await self._attempts.attempt(
                msg, body, target, failures=failures, first_at=float(msg["first_at"])
            )
        if retry is None:
            await self.store.delete(counter)
            await self.store.delete(
                m.pending_key(msg["object"], target.host, msg["activity"], target.inbox)
            )
            return
        delay, failed = retry
        if failed:
            await self.store.set(counter, failures + 1 - int(msg["failures"]), ttl=self._ttl())
        # Keep this message (and so its place in the ordering key's line): nack with a delay.
        raise RetryLater(delay)

    async def _schedule_retry(
        self,
        msg: Mapping[str, Any],
        target: InboxTarget,
        *,
        failures: int,
        first_at: float,
        delay: float,
    ) -> None:
        """Start a retry chain for one target of a batch (marked pending, for ordering).

        The marker is idempotent (one key per activity and inbox) and the retry message is
        deduplicated per activity and inbox, so a batch re-run after a crash neither
        leaves a stray count behind nor starts a second chain.
        """
        key = m.pending_key(msg["object"], target.host, msg["activity"], target.inbox)
        await self.store.set(key, 1, ttl=self._ttl())
        await self.queue.enqueue(
            {
                "kind": "retry",
                "activity": msg["activity"],
                "object": msg["object"],
                "key": msg["key"],
                "target": m.encode_target(target),
                "failures": failures,
                "first_at": first_at,
            },
            delay=delay,
            ordering_key=f"retry\n{msg['object']}\n{target.host}",
            # A batch re-run after a crash must not start a second chain for the same
            # inbox: the second could deliver a Create after the Delete that follows it.
            dedup_key=f"retry\n{msg['activity']}\n{m.inbox_digest(target.inbox)}",
        )


__all__ = [
    "DeliveryResult",
    "Transport",
    "FailureHook",
    "RecipientResolver",
    "DeliveryHooks",
    "DeliveryStats",
    "Outbox",
]

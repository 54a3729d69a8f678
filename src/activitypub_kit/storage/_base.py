"""The storage interfaces every backend implements.

Keys are tuples of strings (``("cache", "actor", url)``); values are JSON-compatible
(``None``, ``bool``, ``int``, ``float``, ``str``, lists and string-keyed dicts of these).
Backends must treat values as opaque JSON and must never share mutable state with the caller
(a value read back is a fresh copy).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeAlias, runtime_checkable

#: A JSON-compatible value.
JSONValue: TypeAlias = (
    bool | int | float | str | Sequence["JSONValue"] | Mapping[str, "JSONValue"] | None
)
#: A key in a :class:`KeyValueStore`: a non-empty tuple of strings.
Key: TypeAlias = tuple[str, ...]
#: A clock: returns the current time as POSIX seconds.  Backends take one so that tests can
#: move time forward instead of sleeping (see :class:`activitypub_kit.testing.FakeClock`).
Clock: TypeAlias = Callable[[], float]


@runtime_checkable
class KeyValueStore(Protocol):
    """An async key-value store with optional per-entry time-to-live."""

    async def get(self, key: Key) -> JSONValue | None:
        """Return the value stored under ``key``, or ``None`` if absent or expired."""
        ...

    async def set(self, key: Key, value: JSONValue, *, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``; with ``ttl`` (seconds) it expires after that."""
        ...

    async def delete(self, key: Key) -> None:
        """Remove ``key``; removing an absent key is not an error."""
        ...

    def list(self, prefix: Key) -> AsyncIterator[tuple[Key, JSONValue]]:
        """Yield every live ``(key, value)`` whose key starts with ``prefix``."""
        ...

    async def cas(
        self,
        key: Key,
        expected: JSONValue | None,
        new: JSONValue | None,
        *,
        ttl: float | None = None,
    ) -> bool:
        """Atomically replace ``expected`` by ``new``; return whether it happened.

        If the current value equals ``expected`` (``None``: absent), store ``new``
        (``None``: delete) and return ``True``; otherwise change nothing and return ``False``.
        """
        ...


@dataclass(frozen=True, slots=True)
class Message:
    """One message handed out by :meth:`MessageQueue.receive`, under a lease.

    The lease is identified by :attr:`lease_token`; :meth:`MessageQueue.ack`,
    :meth:`~MessageQueue.nack`, :meth:`~MessageQueue.extend` and
    :meth:`~MessageQueue.dead_letter` succeed only while that token is still the current one
    (a lease that expired and was handed to another consumer cannot be acked twice).
    """

    #: The queue-assigned identifier, stable across deliveries of the same message.
    id: str
    #: The JSON value that was enqueued (a fresh copy).
    body: JSONValue
    #: How many times the message has been handed out, this delivery included (1, 2, ...).
    attempts: int
    #: Identifies this lease; a new one is issued on every delivery.
    lease_token: str
    #: The ordering key given at enqueue time, if any.
    ordering_key: str | None = None
    #: When the message was enqueued (POSIX seconds, by the queue's clock).
    enqueued_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for :meth:`MessageQueue.enqueue_many`: a body and its enqueue options.

    The fields mean what the keyword arguments of :meth:`MessageQueue.enqueue` mean.
    """

    #: The JSON value to enqueue.
    body: JSONValue
    #: Seconds to keep the message invisible.
    delay: float = 0.0
    #: Messages sharing this key are handed out one at a time, in enqueue order.
    ordering_key: str | None = None
    #: Skip the message if this key was enqueued within the deduplication window.
    dedup_key: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message a policy gave up on, kept for inspection."""

    #: The identifier the message had in the queue.
    id: str
    #: The enqueued JSON value.
    body: JSONValue
    #: Why it was dead-lettered (the text given to :meth:`MessageQueue.dead_letter`).
    reason: str
    #: How many deliveries it had.
    attempts: int
    #: Its ordering key, if any.
    ordering_key: str | None
    #: When it was enqueued and when it was dead-lettered (POSIX seconds).
    enqueued_at: float
    dead_at: float


@dataclass(frozen=True, slots=True)
class QueueStats:
    """A snapshot of a queue for monitoring."""

    #: Messages not yet acked or dead-lettered (ready, delayed, waiting on an ordering key,
    #: or leased).
    depth: int
    #: Of those, how many could be handed out right now.
    ready: int
    #: Of those, how many are currently leased to a consumer.
    leased: int
    #: Messages in the dead-letter set.
    dead: int
    #: Age in seconds of the oldest message counted in :attr:`depth`; ``None`` when empty.
    oldest_age: float | None


@runtime_checkable
class MessageQueue(Protocol):
    """A durable at-least-once message queue with leases (visibility timeouts).

    A message is removed only when acked (or dead-lettered).  :meth:`receive` leases
    messages: until the lease expires nobody else receives them; a lease that expires
    without an ack makes the message visible again.  Messages sharing an ordering key are
    handed out one at a time, in enqueue order: the next one becomes available only after
    the previous one was acked or dead-lettered (a nacked message keeps its place).
    """

    async def enqueue(
        self,
        body: JSONValue,
        *,
        delay: float = 0.0,
        ordering_key: str | None = None,
        dedup_key: str | None = None,
    ) -> str | None:
        """Add a message; return its id, or ``None`` if ``dedup_key`` was seen recently.

        ``delay`` (seconds) keeps it invisible for that long.  A ``dedup_key`` is remembered
        for the queue's deduplication window from the first enqueue, whether or not that
        message has been handled since.
        """
        ...

    async def enqueue_many(self, messages: Sequence[Outgoing]) -> list[str | None]:
        """Add several messages at once, atomically; return their ids in the same order.

        Equivalent to calling :meth:`enqueue` for each message in order (ordering keys keep
        batch order; a ``dedup_key`` repeated within the batch keeps the first message), but
        all or nothing: every message is validated before anything is written, and the
        durable backends write the batch in one transaction.  A deduplicated message's id is
        ``None``; an empty batch returns ``[]``.
        """
        ...

    async def receive(
        self, *, lease: float, max_messages: int = 1, wait: float = 0.0
    ) -> list[Message]:
        """Lease up to ``max_messages`` visible messages for ``lease`` seconds.

        Messages are leased in the order they became visible (enqueue order among equals)
        and the batch is returned in enqueue order.  With ``wait`` > 0, wait up to that many
        seconds for a message to become visible; an empty list means none did.
        """
        ...

    async def ack(self, message: Message) -> bool:
        """Remove a handled message; ``False`` if its lease was lost (nothing changed)."""
        ...

    async def nack(self, message: Message, *, delay: float = 0.0) -> bool:
        """Release a message to be delivered again after ``delay`` seconds.

        Return ``False`` if the lease was lost.
        """
        ...

    async def extend(self, message: Message, *, lease: float) -> bool:
        """Renew a lease to end ``lease`` seconds from now; ``False`` if it was lost."""
        ...

    async def dead_letter(self, message: Message, *, reason: str) -> bool:
        """Move a message to the dead-letter set; ``False`` if its lease was lost."""
        ...

    async def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        """Return up to ``limit`` dead letters, oldest first."""
        ...

    async def purge_dead_letters(self) -> int:
        """Delete every dead letter; return how many there were."""
        ...

    async def stats(self) -> QueueStats:
        """Return depth, ready and leased counts, dead letters and the oldest age."""
        ...

    async def aclose(self) -> None:
        """Release connections; the queue must not be used afterwards."""
        ...


__all__ = [
    "JSONValue",
    "Key",
    "Clock",
    "KeyValueStore",
    "Message",
    "Outgoing",
    "DeadLetter",
    "QueueStats",
    "MessageQueue",
]

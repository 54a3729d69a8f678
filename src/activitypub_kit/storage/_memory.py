"""In-memory backends: for tests and single-process use.  Nothing survives a restart."""

from __future__ import annotations

import heapq
import itertools
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import anyio

from activitypub_kit.errors import StorageClosedError
from activitypub_kit.storage._base import (
    Clock,
    DeadLetter,
    JSONValue,
    Key,
    Message,
    Outgoing,
    QueueStats,
)
from activitypub_kit.storage._codec import (
    DEFAULT_DEDUP_WINDOW,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_VALUE_BYTES,
    check_batch,
    check_count,
    check_enqueue,
    check_key,
    check_seconds,
    decode,
    encode,
)


class MemoryStore:
    """A :class:`~activitypub_kit.storage.KeyValueStore` held in a dict."""

    def __init__(
        self, *, clock: Clock | None = None, max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES
    ) -> None:
        self._clock = clock or time.time
        self._limit = max_value_bytes
        self._data: dict[Key, tuple[str, float | None]] = {}

    def _live(self, key: Key) -> str | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[1] is not None and entry[1] <= self._clock():
            del self._data[key]
            return None
        return entry[0]

    def _put(self, key: Key, text: str | None, ttl: float | None) -> None:
        if text is None:
            self._data.pop(key, None)
        else:
            self._data[key] = (text, None if ttl is None else self._clock() + ttl)

    async def get(self, key: Key) -> JSONValue | None:
        """Return the value under ``key``, or ``None``."""
        text = self._live(check_key(key))
        return None if text is None else decode(text)

    async def set(self, key: Key, value: JSONValue, *, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``, optionally expiring after ``ttl`` seconds."""
        check_key(key)
        ttl = None if ttl is None else check_seconds(ttl, "ttl", positive=True)
        self._put(key, encode(value, limit=self._limit), ttl)

    async def delete(self, key: Key) -> None:
        """Remove ``key`` if present."""
        self._data.pop(check_key(key), None)

    async def list(self, prefix: Key) -> AsyncIterator[tuple[Key, JSONValue]]:
        """Yield live entries whose key starts with ``prefix``, in key order."""
        check_key(prefix, allow_empty=True)
        n = len(prefix)
        for key in sorted(k for k in list(self._data) if k[:n] == prefix):
            text = self._live(key)
            if text is not None:
                yield key, decode(text)

    async def cas(
        self,
        key: Key,
        expected: JSONValue | None,
        new: JSONValue | None,
        *,
        ttl: float | None = None,
    ) -> bool:
        """Replace ``expected`` by ``new`` atomically; see the protocol."""
        check_key(key)
        ttl = None if ttl is None else check_seconds(ttl, "ttl", positive=True)
        want = None if expected is None else encode(expected, limit=self._limit)
        text = None if new is None else encode(new, limit=self._limit)
        if self._live(key) != want:
            return False
        self._put(key, text, ttl)
        return True

    async def aclose(self) -> None:
        """Nothing to release."""


@dataclass(slots=True)
class _Entry:
    id: str
    seq: int
    body: str
    ordering_key: str | None
    enqueued_at: float
    visible_at: float
    head: bool
    token: str | None = None
    attempts: int = 0


class MemoryQueue:
    """A :class:`~activitypub_kit.storage.MessageQueue` in process memory.

    Dequeue is a heap pop (O(log n)); same semantics as the durable backends.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        dedup_window: float = DEFAULT_DEDUP_WINDOW,
    ) -> None:
        self._clock = clock or time.time
        self.max_message_bytes = max_message_bytes
        self.dedup_window = dedup_window
        self._seq = itertools.count(1)
        self._msgs: OrderedDict[str, _Entry] = OrderedDict()
        self._heap: list[tuple[float, int, str]] = []
        self._chains: dict[str, deque[str]] = {}
        self._dedup: dict[str, float] = {}
        self._dedup_heap: list[tuple[float, str]] = []
        self._dead: OrderedDict[str, DeadLetter] = OrderedDict()
        self._changed: anyio.Event | None = None
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise StorageClosedError("the memory queue is closed")

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _schedule(self, entry: _Entry) -> None:
        heapq.heappush(self._heap, (entry.visible_at, entry.seq, entry.id))

    async def enqueue(
        self,
        body: JSONValue,
        *,
        delay: float = 0.0,
        ordering_key: str | None = None,
        dedup_key: str | None = None,
    ) -> str | None:
        """Add a message; see :meth:`MessageQueue.enqueue`."""
        self._check_open()
        text, delay = check_enqueue(
            body,
            delay=delay,
            ordering_key=ordering_key,
            dedup_key=dedup_key,
            limit=self.max_message_bytes,
        )
        return self._add(text, delay, ordering_key, dedup_key)

    async def enqueue_many(self, messages: Sequence[Outgoing]) -> list[str | None]:
        """Add several messages at once; see :meth:`MessageQueue.enqueue_many`."""
        self._check_open()
        checked = check_batch(messages, limit=self.max_message_bytes)
        return [self._add(text, delay, m.ordering_key, m.dedup_key) for m, text, delay in checked]

    def _add(
        self, text: str, delay: float, ordering_key: str | None, dedup_key: str | None
    ) -> str | None:
        now = self._clock()
        if dedup_key is not None:
            while self._dedup_heap and self._dedup_heap[0][0] <= now:
                expiry, old = heapq.heappop(self._dedup_heap)
                if self._dedup.get(old) == expiry:
                    del self._dedup[old]
            if dedup_key in self._dedup:
                return None
            self._dedup[dedup_key] = now + self.dedup_window
            heapq.heappush(self._dedup_heap, (now + self.dedup_window, dedup_key))
        seq = next(self._seq)
        entry = _Entry(uuid.uuid4().hex, seq, text, ordering_key, now, now + delay, True)
        if ordering_key is not None:
            chain = self._chains.setdefault(ordering_key, deque())
            chain.append(entry.id)
            entry.head = len(chain) == 1
        self._msgs[entry.id] = entry
        if entry.head:
            self._schedule(entry)
            self._wake()
        return entry.id

    def _claim(self, now: float, lease: float, limit: int) -> list[Message]:
        """Lease the first ``limit`` visible heads; the batch is returned in enqueue order."""
        out: list[tuple[int, Message]] = []
        while self._heap and len(out) < limit and self._heap[0][0] <= now:
            visible_at, _, mid = heapq.heappop(self._heap)
            entry = self._msgs.get(mid)
            if entry is None or not entry.head or entry.visible_at != visible_at:
                continue  # stale heap entry
            entry.token = uuid.uuid4().hex
            entry.attempts += 1
            entry.visible_at = now + lease
            self._schedule(entry)
            message = Message(
                entry.id,
                decode(entry.body),
                entry.attempts,
                entry.token,
                entry.ordering_key,
                entry.enqueued_at,
            )
            out.append((entry.seq, message))
        return [message for _, message in sorted(out, key=lambda pair: pair[0])]

    def _next_visible(self) -> float | None:
        while self._heap:
            visible_at, _, mid = self._heap[0]
            entry = self._msgs.get(mid)
            if entry is not None and entry.head and entry.visible_at == visible_at:
                return visible_at
            heapq.heappop(self._heap)
        return None

    async def receive(
        self, *, lease: float, max_messages: int = 1, wait: float = 0.0
    ) -> list[Message]:
        """Lease visible messages; see :meth:`MessageQueue.receive`."""
        self._check_open()
        lease = check_seconds(lease, "lease", positive=True)
        check_count(max_messages, "max_messages")
        wait = check_seconds(wait, "wait")
        deadline = time.monotonic() + wait
        while True:
            got = self._claim(self._clock(), lease, max_messages)
            remaining = deadline - time.monotonic()
            if got or remaining <= 0:
                return got
            nxt = self._next_visible()
            if nxt is not None:
                remaining = min(remaining, max(nxt - self._clock(), 0.001))
            if self._changed is None:
                self._changed = anyio.Event()
            with anyio.move_on_after(remaining):
                await self._changed.wait()
            self._check_open()

    def _leased(self, message: Message) -> _Entry | None:
        self._check_open()
        entry = self._msgs.get(message.id)
        if entry is None or entry.token is None or entry.token != message.lease_token:
            return None
        return entry

    def _remove(self, entry: _Entry) -> None:
        del self._msgs[entry.id]
        if entry.ordering_key is not None:
            chain = self._chains[entry.ordering_key]
            chain.popleft()
            if chain:
                nxt = self._msgs[chain[0]]
                nxt.head = True
                self._schedule(nxt)
                self._wake()
            else:
                del self._chains[entry.ordering_key]

    async def ack(self, message: Message) -> bool:
        """Remove a handled message; see :meth:`MessageQueue.ack`."""
        entry = self._leased(message)
        if entry is None:
            return False
        self._remove(entry)
        return True

    async def nack(self, message: Message, *, delay: float = 0.0) -> bool:
        """Release a message for redelivery; see :meth:`MessageQueue.nack`."""
        delay = check_seconds(delay, "delay")
        entry = self._leased(message)
        if entry is None:
            return False
        entry.token = None
        entry.visible_at = self._clock() + delay
        self._schedule(entry)
        self._wake()
        return True

    async def extend(self, message: Message, *, lease: float) -> bool:
        """Renew a lease; see :meth:`MessageQueue.extend`."""
        lease = check_seconds(lease, "lease", positive=True)
        entry = self._leased(message)
        if entry is None:
            return False
        entry.visible_at = self._clock() + lease
        self._schedule(entry)
        return True

    async def dead_letter(self, message: Message, *, reason: str) -> bool:
        """Move a message to the dead letters; see :meth:`MessageQueue.dead_letter`."""
        entry = self._leased(message)
        if entry is None:
            return False
        self._remove(entry)
        self._dead[entry.id] = DeadLetter(
            entry.id,
            decode(entry.body),
            str(reason),
            entry.attempts,
            entry.ordering_key,
            entry.enqueued_at,
            self._clock(),
        )
        return True

    async def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        """Return the oldest ``limit`` dead letters."""
        self._check_open()
        check_count(limit, "limit")
        return list(itertools.islice(self._dead.values(), limit))

    async def purge_dead_letters(self) -> int:
        """Delete all dead letters."""
        self._check_open()
        count = len(self._dead)
        self._dead.clear()
        return count

    async def stats(self) -> QueueStats:
        """Return counts and the oldest message's age."""
        self._check_open()
        now = self._clock()
        ready = leased = 0
        for entry in self._msgs.values():
            if entry.token is not None and entry.visible_at > now:
                leased += 1
            elif entry.head and entry.visible_at <= now:
                ready += 1
        oldest = next(iter(self._msgs.values()), None)
        return QueueStats(
            depth=len(self._msgs),
            ready=ready,
            leased=leased,
            dead=len(self._dead),
            oldest_age=None if oldest is None else max(now - oldest.enqueued_at, 0.0),
        )

    async def aclose(self) -> None:
        """Mark the queue closed; waiting receivers return."""
        self._closed = True
        self._wake()


__all__ = ["MemoryQueue", "MemoryStore"]

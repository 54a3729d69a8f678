"""The Redis message queue: sorted sets and Lua scripts, no global lock, O(log n) dequeue."""

from __future__ import annotations

import contextlib
import json
import math
import time
import uuid
from collections.abc import Sequence
from typing import Any

import anyio
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from activitypub_kit.storage._base import (
    Clock,
    DeadLetter,
    JSONValue,
    Message,
    Outgoing,
    QueueStats,
)
from activitypub_kit.storage._codec import (
    DEFAULT_DEDUP_WINDOW,
    DEFAULT_MAX_MESSAGE_BYTES,
    check_batch,
    check_count,
    check_enqueue,
    check_seconds,
    decode,
)
from activitypub_kit.storage.redis import _scripts as scripts
from activitypub_kit.storage.redis._client import RedisConnection


def _num(value: float) -> str:
    return repr(float(value))


class RedisQueue:
    """A :class:`~activitypub_kit.storage.MessageQueue` in Redis.

    Every operation is one Lua script that touches only the head of a sorted set or the
    message itself, so dequeue cost does not grow with the backlog and consumers never take
    a global lock.  Leases live in a sorted set by expiry; any consumer's next receive puts
    expired ones back, so a crashed consumer's messages come back by themselves.
    Deduplication keys use native TTLs.  Waiting receivers are woken by ``PUBLISH`` on one
    pub/sub connection per queue object and poll every ``poll_interval`` seconds anyway.
    """

    def __init__(
        self,
        url_or_client: str | aioredis.Redis,
        *,
        name: str = "default",
        prefix: str = "activitypub_kit:",
        clock: Clock | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        dedup_window: float = DEFAULT_DEDUP_WINDOW,
        poll_interval: float = 2.0,
    ) -> None:
        self.conn = RedisConnection(url_or_client, prefix=prefix)
        self.name = name
        self._clock = clock or time.time
        self.max_message_bytes = max_message_bytes
        self.dedup_window = dedup_window
        self.poll_interval = poll_interval
        p = f"{prefix}q:{{{name}}}:"
        self.key_prefix = p
        self._k = {n: p + n for n in scripts.KEY_NAMES}
        self._enqueue = self.conn.script(scripts.ENQUEUE)
        self._receive = self.conn.script(scripts.RECEIVE)
        self._finish_script = self.conn.script(scripts.FINISH)
        self._release_script = self.conn.script(scripts.RELEASE)
        self._pubsub: Any = None
        self._listening = False
        self._woken: anyio.Event | None = None

    def _keys(self, *names: str) -> list[str]:
        return [self._k[n] for n in names]

    async def enqueue(
        self,
        body: JSONValue,
        *,
        delay: float = 0.0,
        ordering_key: str | None = None,
        dedup_key: str | None = None,
    ) -> str | None:
        """Add a message; see :meth:`MessageQueue.enqueue`."""
        text, delay = check_enqueue(
            body,
            delay=delay,
            ordering_key=ordering_key,
            dedup_key=dedup_key,
            limit=self.max_message_bytes,
        )
        keys, args = self._enqueue_call(self._clock(), text, delay, ordering_key, dedup_key)
        async with self.conn.errors():
            result = await self._enqueue(keys=keys, args=args)
        return None if result is None else str(result)

    async def enqueue_many(self, messages: Sequence[Outgoing]) -> list[str | None]:
        """Add several messages at once; see :meth:`MessageQueue.enqueue_many`.

        One ``MULTI``/``EXEC`` pipeline of the enqueue script: one round trip, and no other
        client's command runs between the batch's messages.
        """
        checked = check_batch(messages, limit=self.max_message_bytes)
        if not checked:
            return []
        now = self._clock()
        async with self.conn.errors() as client, client.pipeline(transaction=True) as pipe:
            for m, text, delay in checked:
                keys, args = self._enqueue_call(now, text, delay, m.ordering_key, m.dedup_key)
                await self._enqueue(keys=keys, args=args, client=pipe)
            results = await pipe.execute()
        return [None if r is None else str(r) for r in results]

    def _enqueue_call(
        self,
        now: float,
        text: str,
        delay: float,
        ordering_key: str | None,
        dedup_key: str | None,
    ) -> tuple[list[str], list[str]]:
        keys = self._keys("seq", "body", "okey", "due", "ready", "all")
        keys += [
            self.key_prefix + "chain:" + (ordering_key or ""),
            self.key_prefix + "dedup:" + (dedup_key or ""),
            self._k["wake"],
        ]
        ttl_ms = str(max(1, math.ceil(self.dedup_window * 1000))) if dedup_key else ""
        args = [text, _num(now), _num(now + delay), ordering_key or "", ttl_ms]
        args.append("1" if delay == 0 else "0")
        return keys, args

    async def receive(
        self, *, lease: float, max_messages: int = 1, wait: float = 0.0
    ) -> list[Message]:
        """Lease visible messages; see :meth:`MessageQueue.receive`."""
        lease = check_seconds(lease, "lease", positive=True)
        check_count(max_messages, "max_messages")
        wait = check_seconds(wait, "wait")
        deadline = time.monotonic() + wait
        keys = self._keys("ready", "leased", "tok", "att", "body", "okey", "all")
        while True:
            now = self._clock()
            args = [_num(now), _num(now + lease), str(max_messages), uuid.uuid4().hex]
            with anyio.CancelScope(shield=True):  # never lose messages claimed but not returned
                async with self.conn.errors():
                    rows = await self._receive(keys=keys, args=args)
            remaining = deadline - time.monotonic()
            if rows or remaining <= 0:
                return [  # ids are zero-padded sequence numbers: sorted = enqueue order
                    Message(r[0], decode(r[3]), int(r[2]), r[1], r[4], float(r[5]))
                    for r in sorted(rows, key=lambda r: str(r[0]))
                ]
            await self._wait(min(remaining, self.poll_interval, await self._until_next_due()))

    async def _until_next_due(self) -> float:
        """Seconds until the next delayed message or lease comes due (two O(1) reads)."""
        async with self.conn.errors() as client, client.pipeline(transaction=False) as pipe:
            pipe.zrange(self._k["ready"], 0, 0, withscores=True)
            pipe.zrange(self._k["leased"], 0, 0, withscores=True)
            heads = await pipe.execute()
        dues = [float(found[0][1]) for found in heads if found]
        if not dues:
            return self.poll_interval
        return max(min(dues) - self._clock(), 0.001)

    async def _wait(self, seconds: float) -> None:
        """Wait for a wake-up PUBLISH, at most ``seconds``; one task listens per object."""
        if self._listening:
            self._woken = self._woken or anyio.Event()
            with anyio.move_on_after(seconds):
                await self._woken.wait()
            return
        self._listening = True
        try:
            if self._pubsub is None:
                pubsub = self.conn.client.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(self._k["wake"])
                self._pubsub = pubsub
            with anyio.move_on_after(seconds):
                while await self._pubsub.get_message(timeout=seconds) is None:
                    pass
        except (RedisError, OSError):
            await self._drop_pubsub()
            await anyio.sleep(seconds)  # polling fallback while pub/sub is down
        except BaseException:
            await self._drop_pubsub()
            raise
        finally:
            self._listening = False
            woken, self._woken = self._woken, None
            if woken is not None:
                woken.set()

    async def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()

    async def _finish(self, message: Message, dead_reason: str | None) -> bool:
        okey = message.ordering_key or ""
        keys = self._keys("leased", "tok", "body", "att", "okey", "all", "ready", "due")
        keys.append(self.key_prefix + "chain:" + okey)
        keys += self._keys("dead", "dbody", "dmeta", "wake")
        mode = "ack" if dead_reason is None else "dead"
        args = [message.id, message.lease_token, _num(self._clock()), mode, dead_reason or ""]
        args.append(okey)
        async with self.conn.errors():
            return bool(await self._finish_script(keys=keys, args=args))

    async def ack(self, message: Message) -> bool:
        """Remove a handled message; see :meth:`MessageQueue.ack`."""
        return await self._finish(message, None)

    async def dead_letter(self, message: Message, *, reason: str) -> bool:
        """Move a message to the dead letters; see :meth:`MessageQueue.dead_letter`."""
        return await self._finish(message, str(reason))

    async def _release(self, message: Message, at: float, mode: str) -> bool:
        keys = self._keys("tok", "leased", "ready", "wake")
        args = [message.id, message.lease_token, _num(at), mode]
        async with self.conn.errors():
            return bool(await self._release_script(keys=keys, args=args))

    async def nack(self, message: Message, *, delay: float = 0.0) -> bool:
        """Release a message for redelivery; see :meth:`MessageQueue.nack`."""
        delay = check_seconds(delay, "delay")
        return await self._release(message, self._clock() + delay, "nack")

    async def extend(self, message: Message, *, lease: float) -> bool:
        """Renew a lease; see :meth:`MessageQueue.extend`."""
        lease = check_seconds(lease, "lease", positive=True)
        return await self._release(message, self._clock() + lease, "extend")

    async def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        """Return the oldest ``limit`` dead letters."""
        check_count(limit, "limit")
        async with self.conn.errors() as client:
            pairs: list[Any] = await client.zrange(self._k["dead"], 0, limit - 1, withscores=True)
            ids = [mid for mid, _ in pairs]
            bodies: list[Any] = await client.hmget(self._k["dbody"], ids) if ids else []
            metas: list[Any] = await client.hmget(self._k["dmeta"], ids) if ids else []
        out = []
        for (mid, dead_at), body, meta_text in zip(pairs, bodies, metas, strict=True):
            meta = json.loads(meta_text)
            out.append(
                DeadLetter(
                    mid,
                    decode(body),
                    meta["reason"],
                    int(meta["attempts"]),
                    meta.get("ordering_key") or None,
                    float(meta["enqueued_at"]),
                    float(dead_at),
                )
            )
        return out

    async def purge_dead_letters(self) -> int:
        """Delete all dead letters of this queue."""
        async with self.conn.errors() as client, client.pipeline(transaction=True) as pipe:
            pipe.zcard(self._k["dead"])
            pipe.delete(self._k["dead"], self._k["dbody"], self._k["dmeta"])
            count, _ = await pipe.execute()
        return int(count)

    async def stats(self) -> QueueStats:
        """Return counts and the oldest message's age (each O(log n))."""
        now = self._clock()
        async with self.conn.errors() as client, client.pipeline(transaction=True) as pipe:
            pipe.zcard(self._k["all"])
            pipe.zcount(self._k["ready"], "-inf", now)
            pipe.zcount(self._k["leased"], "-inf", now)  # expired leases: visible again
            pipe.zcount(self._k["leased"], f"({now!r}", "+inf")
            pipe.zcard(self._k["dead"])
            pipe.zrange(self._k["all"], 0, 0, withscores=True)
            depth, ready, expired, leased, dead, oldest = await pipe.execute()
        age = max(now - float(oldest[0][1]), 0.0) if oldest else None
        return QueueStats(int(depth), int(ready) + int(expired), int(leased), int(dead), age)

    async def aclose(self) -> None:
        """Close the pub/sub connection and the client (if this queue created it)."""
        await self._drop_pubsub()
        await self.conn.aclose()


__all__ = ["RedisQueue"]

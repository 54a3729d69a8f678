"""The PostgreSQL message queue: SKIP LOCKED claims, LISTEN/NOTIFY wake-ups, polling fallback."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import anyio
import psycopg
import psycopg_pool

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
from activitypub_kit.storage.postgres._db import CHANNEL, PostgresDatabase

_LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"

_ENQUEUE = (
    "INSERT INTO {s}.apk_queue (queue, id, body, ordering_key, enqueued_at, visible_at, head)"
    " VALUES (%(q)s, %(id)s, %(body)s, %(ok)s, %(now)s, %(vis)s, %(ok)s::text IS NULL OR"
    " NOT EXISTS (SELECT 1 FROM {s}.apk_queue WHERE queue = %(q)s AND ordering_key = %(ok)s))"
)
_ENQUEUE_NOTIFY = (
    f"WITH ins AS ({_ENQUEUE}) SELECT pg_notify(%(chan)s, %(payload)s) WHERE %(payload)s <> ''"
)
# One message of a batch: its deduplication row (when it has a key) and the message, in
# one statement; no row is returned when the key was seen within the window.
_ENQUEUE_DEDUP = (
    "WITH d AS (INSERT INTO {s}.apk_dedup AS d (queue, key, expires_at)"
    " SELECT %(q)s, %(dk)s, %(exp)s WHERE %(dk)s::text IS NOT NULL"
    " ON CONFLICT (queue, key) DO UPDATE SET expires_at = excluded.expires_at"
    " WHERE d.expires_at <= %(now)s RETURNING 1)"
    " INSERT INTO {s}.apk_queue (queue, id, body, ordering_key, enqueued_at, visible_at, head)"
    " SELECT %(q)s, %(id)s, %(body)s, %(ok)s, %(now)s, %(vis)s, %(ok)s::text IS NULL OR"
    " NOT EXISTS (SELECT 1 FROM {s}.apk_queue WHERE queue = %(q)s AND ordering_key = %(ok)s)"
    " WHERE %(dk)s::text IS NULL OR EXISTS (SELECT 1 FROM d) RETURNING id"
)
_CLAIM = (
    "WITH c AS (SELECT seq FROM {s}.apk_queue WHERE queue = %(q)s AND head"
    " AND visible_at <= %(now)s ORDER BY visible_at, seq LIMIT %(n)s FOR UPDATE SKIP LOCKED)"
    " UPDATE {s}.apk_queue m SET lease_token = gen_random_uuid()::text,"
    " visible_at = %(exp)s, attempts = m.attempts + 1 FROM c WHERE m.seq = c.seq"
    " RETURNING m.seq, m.id, m.body, m.attempts, m.lease_token, m.ordering_key, m.enqueued_at"
)
_FINISH = (
    "DELETE FROM {s}.apk_queue WHERE queue = %s AND id = %s AND lease_token = %s"
    " RETURNING body, attempts, ordering_key, enqueued_at"
)
_PROMOTE = (
    "UPDATE {s}.apk_queue SET head = true WHERE seq = (SELECT min(seq) FROM {s}.apk_queue"
    " WHERE queue = %s AND ordering_key = %s)"
)


class PostgresQueue:
    """A :class:`~activitypub_kit.storage.MessageQueue` in PostgreSQL.

    A claim locks the first visible ordering-key heads with ``FOR UPDATE SKIP LOCKED`` and
    stamps a lease in the same statement, so consumers never wait on each other and no
    transaction stays open while a handler runs.  The partial index on visible heads keeps a
    claim O(log n) with any backlog.  Enqueues ``NOTIFY``; waiting receivers ``LISTEN`` on one
    extra connection per queue object, and poll every ``poll_interval`` seconds anyway.
    """

    def __init__(
        self,
        conninfo: str | psycopg_pool.AsyncConnectionPool | PostgresDatabase,
        *,
        name: str = "default",
        schema: str = "activitypub_kit",
        clock: Clock | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        dedup_window: float = DEFAULT_DEDUP_WINDOW,
        poll_interval: float = 2.0,
        pool_max_size: int = 10,
    ) -> None:
        self.db = (
            conninfo
            if isinstance(conninfo, PostgresDatabase)
            else PostgresDatabase(conninfo, schema=schema, max_size=pool_max_size)
        )
        self.name = name
        self._clock = clock or time.time
        self.max_message_bytes = max_message_bytes
        self.dedup_window = dedup_window
        self.poll_interval = poll_interval
        self._payload = f"{self.db.schema}.{name}"
        self._listener: psycopg.AsyncConnection[Any] | None = None
        self._listening = False
        self._woken: anyio.Event | None = None
        self._enqueues = 0

    def _lock_name(self, ordering_key: str) -> str:
        return f"{self._payload}\x1f{ordering_key}"

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
        now, mid, q = self._clock(), uuid.uuid4().hex, self.db.q
        if ordering_key is None and dedup_key is None:
            # One statement, one round trip; the NOTIFY is sent when it commits.
            payload = self._payload if delay == 0 else ""
            fast: dict[str, object] = {"q": self.name, "id": mid, "body": text, "ok": None}
            fast.update(now=now, vis=now + delay, chan=CHANNEL, payload=payload)
            async with self.db.connection() as conn:
                await conn.execute(q(_ENQUEUE_NOTIFY), fast)
            return mid
        async with self.db.connection() as conn, conn.transaction():
            if ordering_key is not None:
                await conn.execute(_LOCK_KEY, (self._lock_name(ordering_key),))
            if dedup_key is not None:
                self._enqueues += 1
                if self._enqueues % 64 == 0:
                    await conn.execute(
                        q(
                            "DELETE FROM {s}.apk_dedup WHERE ctid IN (SELECT ctid FROM"
                            " {s}.apk_dedup WHERE expires_at <= %s LIMIT 500)"
                        ),
                        (now,),
                    )
                cur = await conn.execute(
                    q(
                        "INSERT INTO {s}.apk_dedup AS d (queue, key, expires_at)"
                        " VALUES (%s, %s, %s) ON CONFLICT (queue, key) DO UPDATE"
                        " SET expires_at = excluded.expires_at WHERE d.expires_at <= %s"
                    ),
                    (self.name, dedup_key, now + self.dedup_window, now),
                )
                if cur.rowcount == 0:
                    return None
            params: dict[str, object] = {"q": self.name, "id": mid, "body": text}
            params.update(ok=ordering_key, now=now, vis=now + delay)
            await conn.execute(q(_ENQUEUE), params)
            if delay == 0:
                await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self._payload))
        return mid

    async def enqueue_many(self, messages: Sequence[Outgoing]) -> list[str | None]:
        """Add several messages in one transaction; see :meth:`MessageQueue.enqueue_many`.

        The ordering keys are locked in one statement (sorted, so concurrent batches cannot
        deadlock), then one statement per message inserts its deduplication row and the
        message together, sent as one pipelined ``executemany``.
        """
        checked = check_batch(messages, limit=self.max_message_bytes)
        if not checked:
            return []
        now, q = self._clock(), self.db.q
        keys = sorted({m.ordering_key for m, _, _ in checked if m.ordering_key is not None})
        rows: list[dict[str, object]] = []
        for m, text, delay in checked:
            row: dict[str, object] = {"q": self.name, "id": uuid.uuid4().hex, "body": text}
            row.update(ok=m.ordering_key, now=now, vis=now + delay, dk=m.dedup_key)
            row.update(exp=now + self.dedup_window)
            rows.append(row)
        ids: list[str | None] = []
        async with self.db.connection() as conn, conn.transaction():
            if keys:
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(k, 0))"
                    " FROM unnest(%s::text[]) AS k ORDER BY k",
                    ([self._lock_name(k) for k in keys],),
                )
            if any(m.dedup_key is not None for m, _, _ in checked):
                await conn.execute(
                    q(
                        "DELETE FROM {s}.apk_dedup WHERE ctid IN (SELECT ctid FROM"
                        " {s}.apk_dedup WHERE expires_at <= %s LIMIT 500)"
                    ),
                    (now,),
                )
            async with conn.cursor() as cur:
                await cur.executemany(q(_ENQUEUE_DEDUP), rows, returning=True)
                while True:
                    found = await cur.fetchone()
                    ids.append(None if found is None else str(found[0]))
                    if not cur.nextset():
                        break
            if any(mid is not None for mid, (_, _, d) in zip(ids, checked, strict=True) if d == 0):
                await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self._payload))
        return ids

    async def receive(
        self, *, lease: float, max_messages: int = 1, wait: float = 0.0
    ) -> list[Message]:
        """Lease visible messages; see :meth:`MessageQueue.receive`."""
        lease = check_seconds(lease, "lease", positive=True)
        check_count(max_messages, "max_messages")
        wait = check_seconds(wait, "wait")
        deadline = time.monotonic() + wait
        while True:
            now = self._clock()
            params = {"q": self.name, "now": now, "exp": now + lease, "n": max_messages}
            with anyio.CancelScope(shield=True):  # never lose rows claimed but not returned
                async with self.db.connection() as conn:
                    cur = await conn.execute(self.db.q(_CLAIM), params)
                    rows = sorted(await cur.fetchall())
            remaining = deadline - time.monotonic()
            if rows or remaining <= 0:
                return [Message(r[1], decode(r[2]), r[3], r[4], r[5], r[6]) for r in rows]
            await self._wait(min(remaining, self.poll_interval, await self._until_next_due()))

    async def _until_next_due(self) -> float:
        """Seconds until the next delayed message or lease comes due (index lookup)."""
        async with self.db.connection() as conn:
            cur = await conn.execute(
                self.db.q("SELECT min(visible_at) FROM {s}.apk_queue WHERE queue = %s AND head"),
                (self.name,),
            )
            row = await cur.fetchone()
        if row is None or row[0] is None:
            return self.poll_interval
        return max(float(row[0]) - self._clock(), 0.001)

    async def _wait(self, seconds: float) -> None:
        """Wait for a NOTIFY on this queue, at most ``seconds`` seconds.

        One task per queue object listens; the others wait for it to report.
        """
        if self._listening:
            self._woken = self._woken or anyio.Event()
            with anyio.move_on_after(seconds):
                await self._woken.wait()
            return
        self._listening = True
        try:
            if self._listener is None:
                conn = await psycopg.AsyncConnection.connect(self.db.dsn, autocommit=True)
                await conn.execute(f"LISTEN {CHANNEL}")
                self._listener = conn
            async for note in self._listener.notifies(timeout=seconds):
                if note.payload == self._payload:
                    break
        except psycopg.Error:
            await self._drop_listener()
            await anyio.sleep(seconds)  # polling fallback while the listener is down
        except BaseException:
            await self._drop_listener()
            raise
        finally:
            self._listening = False
            woken, self._woken = self._woken, None
            if woken is not None:
                woken.set()

    async def _drop_listener(self) -> None:
        conn, self._listener = self._listener, None
        if conn is not None:
            with anyio.CancelScope(shield=True):
                await conn.close()

    async def _finish(self, message: Message, dead_reason: str | None) -> bool:
        now, q = self._clock(), self.db.q
        if message.ordering_key is None and dead_reason is None:
            async with self.db.connection() as conn:  # one statement, one round trip
                cur = await conn.execute(
                    q(_FINISH.replace("%s RETURNING", "%s AND ordering_key IS NULL RETURNING")),
                    (self.name, message.id, message.lease_token),
                )
                return cur.rowcount == 1
        async with self.db.connection() as conn, conn.transaction():
            if message.ordering_key is not None:
                await conn.execute(_LOCK_KEY, (self._lock_name(message.ordering_key),))
            cur = await conn.execute(q(_FINISH), (self.name, message.id, message.lease_token))
            row = await cur.fetchone()
            if row is None:
                return False
            body, attempts, ordering_key, enqueued_at = row
            if ordering_key is not None:
                if ordering_key != message.ordering_key:
                    await conn.execute(_LOCK_KEY, (self._lock_name(ordering_key),))
                promoted = await conn.execute(q(_PROMOTE), (self.name, ordering_key))
                if promoted.rowcount:
                    await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self._payload))
            if dead_reason is not None:
                await conn.execute(
                    q(
                        "INSERT INTO {s}.apk_dead (queue, id, body, reason, attempts,"
                        " ordering_key, enqueued_at, dead_at)"
                        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                    ),
                    (
                        self.name,
                        message.id,
                        body,
                        dead_reason,
                        attempts,
                        ordering_key,
                        enqueued_at,
                        now,
                    ),
                )
        return True

    async def ack(self, message: Message) -> bool:
        """Remove a handled message; see :meth:`MessageQueue.ack`."""
        return await self._finish(message, None)

    async def dead_letter(self, message: Message, *, reason: str) -> bool:
        """Move a message to the dead letters; see :meth:`MessageQueue.dead_letter`."""
        return await self._finish(message, str(reason))

    async def _release(self, message: Message, visible_at: float, keep_token: bool) -> bool:
        token = "lease_token" if keep_token else "NULL"
        async with self.db.connection() as conn:
            cur = await conn.execute(
                self.db.q(
                    f"UPDATE {{s}}.apk_queue SET visible_at = %s, lease_token = {token}"  # noqa: S608
                    " WHERE queue = %s AND id = %s AND lease_token = %s"
                ),
                (visible_at, self.name, message.id, message.lease_token),
            )
            if cur.rowcount and not keep_token and visible_at <= self._clock():
                await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self._payload))
            return cur.rowcount == 1

    async def nack(self, message: Message, *, delay: float = 0.0) -> bool:
        """Release a message for redelivery; see :meth:`MessageQueue.nack`."""
        delay = check_seconds(delay, "delay")
        return await self._release(message, self._clock() + delay, keep_token=False)

    async def extend(self, message: Message, *, lease: float) -> bool:
        """Renew a lease; see :meth:`MessageQueue.extend`."""
        lease = check_seconds(lease, "lease", positive=True)
        return await self._release(message, self._clock() + lease, keep_token=True)

    async def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        """Return the oldest ``limit`` dead letters."""
        check_count(limit, "limit")
        async with self.db.connection() as conn:
            cur = await conn.execute(
                self.db.q(
                    "SELECT id, body, reason, attempts, ordering_key, enqueued_at, dead_at"
                    " FROM {s}.apk_dead WHERE queue = %s ORDER BY seq LIMIT %s"
                ),
                (self.name, limit),
            )
            rows = await cur.fetchall()
        return [DeadLetter(r[0], decode(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    async def purge_dead_letters(self) -> int:
        """Delete all dead letters of this queue."""
        async with self.db.connection() as conn:
            cur = await conn.execute(
                self.db.q("DELETE FROM {s}.apk_dead WHERE queue = %s"), (self.name,)
            )
            return cur.rowcount

    async def stats(self) -> QueueStats:
        """Return counts and the oldest message's age (a count scans the queue's rows)."""
        now, q = self._clock(), self.db.q
        async with self.db.connection() as conn:
            cur = await conn.execute(
                q(
                    "SELECT count(*), count(*) FILTER (WHERE head AND visible_at <= %(now)s),"
                    " count(*) FILTER (WHERE lease_token IS NOT NULL AND visible_at > %(now)s),"
                    " (SELECT enqueued_at FROM {s}.apk_queue WHERE queue = %(q)s"
                    "  ORDER BY seq LIMIT 1),"
                    " (SELECT count(*) FROM {s}.apk_dead WHERE queue = %(q)s)"
                    " FROM {s}.apk_queue WHERE queue = %(q)s"
                ),
                {"q": self.name, "now": now},
            )
            row = await cur.fetchone()
        assert row is not None
        depth, ready, leased, oldest, dead = row
        return QueueStats(
            depth, ready, leased, dead, None if oldest is None else max(now - oldest, 0.0)
        )

    async def aclose(self) -> None:
        """Close the listener connection and the pool (if this queue created it)."""
        await self._drop_listener()
        await self.db.aclose()


__all__ = ["PostgresQueue"]

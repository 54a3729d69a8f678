"""The SQLite message queue: one table, leases as a visibility time, claims in one UPDATE."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

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
from activitypub_kit.storage.sqlite._db import SqliteDatabase, transaction

Row = tuple[Any, ...]

_CLAIM = """
UPDATE apk_queue
SET lease_token = lower(hex(randomblob(16))), visible_at = :expires, attempts = attempts + 1
WHERE seq IN (
    SELECT seq FROM apk_queue
    WHERE queue = :queue AND head = 1 AND visible_at <= :now
    ORDER BY visible_at, seq LIMIT :limit
)
RETURNING seq, id, body, attempts, lease_token, ordering_key, enqueued_at
"""


class SqliteQueue:
    """A :class:`~activitypub_kit.storage.MessageQueue` in a SQLite file.

    Several queues (``name``) and processes can share one file.  A claim is a single
    ``UPDATE … RETURNING`` over the partial index of visible ordering-key heads, so it is
    atomic and costs O(log n) however large the backlog.  Consumers in this process are woken
    at once by an enqueue; other processes' enqueues are seen within ``poll_interval``.
    """

    def __init__(
        self,
        path: str | Path | SqliteDatabase,
        *,
        name: str = "default",
        clock: Clock | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        dedup_window: float = DEFAULT_DEDUP_WINDOW,
        poll_interval: float = 0.5,
    ) -> None:
        self.db = path if isinstance(path, SqliteDatabase) else SqliteDatabase(path)
        self.name = name
        self._clock = clock or time.time
        self.max_message_bytes = max_message_bytes
        self.dedup_window = dedup_window
        self.poll_interval = poll_interval
        self._changed: anyio.Event | None = None

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

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
        now = self._clock()
        if dedup_key is None:  # a single INSERT is atomic on its own
            result = await self.db.run(
                lambda conn: self._insert(conn, now, text, delay, ordering_key, None)
            )
        else:
            result = await self.db.run(
                lambda conn: transaction(
                    conn, lambda c: self._insert(c, now, text, delay, ordering_key, dedup_key)
                )
            )
        if result is not None:
            self._wake()
        return result

    async def enqueue_many(self, messages: Sequence[Outgoing]) -> list[str | None]:
        """Add several messages in one transaction; see :meth:`MessageQueue.enqueue_many`."""
        checked = check_batch(messages, limit=self.max_message_bytes)
        if not checked:
            return []
        now = self._clock()

        def work(conn: sqlite3.Connection) -> list[str | None]:
            return [
                self._insert(conn, now, text, delay, m.ordering_key, m.dedup_key)
                for m, text, delay in checked
            ]

        ids = await self.db.run(lambda conn: transaction(conn, work))
        if any(mid is not None for mid in ids):
            self._wake()
        return ids

    def _insert(
        self,
        conn: sqlite3.Connection,
        now: float,
        text: str,
        delay: float,
        ordering_key: str | None,
        dedup_key: str | None,
    ) -> str | None:
        mid = uuid.uuid4().hex
        if dedup_key is not None:
            conn.execute(
                "DELETE FROM apk_dedup WHERE (queue, key) IN (SELECT queue, key "
                "FROM apk_dedup WHERE expires_at <= ? LIMIT 100)",
                (now,),
            )
            cur = conn.execute(
                "INSERT INTO apk_dedup (queue, key, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (self.name, dedup_key, now + self.dedup_window),
            )
            if cur.rowcount == 0:
                return None
        conn.execute(
            "INSERT INTO apk_queue (queue, id, body, ordering_key, enqueued_at, "
            "visible_at, head) VALUES (:q, :id, :body, :ok, :now, :vis, "
            ":ok IS NULL OR NOT EXISTS (SELECT 1 FROM apk_queue WHERE queue = :q "
            "AND ordering_key = :ok))",
            {
                "q": self.name,
                "id": mid,
                "body": text,
                "ok": ordering_key,
                "now": now,
                "vis": now + delay,
            },
        )
        return mid

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
            params = {"queue": self.name, "now": now, "expires": now + lease, "limit": max_messages}

            def work(conn: sqlite3.Connection, params: dict[str, object] = params) -> list[Row]:
                return conn.execute(_CLAIM, params).fetchall()

            with anyio.CancelScope(shield=True):  # never lose rows claimed but not returned
                rows = sorted(await self.db.run(work))
            remaining = deadline - time.monotonic()
            if rows or remaining <= 0:
                return [Message(r[1], decode(r[2]), r[3], r[4], r[5], r[6]) for r in rows]
            if self._changed is None:
                self._changed = anyio.Event()
            changed = self._changed
            (due,) = await self.db.run(
                lambda conn: conn.execute(
                    "SELECT min(visible_at) FROM apk_queue WHERE queue = ? AND head = 1",
                    (self.name,),
                ).fetchone()
            )
            if due is not None:
                remaining = min(remaining, max(due - self._clock(), 0.001))
            with anyio.move_on_after(min(remaining, self.poll_interval)):
                await changed.wait()

    async def _finish(self, message: Message, dead_reason: str | None) -> bool:
        now = self._clock()

        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "DELETE FROM apk_queue WHERE queue = ? AND id = ? AND lease_token = ? "
                "RETURNING body, attempts, ordering_key, enqueued_at",
                (self.name, message.id, message.lease_token),
            ).fetchone()
            if row is None:
                return False
            if row[2] is not None:
                conn.execute(
                    "UPDATE apk_queue SET head = 1 WHERE seq = (SELECT min(seq) FROM apk_queue "
                    "WHERE queue = ? AND ordering_key = ?)",
                    (self.name, row[2]),
                )
            if dead_reason is not None:
                conn.execute(
                    "INSERT INTO apk_dead (queue, id, body, reason, attempts, ordering_key, "
                    "enqueued_at, dead_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (self.name, message.id, row[0], dead_reason, row[1], row[2], row[3], now),
                )
            return True

        if message.ordering_key is None and dead_reason is None:
            done = await self.db.run(
                lambda conn: (
                    conn.execute(
                        "DELETE FROM apk_queue WHERE queue = ? AND id = ? AND lease_token = ? "
                        "AND ordering_key IS NULL",
                        (self.name, message.id, message.lease_token),
                    ).rowcount
                    == 1
                )
            )
            return done
        done = await self.db.run(lambda conn: transaction(conn, work))
        if done and message.ordering_key is not None:
            self._wake()
        return done

    async def ack(self, message: Message) -> bool:
        """Remove a handled message; see :meth:`MessageQueue.ack`."""
        return await self._finish(message, None)

    async def dead_letter(self, message: Message, *, reason: str) -> bool:
        """Move a message to the dead letters; see :meth:`MessageQueue.dead_letter`."""
        return await self._finish(message, str(reason))

    async def _release(self, message: Message, visible_at: float, keep_token: bool) -> bool:
        token = "lease_token" if keep_token else "NULL"

        def work(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                f"UPDATE apk_queue SET visible_at = ?, lease_token = {token} "  # noqa: S608
                "WHERE queue = ? AND id = ? AND lease_token = ?",
                (visible_at, self.name, message.id, message.lease_token),
            )
            return cur.rowcount == 1

        return await self.db.run(work)

    async def nack(self, message: Message, *, delay: float = 0.0) -> bool:
        """Release a message for redelivery; see :meth:`MessageQueue.nack`."""
        delay = check_seconds(delay, "delay")
        done = await self._release(message, self._clock() + delay, keep_token=False)
        if done:
            self._wake()
        return done

    async def extend(self, message: Message, *, lease: float) -> bool:
        """Renew a lease; see :meth:`MessageQueue.extend`."""
        lease = check_seconds(lease, "lease", positive=True)
        return await self._release(message, self._clock() + lease, keep_token=True)

    async def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        """Return the oldest ``limit`` dead letters."""
        check_count(limit, "limit")

        def work(conn: sqlite3.Connection) -> list[Row]:
            return conn.execute(
                "SELECT id, body, reason, attempts, ordering_key, enqueued_at, dead_at "
                "FROM apk_dead WHERE queue = ? ORDER BY seq LIMIT ?",
                (self.name, limit),
            ).fetchall()

        return [
            DeadLetter(r[0], decode(r[1]), r[2], r[3], r[4], r[5], r[6])
            for r in await self.db.run(work)
        ]

    async def purge_dead_letters(self) -> int:
        """Delete all dead letters of this queue."""
        return await self.db.run(
            lambda conn: conn.execute("DELETE FROM apk_dead WHERE queue = ?", (self.name,)).rowcount
        )

    async def stats(self) -> QueueStats:
        """Return counts and the oldest message's age."""
        now = self._clock()

        def work(conn: sqlite3.Connection) -> QueueStats:
            depth, ready, leased = conn.execute(
                "SELECT count(*), coalesce(sum(head = 1 AND visible_at <= :now), 0), "
                "coalesce(sum(lease_token IS NOT NULL AND visible_at > :now), 0) "
                "FROM apk_queue WHERE queue = :q",
                {"q": self.name, "now": now},
            ).fetchone()
            oldest = conn.execute(
                "SELECT enqueued_at FROM apk_queue WHERE queue = ? ORDER BY seq LIMIT 1",
                (self.name,),
            ).fetchone()
            (dead,) = conn.execute(
                "SELECT count(*) FROM apk_dead WHERE queue = ?", (self.name,)
            ).fetchone()
            return QueueStats(
                depth, ready, leased, dead, None if oldest is None else max(now - oldest[0], 0.0)
            )

        return await self.db.run(work)

    async def aclose(self) -> None:
        """Close the database connection."""
        await self.db.aclose()
        self._wake()


__all__ = ["SqliteQueue"]

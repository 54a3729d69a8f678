"""The SQLite key-value store: one table, expiry checked on read, swept on write."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from activitypub_kit.storage._base import Clock, JSONValue, Key
from activitypub_kit.storage._codec import (
    DEFAULT_MAX_VALUE_BYTES,
    check_key,
    check_seconds,
    decode,
    encode,
    key_from_text,
    key_text,
)
from activitypub_kit.storage.sqlite._db import SqliteDatabase, transaction

Row = tuple[Any, ...]
#: How many expired rows one write removes, so that expired entries do not pile up.
SWEEP_BATCH = 100
_LIVE = "(expires_at IS NULL OR expires_at > ?)"


def _sweep(conn: sqlite3.Connection, now: float) -> None:
    conn.execute(
        "DELETE FROM apk_kv WHERE k IN (SELECT k FROM apk_kv WHERE expires_at <= ? LIMIT ?)",
        (now, SWEEP_BATCH),
    )


class SqliteStore:
    """A :class:`~activitypub_kit.storage.KeyValueStore` in a SQLite file.

    Expired entries are invisible at once and deleted in batches by later writes (or all at
    once by :meth:`purge_expired`), so storage stays bounded by the live entries.
    """

    def __init__(
        self,
        path: str | Path | SqliteDatabase,
        *,
        clock: Clock | None = None,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    ) -> None:
        self.db = path if isinstance(path, SqliteDatabase) else SqliteDatabase(path)
        self._clock = clock or time.time
        self._limit = max_value_bytes

    def _expiry(self, ttl: float | None) -> float | None:
        if ttl is None:
            return None
        return self._clock() + check_seconds(ttl, "ttl", positive=True)

    async def get(self, key: Key) -> JSONValue | None:
        """Return the value under ``key``, or ``None``."""
        k, now = key_text(check_key(key)), self._clock()
        row = await self.db.run(
            lambda conn: conn.execute(
                f"SELECT v FROM apk_kv WHERE k = ? AND {_LIVE}",  # noqa: S608
                (k, now),
            ).fetchone()
        )
        return None if row is None else decode(row[0])

    async def set(self, key: Key, value: JSONValue, *, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``, optionally expiring after ``ttl`` seconds."""
        k = key_text(check_key(key))
        text = encode(value, limit=self._limit)
        expires, now = self._expiry(ttl), self._clock()

        def work(conn: sqlite3.Connection) -> None:
            _sweep(conn, now)
            conn.execute(
                "INSERT INTO apk_kv (k, v, expires_at) VALUES (?, ?, ?) ON CONFLICT (k) "
                "DO UPDATE SET v = excluded.v, expires_at = excluded.expires_at",
                (k, text, expires),
            )

        await self.db.run(lambda conn: transaction(conn, work))

    async def delete(self, key: Key) -> None:
        """Remove ``key`` if present."""
        k = key_text(check_key(key))
        await self.db.run(lambda conn: conn.execute("DELETE FROM apk_kv WHERE k = ?", (k,)))

    async def cas(
        self,
        key: Key,
        expected: JSONValue | None,
        new: JSONValue | None,
        *,
        ttl: float | None = None,
    ) -> bool:
        """Replace ``expected`` by ``new`` atomically; see the protocol."""
        k = key_text(check_key(key))
        want = None if expected is None else encode(expected, limit=self._limit)
        text = None if new is None else encode(new, limit=self._limit)
        expires, now = self._expiry(ttl), self._clock()

        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                f"SELECT v FROM apk_kv WHERE k = ? AND {_LIVE}",  # noqa: S608
                (k, now),
            ).fetchone()
            if (None if row is None else row[0]) != want:
                return False
            if text is None:
                conn.execute("DELETE FROM apk_kv WHERE k = ?", (k,))
            else:
                conn.execute(
                    "INSERT INTO apk_kv (k, v, expires_at) VALUES (?, ?, ?) ON CONFLICT (k) "
                    "DO UPDATE SET v = excluded.v, expires_at = excluded.expires_at",
                    (k, text, expires),
                )
            return True

        return await self.db.run(lambda conn: transaction(conn, work))

    async def purge_expired(self) -> int:
        """Delete every expired entry now; return how many."""
        now = self._clock()
        return await self.db.run(
            lambda conn: conn.execute("DELETE FROM apk_kv WHERE expires_at <= ?", (now,)).rowcount
        )

    async def aclose(self) -> None:
        """Close the database connection."""
        await self.db.aclose()

    async def list(self, prefix: Key) -> AsyncIterator[tuple[Key, JSONValue]]:
        """Yield live entries whose key starts with ``prefix``, in key order, in pages."""
        low = key_text(check_key(prefix, allow_empty=True))
        high = low + "\x7f"
        op = ">="
        while True:
            now = self._clock()
            sql = (
                f"SELECT k, v FROM apk_kv WHERE k {op} ? AND k < ? AND {_LIVE} "  # noqa: S608
                "ORDER BY k LIMIT 500"
            )
            args = (low, high, now)

            def page(conn: sqlite3.Connection, sql: str = sql, args: Row = args) -> list[Row]:
                return conn.execute(sql, args).fetchall()

            rows = await self.db.run(page)
            op = ">"
            for k, v in rows:
                yield key_from_text(k), decode(v)
            if len(rows) < 500:
                return
            low = rows[-1][0]


__all__ = ["SqliteStore"]

"""The PostgreSQL key-value store: one table, expiry checked on read, swept on write."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import psycopg_pool

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
from activitypub_kit.storage.postgres._db import PostgresDatabase

_LIVE = "(expires_at IS NULL OR expires_at > %(now)s)"
_UPSERT = (
    "INSERT INTO {s}.apk_kv AS t (k, v, expires_at) VALUES (%(k)s, %(v)s, %(exp)s)"
    " ON CONFLICT (k) DO UPDATE SET v = excluded.v, expires_at = excluded.expires_at"
)
#: Every this many writes, one write also deletes up to 500 expired entries.
SWEEP_EVERY = 50


class PostgresStore:
    """A :class:`~activitypub_kit.storage.KeyValueStore` in PostgreSQL.

    Keys are stored as text with the ``"C"`` collation, so a prefix listing is an index
    range scan.  Expired entries are invisible at once and swept in batches by later writes
    (or all at once by :meth:`purge_expired`).
    """

    def __init__(
        self,
        conninfo: str | psycopg_pool.AsyncConnectionPool | PostgresDatabase,
        *,
        schema: str = "activitypub_kit",
        clock: Clock | None = None,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
        pool_max_size: int = 10,
    ) -> None:
        self.db = (
            conninfo
            if isinstance(conninfo, PostgresDatabase)
            else PostgresDatabase(conninfo, schema=schema, max_size=pool_max_size)
        )
        self._clock = clock or time.time
        self._limit = max_value_bytes
        self._writes = 0

    def _expiry(self, ttl: float | None) -> float | None:
        if ttl is None:
            return None
        return self._clock() + check_seconds(ttl, "ttl", positive=True)

    async def get(self, key: Key) -> JSONValue | None:
        """Return the value under ``key``, or ``None``."""
        params = {"k": key_text(check_key(key)), "now": self._clock()}
        async with self.db.connection() as conn:
            cur = await conn.execute(
                self.db.q(f"SELECT v FROM {{s}}.apk_kv WHERE k = %(k)s AND {_LIVE}"),  # noqa: S608
                params,
            )
            row = await cur.fetchone()
        return None if row is None else decode(row[0])

    async def set(self, key: Key, value: JSONValue, *, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``, optionally expiring after ``ttl`` seconds."""
        k = key_text(check_key(key))
        params = {"k": k, "v": encode(value, limit=self._limit), "exp": self._expiry(ttl)}
        async with self.db.connection() as conn:
            await self._maybe_sweep(conn)
            await conn.execute(self.db.q(_UPSERT), params)

    async def _maybe_sweep(self, conn: object) -> None:
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            await conn.execute(  # type: ignore[attr-defined]
                self.db.q(
                    "DELETE FROM {s}.apk_kv WHERE k IN (SELECT k FROM {s}.apk_kv"
                    " WHERE expires_at <= %s LIMIT 500)"
                ),
                (self._clock(),),
            )

    async def delete(self, key: Key) -> None:
        """Remove ``key`` if present."""
        k = key_text(check_key(key))
        async with self.db.connection() as conn:
            await conn.execute(self.db.q("DELETE FROM {s}.apk_kv WHERE k = %s"), (k,))

    async def cas(
        self,
        key: Key,
        expected: JSONValue | None,
        new: JSONValue | None,
        *,
        ttl: float | None = None,
    ) -> bool:
        """Replace ``expected`` by ``new`` atomically (one statement); see the protocol."""
        params = {
            "k": key_text(check_key(key)),
            "old": None if expected is None else encode(expected, limit=self._limit),
            "v": None if new is None else encode(new, limit=self._limit),
            "exp": self._expiry(ttl),
            "now": self._clock(),
        }
        if expected is None and new is None:
            return await self.get(key) is None
        if expected is None:
            statement = _UPSERT + " WHERE t.expires_at IS NOT NULL AND t.expires_at <= %(now)s"
        elif new is None:
            statement = f"DELETE FROM {{s}}.apk_kv WHERE k = %(k)s AND v = %(old)s AND {_LIVE}"  # noqa: S608
        else:
            statement = (
                "UPDATE {s}.apk_kv SET v = %(v)s, expires_at = %(exp)s"  # noqa: S608
                f" WHERE k = %(k)s AND v = %(old)s AND {_LIVE}"
            )
        async with self.db.connection() as conn:
            cur = await conn.execute(self.db.q(statement), params)
            return cur.rowcount == 1

    async def purge_expired(self) -> int:
        """Delete every expired entry now; return how many."""
        async with self.db.connection() as conn:
            cur = await conn.execute(
                self.db.q("DELETE FROM {s}.apk_kv WHERE expires_at <= %s"), (self._clock(),)
            )
            return cur.rowcount

    async def aclose(self) -> None:
        """Close the pool if this store created it."""
        await self.db.aclose()

    async def list(self, prefix: Key) -> AsyncIterator[tuple[Key, JSONValue]]:
        """Yield live entries whose key starts with ``prefix``, in key order, in pages."""
        low = key_text(check_key(prefix, allow_empty=True))
        params: dict[str, object] = {"low": low, "high": low + "\x7f"}
        op = ">="
        while True:
            params["now"] = self._clock()
            async with self.db.connection() as conn:
                cur = await conn.execute(
                    self.db.q(
                        f"SELECT k, v FROM {{s}}.apk_kv WHERE k {op} %(low)s AND k < %(high)s"  # noqa: S608
                        f" AND {_LIVE} ORDER BY k LIMIT 500"
                    ),
                    params,
                )
                rows = await cur.fetchall()
            for k, v in rows:
                yield key_from_text(k), decode(v)
            if len(rows) < 500:
                return
            params["low"], op = rows[-1][0], ">"


__all__ = ["PostgresStore"]

"""The Redis key-value store: one Redis string per entry, native TTLs."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import redis.asyncio as aioredis

from activitypub_kit.storage._base import JSONValue, Key
from activitypub_kit.storage._codec import (
    DEFAULT_MAX_VALUE_BYTES,
    check_key,
    check_seconds,
    decode,
    encode,
    key_from_text,
    key_text,
)
from activitypub_kit.storage.redis import _scripts as scripts
from activitypub_kit.storage.redis._client import RedisConnection, escape_glob


def _ttl_ms(ttl: float | None) -> int | None:
    if ttl is None:
        return None
    return max(1, math.ceil(check_seconds(ttl, "ttl", positive=True) * 1000))


class RedisStore:
    """A :class:`~activitypub_kit.storage.KeyValueStore` in Redis.

    Entries expire by Redis's own TTL (so this store takes no clock).  :meth:`list` walks
    the prefix with ``SCAN``, which visits the whole keyspace: keep it for small namespaces
    and maintenance, not for hot paths.
    """

    def __init__(
        self,
        url_or_client: str | aioredis.Redis,
        *,
        prefix: str = "activitypub_kit:",
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    ) -> None:
        self.conn = RedisConnection(url_or_client, prefix=prefix)
        self.key_prefix = prefix + "kv:"
        self._limit = max_value_bytes
        self._cas = self.conn.script(scripts.CAS)

    def _key(self, key: Key) -> str:
        return self.key_prefix + key_text(check_key(key))

    async def get(self, key: Key) -> JSONValue | None:
        """Return the value under ``key``, or ``None``."""
        k = self._key(key)
        async with self.conn.errors() as client:
            text = await client.get(k)
        return None if text is None else decode(text)

    async def set(self, key: Key, value: JSONValue, *, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``, optionally expiring after ``ttl`` seconds."""
        k, text, px = self._key(key), encode(value, limit=self._limit), _ttl_ms(ttl)
        async with self.conn.errors() as client:
            await client.set(k, text, px=px)

    async def delete(self, key: Key) -> None:
        """Remove ``key`` if present."""
        k = self._key(key)
        async with self.conn.errors() as client:
            await client.delete(k)

    async def cas(
        self,
        key: Key,
        expected: JSONValue | None,
        new: JSONValue | None,
        *,
        ttl: float | None = None,
    ) -> bool:
        """Replace ``expected`` by ``new`` atomically (a Lua script); see the protocol."""
        k = self._key(key)
        old = "" if expected is None else encode(expected, limit=self._limit)
        text = "" if new is None else encode(new, limit=self._limit)
        px = _ttl_ms(ttl)
        args = ["0" if expected is None else "1", old, "0" if new is None else "1", text]
        args.append("" if px is None else str(px))
        async with self.conn.errors():
            return bool(await self._cas(keys=[k], args=args))

    async def aclose(self) -> None:
        """Close the client if this store created it."""
        await self.conn.aclose()

    async def list(self, prefix: Key) -> AsyncIterator[tuple[Key, JSONValue]]:
        """Yield live entries whose key starts with ``prefix``, in key order."""
        start = self.key_prefix + key_text(check_key(prefix, allow_empty=True))
        async with self.conn.errors() as client:
            names = sorted(
                {n async for n in client.scan_iter(match=escape_glob(start) + "*", count=500)}
            )
        for i in range(0, len(names), 500):
            chunk = names[i : i + 500]
            async with self.conn.errors() as client:
                values = await client.mget(chunk)
            for name, text in zip(chunk, values, strict=True):
                if text is not None:
                    yield key_from_text(name[len(self.key_prefix) :]), decode(text)


__all__ = ["RedisStore"]

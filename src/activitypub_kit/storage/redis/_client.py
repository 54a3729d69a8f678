"""The Redis connection shared by the Redis store and queue, and its error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from activitypub_kit.errors import (
    SchemaVersionError,
    StorageClosedError,
    StorageConnectionError,
    StorageError,
)

#: The schema version of the Redis key layout; recorded under ``<prefix>meta``.
SCHEMA_VERSION = 1


class RedisConnection:
    """A ``redis.asyncio`` client made from a URL (and closed by us) or given by the caller.

    A given client must be created with ``decode_responses=True``.  A client made here
    retries a failed command up to 3 times with short backoff, then fails with
    :class:`~activitypub_kit.errors.StorageConnectionError`.
    """

    def __init__(self, url_or_client: str | aioredis.Redis, *, prefix: str) -> None:
        if isinstance(url_or_client, str):
            self.client: aioredis.Redis = aioredis.Redis.from_url(
                url_or_client,
                decode_responses=True,
                socket_connect_timeout=5,
                retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
                retry_on_error=[RedisConnectionError, RedisTimeoutError],
            )
            self._owned = True
        else:
            kwargs = url_or_client.connection_pool.connection_kwargs
            if not kwargs.get("decode_responses"):
                raise ValueError("the Redis client must be created with decode_responses=True")
            self.client, self._owned = url_or_client, False
        self.prefix = prefix
        self._closed = False
        self._checked = False

    @asynccontextmanager
    async def errors(self) -> AsyncIterator[aioredis.Redis]:
        """Yield the client; Redis errors raised inside become :class:`StorageError`."""
        if self._closed:
            raise StorageClosedError(f"Redis storage under prefix {self.prefix!r} is closed")
        try:
            if not self._checked:
                await self._check_schema()
            yield self.client
        except StorageError:
            raise
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StorageConnectionError(f"Redis connection failed: {exc}") from exc
        except RedisError as exc:
            raise StorageError(f"Redis error: {type(exc).__name__}: {exc}") from exc

    async def _check_schema(self) -> None:
        key = f"{self.prefix}meta"
        await self.client.hsetnx(key, "schema_version", str(SCHEMA_VERSION))
        stored = int(await self.client.hget(key, "schema_version") or 0)
        if stored > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"Redis prefix {self.prefix!r} has layout version {stored}, newer than this "
                f"library's {SCHEMA_VERSION}; upgrade activitypub_kit"
            )
        self._checked = True

    def script(self, source: str) -> Any:
        """Register a Lua script on the client."""
        return self.client.register_script(source)

    async def aclose(self) -> None:
        """Close the client if we created it."""
        self._closed = True
        if self._owned:
            await self.client.aclose()


def escape_glob(text: str) -> str:
    """Escape ``text`` for a Redis ``MATCH`` pattern."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


__all__ = ["SCHEMA_VERSION", "RedisConnection", "escape_glob"]

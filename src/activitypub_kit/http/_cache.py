"""A cache of fetched documents and keys, with a TTL on every entry and negative caching.

The cache sits on the :class:`~activitypub_kit.storage._base.KeyValueStore` interface, so a
deployment shares it through whichever backend it uses (Redis, PostgreSQL...): the
``Federation`` caches in its own store, so its processes fetch a document once between them.
Without a store, a small in-process store is used.  Failures are cached too (for
``failure_ttl``), so a hostile or broken URL - a key id that never answers, a document on a
refused address - is not fetched again on every request that mentions it.

The cache is an optimisation: a store that refuses an entry (too large) or fails is logged
and the fetch goes on without it.  URLs longer than :data:`MAX_KEY_URL` are keyed by their
SHA-256 (store keys are bounded).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, cast

from activitypub_kit import errors
from activitypub_kit._cache import BoundedCache
from activitypub_kit.errors import (
    ActivityPubError,
    FetchBudgetExhaustedError,
    FetchError,
    StorageError,
)
from activitypub_kit.storage._base import JSONValue, Key, KeyValueStore

logger = logging.getLogger("activitypub_kit.http._cache")

#: Longest URL used as it is in a cache key; longer ones are keyed by their SHA-256.
MAX_KEY_URL = 512


class _LocalStore:
    """A minimal in-process :class:`KeyValueStore` (the default when none is given).

    It holds at most ``max_entries`` (a :class:`~activitypub_kit._cache.BoundedCache`):
    when full, the least recently used entry goes, so a flood of distinct URLs cannot grow
    it without bound; expired entries are never answered.
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000
    ) -> None:
        self._data: BoundedCache[Key, str] = BoundedCache(max_entries, clock=clock)

    @property
    def max_entries(self) -> int:
        """The most entries held."""
        return self._data.maxsize

    def _live(self, key: Key) -> str | None:
        return self._data.get(key)

    async def get(self, key: Key) -> JSONValue | None:
        text = self._live(key)
        return None if text is None else cast(JSONValue, json.loads(text))

    async def set(self, key: Key, value: JSONValue, *, ttl: float | None = None) -> None:
        self._data.set(key, json.dumps(value), ttl=ttl)

    async def delete(self, key: Key) -> None:
        self._data.pop(key)

    async def list(self, prefix: Key) -> AsyncIterator[tuple[Key, JSONValue]]:
        for key, text in self._data.items():
            if key[: len(prefix)] == prefix:
                yield key, cast(JSONValue, json.loads(text))

    async def cas(
        self,
        key: Key,
        expected: JSONValue | None,
        new: JSONValue | None,
        *,
        ttl: float | None = None,
    ) -> bool:
        current = await self.get(key)
        if current != expected:
            return False
        if new is None:
            await self.delete(key)
        else:
            await self.set(key, new, ttl=ttl)
        return True


@dataclass(frozen=True)
class CachedValue:
    """A cache hit: the stored document and when (wall-clock seconds) it was fetched."""

    value: dict[str, Any]
    fetched_at: float


class FetchCache:
    """Documents and keys by URL, each entry with a TTL; failures cached for a while.

    ``document_ttl`` and ``key_ttl`` (seconds) bound how long a fetched document or key
    is reused; ``failure_ttl`` how long a failed fetch is answered from the cache.
    """

    def __init__(
        self,
        store: KeyValueStore | None = None,
        *,
        document_ttl: float = 3600.0,
        key_ttl: float = 86400.0,
        failure_ttl: float = 300.0,
        clock: Callable[[], float] = time.time,
        namespace: str = "activitypub_kit",
    ) -> None:
        if min(document_ttl, key_ttl, failure_ttl) <= 0:
            raise ValueError("every cache TTL must be positive")
        self.store: KeyValueStore = store if store is not None else _LocalStore()
        self.document_ttl = document_ttl
        self.key_ttl = key_ttl
        self.failure_ttl = failure_ttl
        self.clock = clock
        self.namespace = namespace

    def _key(self, kind: str, url: str) -> Key:
        if len(url) > MAX_KEY_URL:
            url = "sha256:" + hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()
        return (self.namespace, "fetch", kind, url)

    async def _write(self, kind: str, url: str, entry: dict[str, JSONValue], ttl: float) -> None:
        try:
            await self.store.set(self._key(kind, url), entry, ttl=ttl)
        except StorageError as error:
            logger.warning("not cached: %s %s (%s)", kind, url[:200], error)

    async def get(self, kind: str, url: str) -> CachedValue | None:
        """The cached ``kind`` entry for ``url``; a cached failure is raised again."""
        try:
            entry = await self.store.get(self._key(kind, url))
        except StorageError as error:
            logger.warning("cache unavailable for %s %s (%s)", kind, url[:200], error)
            return None
        if not isinstance(entry, dict):
            return None
        if "error" in entry:
            raise _rebuild_error(entry)
        value = entry.get("value")
        if not isinstance(value, dict):
            return None
        return CachedValue(copy.deepcopy(dict(value)), float(cast(float, entry.get("at", 0.0))))

    async def put(self, kind: str, url: str, value: dict[str, Any]) -> None:
        """Cache a fetched ``value`` under ``url`` for the TTL of its ``kind``."""
        ttl = self.key_ttl if kind == "key" else self.document_ttl
        entry: dict[str, JSONValue] = {"at": self.clock(), "value": value}
        await self._write(kind, url, entry, ttl)

    async def put_failure(self, kind: str, url: str, error: FetchError) -> None:
        """Remember that fetching ``url`` failed with ``error`` (for ``failure_ttl``).

        An exhausted budget says nothing about the URL, so it is never cached.
        """
        if isinstance(error, FetchBudgetExhaustedError):
            return
        attributes = {
            name: value
            for name, value in vars(error).items()
            if name != "message" and isinstance(value, str | int | float | bool)
        }
        entry: dict[str, JSONValue] = {
            "at": self.clock(),
            "error": type(error).__name__,
            "message": error.message,
            "attributes": attributes,
        }
        await self._write(kind, url, entry, self.failure_ttl)

    async def forget(self, kind: str, url: str) -> None:
        """Drop the ``kind`` entry of ``url`` (value or failure)."""
        try:
            await self.store.delete(self._key(kind, url))
        except StorageError as error:
            logger.warning("cache entry not dropped: %s %s (%s)", kind, url[:200], error)


def _rebuild_error(entry: dict[str, Any]) -> FetchError:
    """Recreate a cached failure as the same error class, marked as cached."""
    cls = getattr(errors, str(entry.get("error")), FetchError)
    if not (isinstance(cls, type) and issubclass(cls, FetchError)):
        cls = FetchError
    error = cls.__new__(cls)
    ActivityPubError.__init__(error, f"{entry.get('message', 'fetch failed')} (cached failure)")
    attributes = entry.get("attributes")
    if isinstance(attributes, dict):
        for name, value in attributes.items():
            setattr(error, str(name), value)
    return error


__all__ = ["CachedValue", "FetchCache", "MAX_KEY_URL"]

"""The one bounded in-process cache: least recently used out first, entries may expire.

Every in-process cache of the library that is not a ``functools.lru_cache`` over a pure
function is a :class:`BoundedCache`: decoded keys and recently verified keys of the inbox,
local key pairs, the fetch cache's default store, the HTTP client's prepared requests, the
inline-context verdicts.  One class gives them one eviction rule and one expiry rule, both
testable with an injected clock.

It is a thin layer over :class:`collections.OrderedDict`, whose lookups and reordering run
in C: a hit is a dictionary lookup, one clock read when the entry can expire, and a move to
the recent end.  ``cachetools`` offers the same (``LRUCache``, ``TTLCache``, ``TLRUCache``)
but reads its timer twice per ``get`` through Python-level wrappers; measured in the same run
(``benchmarks/caches.py``) a TTL hit costs several times more there, on the path every
signed inbox POST takes.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: A monotonic clock in seconds (``time.monotonic`` unless a test injects its own).
Clock = Callable[[], float]


class _Default:
    """Marks "use the cache's own TTL" in :meth:`BoundedCache.set`."""


_CACHE_TTL = _Default()


class BoundedCache(Generic[K, V]):
    """At most ``maxsize`` entries; the least recently used one goes when room is needed.

    With ``ttl`` (seconds), an entry expires that long after it was stored: it is never
    returned again and is dropped when met.  :meth:`set` can give one entry its own TTL
    (``None``: never expires).  ``ttl=0`` keeps nothing (every :meth:`get` misses), so a
    caller can turn its cache off with the same object.  ``clock`` reads the time for
    expiry (monotonic seconds; tests pass a fake one).  Reads that hit (:meth:`get`) count
    as a use; :meth:`peek` reads without reordering.  Not thread-safe, like the event loop
    code that uses it.
    """

    __slots__ = ("_data", "clock", "maxsize", "ttl")

    def __init__(self, maxsize: int, *, ttl: float | None = None, clock: Clock = time.monotonic):
        if maxsize < 1:
            raise ValueError("a bounded cache holds at least one entry")
        if ttl is not None and ttl < 0:
            raise ValueError("a cache TTL must not be negative")
        #: The most entries held at once.
        self.maxsize = maxsize
        #: Seconds an entry lives after :meth:`set` (``None``: until evicted).
        self.ttl = ttl
        #: The clock expiry is measured with.
        self.clock = clock
        self._data: OrderedDict[K, tuple[V, float | None]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The live value of ``key`` (now the most recently used), or ``None``."""
        entry = self._data.get(key)
        if entry is None:
            return None
        expires = entry[1]
        if expires is not None and expires <= self.clock():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return entry[0]

    def peek(self, key: K) -> V | None:
        """Like :meth:`get`, without counting as a use (the eviction order is unchanged)."""
        entry = self._data.get(key)
        if entry is None:
            return None
        expires = entry[1]
        if expires is not None and expires <= self.clock():
            del self._data[key]
            return None
        return entry[0]

    def set(self, key: K, value: V, *, ttl: float | _Default | None = _CACHE_TTL) -> None:
        """Store ``value`` under ``key`` as the most recently used entry.

        ``ttl`` overrides the cache's TTL for this entry (``None``: never expires); a TTL of
        zero or less stores nothing (and drops an older value of ``key``).
        """
        lifetime = self.ttl if isinstance(ttl, _Default) else ttl
        data = self._data
        if lifetime is not None and lifetime <= 0:
            data.pop(key, None)
            return
        expires = None if lifetime is None else self.clock() + lifetime
        if key in data:
            data.move_to_end(key)
        elif len(data) >= self.maxsize:
            data.popitem(last=False)
        data[key] = (value, expires)

    def pop(self, key: K) -> V | None:
        """Remove ``key``; its live value, or ``None``."""
        entry = self._data.pop(key, None)
        if entry is None or (entry[1] is not None and entry[1] <= self.clock()):
            return None
        return entry[0]

    def clear(self) -> None:
        """Remove every entry."""
        self._data.clear()

    def expire(self) -> None:
        """Drop every expired entry now (they are otherwise dropped when met)."""
        now = self.clock()
        for key, (_, expires) in list(self._data.items()):
            if expires is not None and expires <= now:
                del self._data[key]

    def items(self) -> Iterator[tuple[K, V]]:
        """The live entries, least recently used first (a snapshot: the cache may change)."""
        now = self.clock()
        for key, (value, expires) in list(self._data.items()):
            if expires is None or expires > now:
                yield key, value

    def __contains__(self, key: object) -> bool:
        entry = self._data.get(key)  # type: ignore[arg-type]
        return entry is not None and (entry[1] is None or entry[1] > self.clock())

    def __len__(self) -> int:
        """Entries held, expired ones not yet dropped included (the bound applies to these)."""
        return len(self._data)


__all__ = ["BoundedCache", "Clock"]

"""The storage interfaces every backend implements.

Keys are tuples of strings (``("cache", "actor", url)``); values are JSON-compatible
(``None``, ``bool``, ``int``, ``float``, ``str``, lists and string-keyed dicts of these).
Backends must treat values as opaque JSON and must never share mutable state with the caller
(a value read back is a fresh copy).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Protocol, TypeAlias, runtime_checkable

#: A JSON-compatible value.
JSONValue: TypeAlias = (
    bool | int | float | str | Sequence["JSONValue"] | Mapping[str, "JSONValue"] | None
)
#: A key in a :class:`KeyValueStore`: a non-empty tuple of strings.
Key: TypeAlias = tuple[str, ...]


@runtime_checkable
class KeyValueStore(Protocol):
    """An async key-value store with optional per-entry time-to-live."""

    async def get(self, key: Key) -> JSONValue | None:
        """Return the value stored under ``key``, or ``None`` if absent or expired."""
        ...

    async def set(self, key: Key, value: JSONValue, *, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``; with ``ttl`` (seconds) it expires after that."""
        ...

    async def delete(self, key: Key) -> None:
        """Remove ``key``; removing an absent key is not an error."""
        ...

    def list(self, prefix: Key) -> AsyncIterator[tuple[Key, JSONValue]]:
        """Yield every live ``(key, value)`` whose key starts with ``prefix``."""
        ...

    async def cas(
        self,
        key: Key,
        expected: JSONValue | None,
        new: JSONValue | None,
        *,
        ttl: float | None = None,
    ) -> bool:
        """Atomically replace ``expected`` by ``new``; return whether it happened.

        If the current value equals ``expected`` (``None``: absent), store ``new``
        (``None``: delete) and return ``True``; otherwise change nothing and return ``False``.
        """
        ...


__all__ = ["JSONValue", "Key", "KeyValueStore"]

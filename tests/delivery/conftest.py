from __future__ import annotations

import copy
from collections.abc import AsyncIterator

import pytest


class DictStore:
    """A minimal KeyValueStore (TTL by an injected clock) until the storage backends land."""

    def __init__(self, clock):
        self.clock = clock
        self.data: dict[tuple[str, ...], tuple[object, float | None]] = {}
        self.ttls: list[float | None] = []

    def _live(self, key):
        item = self.data.get(key)
        if item is None:
            return None
        _value, expires = item
        if expires is not None and self.clock() >= expires:
            del self.data[key]
            return None
        return item

    async def get(self, key):
        item = self._live(key)
        return None if item is None else copy.deepcopy(item[0])

    async def set(self, key, value, *, ttl=None):
        self.ttls.append(ttl)
        self.data[key] = (copy.deepcopy(value), None if ttl is None else self.clock() + ttl)

    async def delete(self, key):
        self.data.pop(key, None)

    async def list(self, prefix) -> AsyncIterator:
        for key in list(self.data):
            item = self._live(key)
            if item is not None and key[: len(prefix)] == prefix:
                yield key, copy.deepcopy(item[0])

    async def cas(self, key, expected, new, *, ttl=None):
        item = self._live(key)
        if (None if item is None else item[0]) != expected:
            return False
        if new is None:
            self.data.pop(key, None)
        else:
            await self.set(key, new, ttl=ttl)
        return True


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def kv(clock) -> DictStore:
    return DictStore(clock)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

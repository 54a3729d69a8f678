"""The conformance suite every :class:`~activitypub_kit.storage.KeyValueStore` must pass.

Subclass :class:`StoreConformance` and provide a ``store_factory`` fixture: an async
function ``make(*, clock, max_value_bytes=DEFAULT_MAX_VALUE_BYTES)`` returning a store, the
fixture closing it and removing the test's data afterwards.  The store should honour
``clock`` for TTLs; a store with native TTLs may ignore it (the TTL tests then wait, with a
deadline, for real time to pass).  Tests write only under a per-test key root.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from activitypub_kit.errors import InvalidKeyError, MessageTooLargeError, SerializationError
from activitypub_kit.storage._base import Key, KeyValueStore
from activitypub_kit.testing._clock import FakeClock, wait_until
from activitypub_kit.testing._queue_suite import SAMPLES

StoreFactory = Callable[..., Awaitable[KeyValueStore]]


async def _listed(store: KeyValueStore, prefix: Key) -> list[tuple[Key, Any]]:
    return [item async for item in store.list(prefix)]


class StoreConformance:
    """Behaviour shared by every key-value store backend (see the module docstring)."""

    @pytest.fixture
    def anyio_backend(self) -> str:
        """The suite runs on asyncio (the PostgreSQL and Redis drivers need it)."""
        return "asyncio"

    @pytest.fixture
    def clock(self) -> FakeClock:
        """The fake clock handed to every store of a test."""
        return FakeClock()

    @pytest.fixture
    async def store(self, store_factory: StoreFactory, clock: FakeClock) -> KeyValueStore:
        """A store for the test."""
        return await store_factory(clock=clock)

    @pytest.fixture
    def root(self) -> str:
        """A key part unique to the test, so tests never see each other's keys."""
        return f"test-{uuid.uuid4().hex}"

    @pytest.mark.anyio
    async def test_set_get_overwrite_delete(self, store: KeyValueStore, root: str) -> None:
        """Set get overwrite delete."""
        assert await store.get((root, "missing")) is None
        for index, value in enumerate(SAMPLES):
            await store.set((root, str(index)), value)
        for index, value in enumerate(SAMPLES):
            assert await store.get((root, str(index))) == value
        await store.set((root, "1"), {"replaced": True})
        assert await store.get((root, "1")) == {"replaced": True}
        await store.delete((root, "1"))
        assert await store.get((root, "1")) is None
        await store.delete((root, "1"))  # absent: not an error

    @pytest.mark.anyio
    async def test_values_are_copies(self, store: KeyValueStore, root: str) -> None:
        """Values are copies."""
        value = {"a": [1]}
        await store.set((root,), value)
        value["a"].append(2)
        got = await store.get((root,))
        assert got == {"a": [1]}
        assert isinstance(got, dict)
        got["a"].append(3)
        assert await store.get((root,)) == {"a": [1]}

    @pytest.mark.anyio
    async def test_list_by_prefix(self, store: KeyValueStore, root: str) -> None:
        """List by prefix."""
        keys: list[Key] = [
            (root, "a"),
            (root, "a", "b"),
            (root, "a", "c", "d"),
            (root, "ab"),
            (root, "b"),
            (root, 'quote"and\\slash', "\u2603"),
            (root + "x", "a"),
        ]
        for index, key in enumerate(keys):
            await store.set(key, index)
        assert await _listed(store, (root, "a")) == [(keys[0], 0), (keys[1], 1), (keys[2], 2)]
        everything = await _listed(store, (root,))
        assert sorted(everything) == sorted((k, i) for i, k in enumerate(keys[:6]))
        assert await _listed(store, (root, 'quote"and\\slash')) == [(keys[5], 5)]
        assert await _listed(store, (root, "zzz")) == []

    @pytest.mark.anyio
    async def test_ttl_expires_entries(
        self, store: KeyValueStore, clock: FakeClock, root: str
    ) -> None:
        """Ttl expires entries."""
        await store.set((root, "short"), "v", ttl=1.0)
        await store.set((root, "long"), "v", ttl=3600)
        await store.set((root, "forever"), "v")
        assert await store.get((root, "short")) == "v"
        clock.advance(1.5)

        async def expired() -> bool:
            return await store.get((root, "short")) is None

        await wait_until(expired, message="TTL expiry")
        assert await _listed(store, (root,)) == [((root, "forever"), "v"), ((root, "long"), "v")]
        await store.set((root, "long"), "w")  # a plain set removes the TTL
        clock.advance(7200)
        assert await store.get((root, "long")) == "w"

    @pytest.mark.anyio
    async def test_compare_and_set(self, store: KeyValueStore, root: str) -> None:
        """Compare and set."""
        key = (root, "counter")
        assert await store.cas(key, None, 1)
        assert not await store.cas(key, None, 2)
        assert not await store.cas(key, 5, 2)
        assert await store.get(key) == 1
        assert await store.cas(key, 1, {"n": 2})
        assert await store.get(key) == {"n": 2}
        assert await store.cas(key, {"n": 2}, None)
        assert await store.get(key) is None
        assert await store.cas(key, None, None)

    @pytest.mark.anyio
    async def test_compare_and_set_treats_expired_as_absent(
        self, store: KeyValueStore, clock: FakeClock, root: str
    ) -> None:
        """Compare and set treats expired as absent."""
        key = (root, "lock")
        assert await store.cas(key, None, "holder-1", ttl=1.0)
        assert not await store.cas(key, None, "holder-2", ttl=1.0)
        clock.advance(1.5)

        async def taken_over() -> bool:
            return await store.cas(key, None, "holder-2", ttl=60)

        await wait_until(taken_over, message="expired entry replaced by cas")
        assert await store.get(key) == "holder-2"

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        "value", [{1}, object(), float("nan"), [b"x"]], ids=["set", "object", "nan", "bytes"]
    )
    async def test_unserialisable_value_is_refused(
        self, store: KeyValueStore, root: str, value: Any
    ) -> None:
        """Unserialisable value is refused."""
        await store.set((root,), "kept")
        with pytest.raises(SerializationError, match="not JSON-serialisable"):
            await store.set((root,), value)
        with pytest.raises(SerializationError):
            await store.cas((root,), "kept", value)
        assert await store.get((root,)) == "kept"

    @pytest.mark.anyio
    async def test_oversized_value_is_refused(
        self, store_factory: StoreFactory, clock: FakeClock, root: str
    ) -> None:
        """Oversized value is refused."""
        store = await store_factory(clock=clock, max_value_bytes=100)
        await store.set((root,), "x" * 98)
        with pytest.raises(MessageTooLargeError, match="101 bytes"):
            await store.set((root,), "x" * 99)
        assert await store.get((root,)) == "x" * 98

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        "key",
        [(), "a", ["a"], ("a", 1), ("a", None), ("x" * 2000,)],
        ids=["empty", "str", "list", "int-part", "none-part", "too-long"],
    )
    async def test_bad_keys_are_refused(self, store: KeyValueStore, key: Any) -> None:
        """Bad keys are refused."""
        with pytest.raises(InvalidKeyError):
            await store.set(key, 1)
        with pytest.raises(InvalidKeyError):
            await store.get(key)


__all__ = ["StoreConformance", "StoreFactory"]

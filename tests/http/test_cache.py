"""The fetch cache: TTLs, rebuilt failures, the bounded in-process store."""

from __future__ import annotations

import pytest

from activitypub_kit.errors import AddressRefusedError, FetchBudgetExhaustedError, HttpStatusError
from activitypub_kit.http import FetchCache
from activitypub_kit.http._cache import _LocalStore

pytestmark = pytest.mark.anyio


async def test_failures_come_back_as_the_same_error_with_their_details() -> None:
    now = [100.0]
    cache = FetchCache(_LocalStore(clock=lambda: now[0]), failure_ttl=30, clock=lambda: now[0])
    await cache.put_failure(
        "doc", "https://x.test/a", AddressRefusedError("x.test", "10.0.0.1", "a private address")
    )
    await cache.put_failure(
        "doc",
        "https://x.test/b",
        HttpStatusError("GET https://x.test/b answered 500", status_code=500),
    )
    with pytest.raises(AddressRefusedError, match="cached failure") as caught:
        await cache.get("doc", "https://x.test/a")
    assert caught.value.address == "10.0.0.1"
    assert caught.value.reason == "a private address"
    with pytest.raises(HttpStatusError) as status:
        await cache.get("doc", "https://x.test/b")
    assert status.value.status_code == 500
    now[0] += 31  # the failure TTL passes: the URL may be tried again
    assert await cache.get("doc", "https://x.test/a") is None


async def test_exhausted_budget_is_not_a_property_of_the_url() -> None:
    cache = FetchCache()
    await cache.put_failure("doc", "https://x.test/c", FetchBudgetExhaustedError("budget"))
    assert await cache.get("doc", "https://x.test/c") is None


async def test_values_expire_and_are_copies() -> None:
    now = [0.0]
    cache = FetchCache(_LocalStore(clock=lambda: now[0]), document_ttl=10, key_ttl=100)
    document = {"id": "https://x.test/n", "tag": [1]}
    await cache.put("doc", document["id"], document)
    await cache.put("key", "https://x.test/k", {"id": "https://x.test/k"})
    hit = await cache.get("doc", document["id"])
    assert hit is not None
    hit.value["tag"].append(2)
    again = await cache.get("doc", document["id"])
    assert again is not None
    assert again.value == {"id": "https://x.test/n", "tag": [1]}
    now[0] = 11
    assert await cache.get("doc", document["id"]) is None
    assert await cache.get("key", "https://x.test/k") is not None


async def test_local_store_is_bounded() -> None:
    store = _LocalStore(max_entries=100)
    for i in range(1000):
        await store.set(("k", str(i)), i, ttl=60)
    assert len(store._data) == 100
    assert await store.get(("k", "999")) == 999
    assert await store.get(("k", "0")) is None
    assert await store.cas(("k", "999"), 999, 1000)
    assert not await store.cas(("k", "999"), 999, 1001)
    assert [key async for key, _ in store.list(("k",))][-1] == ("k", "999")


def test_ttls_must_be_positive() -> None:
    with pytest.raises(ValueError, match="TTL"):
        FetchCache(failure_ttl=0)

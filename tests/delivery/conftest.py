from __future__ import annotations

import pytest

from activitypub_kit.storage import (
    MemoryQueue,
    MemoryStore,
    SqliteDatabase,
    SqliteQueue,
    SqliteStore,
)
from activitypub_kit.testing import FakeClock


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite"])
async def backend(request, clock, tmp_path):
    """A (store, queue) pair on one backend, sharing the fake clock."""
    if request.param == "memory":
        yield MemoryStore(clock=clock), MemoryQueue(clock=clock)
        return
    db = SqliteDatabase(tmp_path / "delivery.sqlite")
    store, queue = SqliteStore(db, clock=clock), SqliteQueue(db, clock=clock)
    yield store, queue
    await queue.aclose()
    await store.aclose()


@pytest.fixture
def kv(backend):
    return backend[0]


@pytest.fixture
def store(backend):
    return backend[0]


@pytest.fixture
def queue(backend):
    return backend[1]


# -- real HTTP on loopback ---------------------------------------------------------------

KEY_ID = "https://me.example/users/alice#main-key"


@pytest.fixture(scope="session")
def rsa_key():
    """The sender's RSA-2048 key (one per test session: generating one takes a while)."""
    from activitypub_kit.signatures import generate_rsa_key

    return generate_rsa_key()


@pytest.fixture
def keys(rsa_key):
    """A SigningKeyResolver over one key, counting how often it is asked."""

    class Keys:
        calls = 0

        async def __call__(self, key_ref):
            Keys.calls += 1
            if key_ref != KEY_ID:
                raise KeyError(key_ref)
            return KEY_ID, rsa_key

    return Keys()


@pytest.fixture
async def http():
    """An HttpClient that may reach loopback (and nothing else), with short timeouts."""
    from activitypub_kit.http import HttpClient, HttpSettings

    settings = HttpSettings.for_local_testing(
        read_timeout=1.0, total_timeout=3.0, max_connections=2000
    )
    async with HttpClient(settings) as client:
        yield client


@pytest.fixture
async def farm(rsa_key):
    """Inbox sinks that verify with the sender's public key; stopped after the test."""
    from sinks import SinkFarm

    sinks = SinkFarm(public_key=rsa_key.public_key())
    yield sinks
    await sinks.stop()

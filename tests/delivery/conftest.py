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

"""Backend factories for the storage tests: every backend, real PostgreSQL and Redis.

Each test run uses its own PostgreSQL schema and Redis key prefix and removes them at the
end; each test uses its own queue name (and key root) inside them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from activitypub_kit.storage import MemoryQueue, MemoryStore, SqliteQueue, SqliteStore

RUN = uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def pg_schema(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL schema for this test run, dropped afterwards."""
    import psycopg

    schema = f"apk_test_{RUN}"
    yield schema
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A Redis key prefix for this test run; its keys are deleted afterwards."""
    import redis

    prefix = f"apk_test_{RUN}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


class Factory:
    """Builds handles on one queue or store per test and closes them all afterwards."""

    def __init__(self, build: Any) -> None:
        self.build = build
        self.made: list[Any] = []

    async def __call__(self, **options: Any) -> Any:
        handle = self.build(**options)
        self.made.append(handle)
        return handle

    async def close(self) -> None:
        for handle in self.made:
            await handle.aclose()


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    """The name of a backend; tests using it run once per backend."""
    return str(request.param)


def queue_builder(backend: str, request: pytest.FixtureRequest, tmp_path: Path, name: str) -> Any:
    """A function building a handle on the queue ``name`` of ``backend``."""
    if backend == "memory":
        shared: dict[Any, MemoryQueue] = {}

        def build(**options: Any) -> MemoryQueue:
            key = tuple(sorted((k, id(v) if k == "clock" else v) for k, v in options.items()))
            if key not in shared:
                shared[key] = MemoryQueue(**options)
            return shared[key]

        return build
    if backend == "sqlite":
        path = tmp_path / "queue.sqlite"
        return lambda **options: SqliteQueue(path, name=name, poll_interval=0.05, **options)
    if backend == "postgres":
        from activitypub_kit.storage.postgres import PostgresQueue

        url = request.getfixturevalue("postgres_url")
        schema = request.getfixturevalue("pg_schema")
        return lambda **options: PostgresQueue(
            url, schema=schema, name=name, pool_max_size=4, poll_interval=0.5, **options
        )
    from activitypub_kit.storage.redis import RedisQueue

    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    return lambda **options: RedisQueue(url, prefix=prefix, name=name, poll_interval=0.5, **options)


def store_builder(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A function building a key-value store of ``backend``."""
    if backend == "memory":
        return lambda **options: MemoryStore(**options)
    if backend == "sqlite":
        path = tmp_path / "store.sqlite"
        return lambda **options: SqliteStore(path, **options)
    if backend == "postgres":
        from activitypub_kit.storage.postgres import PostgresStore

        url = request.getfixturevalue("postgres_url")
        schema = request.getfixturevalue("pg_schema")
        return lambda **options: PostgresStore(url, schema=schema, pool_max_size=2, **options)
    from activitypub_kit.storage.redis import RedisStore

    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")

    def build(clock: Any = None, **options: Any) -> Any:
        return RedisStore(url, prefix=prefix, **options)  # native TTLs: no clock

    return build


@pytest.fixture
async def queue_factory(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Factory]:
    """Handles on one fresh queue of the current ``backend``."""
    factory = Factory(queue_builder(backend, request, tmp_path, f"q-{uuid.uuid4().hex}"))
    yield factory
    await factory.close()


@pytest.fixture
async def store_factory(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Factory]:
    """Key-value stores of the current ``backend``."""
    factory = Factory(store_builder(backend, request, tmp_path))
    yield factory
    await factory.close()


@pytest.fixture
async def queue_of(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """``queue_of(backend, **options)``: a fresh queue of any backend, closed afterwards."""
    made: list[Factory] = []

    async def make(backend: str, **options: Any) -> Any:
        name = f"q-{uuid.uuid4().hex}"
        factory = Factory(queue_builder(backend, request, tmp_path / backend, name))
        (tmp_path / backend).mkdir(exist_ok=True)
        made.append(factory)
        return await factory(**options)

    yield make
    for factory in made:
        await factory.close()


@pytest.fixture
def anyio_backend() -> str:
    """Storage tests run on asyncio (psycopg and redis-py need it)."""
    return "asyncio"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Repeat the crash and multi-process figures (``storage_report`` properties)."""
    lines = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for key, value in getattr(report, "user_properties", ())
        if key == "storage_report"
    ]
    if lines:
        terminalreporter.section("storage: crash and multi-process tests")
        for line in lines:
            terminalreporter.line(line)

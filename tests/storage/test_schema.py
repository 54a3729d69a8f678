"""Schemas are created on first use with a version record; a newer version is refused."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import anyio
import pytest

from activitypub_kit.errors import SchemaVersionError
from activitypub_kit.storage import SqliteQueue, SqliteStore
from activitypub_kit.testing import FakeClock

pytestmark = pytest.mark.anyio


async def test_sqlite_schema_is_created_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "fresh.sqlite"
    queue = SqliteQueue(path)
    await queue.enqueue("x")
    await queue.aclose()
    with sqlite3.connect(path) as conn:
        (version,) = conn.execute(
            "SELECT value FROM apk_meta WHERE name = 'schema_version'"
        ).fetchone()
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
        conn.execute("UPDATE apk_meta SET value = '99' WHERE name = 'schema_version'")
    assert (version, mode) == ("1", "wal")
    newer = SqliteQueue(path)
    with pytest.raises(SchemaVersionError, match="version 99 is newer"):
        await newer.stats()
    await newer.aclose()


async def test_sqlite_store_sweeps_expired_entries(tmp_path: Path) -> None:
    clock = FakeClock()
    store = SqliteStore(tmp_path / "kv.sqlite", clock=clock)
    for n in range(10):
        await store.set(("cache", str(n)), n, ttl=60)
    await store.set(("keep",), 1)
    clock.advance(61)
    assert await store.purge_expired() == 10
    await store.aclose()
    with sqlite3.connect(tmp_path / "kv.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM apk_kv").fetchone() == (1,)


async def test_postgres_schema_migrates_once_under_concurrency(postgres_url: str) -> None:
    import psycopg

    from activitypub_kit.storage.postgres import PostgresQueue, PostgresStore

    schema = f"apk_schema_{uuid.uuid4().hex[:10]}"
    handles = [PostgresQueue(postgres_url, schema=schema, name=f"q{n}") for n in range(4)]
    try:
        async with anyio.create_task_group() as tg:
            for handle in handles:
                tg.start_soon(handle.enqueue, "first use")
        clock = FakeClock()
        store = PostgresStore(postgres_url, schema=schema, clock=clock)
        await store.set(("a",), 1, ttl=10)
        clock.advance(11)
        assert await store.purge_expired() == 1
        await store.aclose()
        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
            cur = await conn.execute(
                f'SELECT value FROM "{schema}".apk_meta WHERE name = %s', ("schema_version",)
            )
            assert await cur.fetchall() == [("1",)]
            cur = await conn.execute(f'SELECT count(*) FROM "{schema}".apk_queue')
            assert await cur.fetchone() == (4,)
            await conn.execute(f"UPDATE \"{schema}\".apk_meta SET value = '7'")
        newer = PostgresQueue(postgres_url, schema=schema)
        with pytest.raises(SchemaVersionError, match="version 7, newer"):
            await newer.stats()
        await newer.aclose()
    finally:
        for handle in handles:
            await handle.aclose()
        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def test_redis_layout_version_is_recorded(redis_url: str, redis_prefix: str) -> None:
    import redis.asyncio as aioredis

    from activitypub_kit.storage.redis import RedisQueue

    prefix = f"{redis_prefix}schema-{uuid.uuid4().hex[:6]}:"
    queue = RedisQueue(redis_url, prefix=prefix)
    await queue.enqueue("x")
    await queue.aclose()
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    assert await client.hget(f"{prefix}meta", "schema_version") == "1"
    await client.hset(f"{prefix}meta", "schema_version", "2")
    newer = RedisQueue(redis_url, prefix=prefix)
    with pytest.raises(SchemaVersionError, match="layout version 2, newer"):
        await newer.stats()
    await newer.aclose()
    await client.aclose()

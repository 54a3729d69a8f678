"""Expired entries and deduplication keys do not pile up: later writes sweep them.

Redis expires both natively; SQLite and PostgreSQL keep rows that later writes delete in
batches, so an attacker who makes us write many short-lived entries (e.g. one per distinct
remote host) cannot grow storage without bound.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from activitypub_kit.testing import FakeClock

pytestmark = pytest.mark.anyio


class Backend:
    def __init__(self, kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self.kind = kind
        self.path = tmp_path / "bounded.sqlite"
        self.schema = f"apk_bounded_{uuid.uuid4().hex[:10]}"
        self.url = request.getfixturevalue("postgres_url") if kind == "postgres" else ""
        self.handles: list[Any] = []

    def store(self, clock: FakeClock) -> Any:
        if self.kind == "sqlite":
            from activitypub_kit.storage import SqliteStore

            handle: Any = SqliteStore(self.path, clock=clock)
        else:
            from activitypub_kit.storage.postgres import PostgresStore

            handle = PostgresStore(self.url, schema=self.schema, clock=clock)
        self.handles.append(handle)
        return handle

    def queue(self, clock: FakeClock) -> Any:
        if self.kind == "sqlite":
            from activitypub_kit.storage import SqliteQueue

            handle: Any = SqliteQueue(self.path, clock=clock, dedup_window=60)
        else:
            from activitypub_kit.storage.postgres import PostgresQueue

            handle = PostgresQueue(self.url, schema=self.schema, clock=clock, dedup_window=60)
        self.handles.append(handle)
        return handle

    async def count(self, table: str) -> int:
        if self.kind == "sqlite":
            with sqlite3.connect(self.path) as conn:
                return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        import psycopg

        async with await psycopg.AsyncConnection.connect(self.url) as conn:
            cur = await conn.execute(f'SELECT count(*) FROM "{self.schema}".{table}')
            row = await cur.fetchone()
            assert row is not None
            return int(row[0])

    async def close(self) -> None:
        for handle in self.handles:
            await handle.aclose()
        if self.kind == "postgres":
            import psycopg

            async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    made = Backend(request.param, tmp_path, request)
    yield made
    await made.close()


async def test_expired_entries_are_swept_by_later_writes(backend: Backend) -> None:
    clock = FakeClock()
    store = backend.store(clock)
    for n in range(300):
        await store.set(("failures", f"host-{n}.example"), n, ttl=60)
    assert await backend.count("apk_kv") == 300
    clock.advance(61)
    for n in range(100):
        await store.set(("live", str(n)), n)
    assert await backend.count("apk_kv") == 100


async def test_expired_dedup_keys_are_swept_by_later_enqueues(backend: Backend) -> None:
    clock = FakeClock()
    queue = backend.queue(clock)
    for n in range(300):
        await queue.enqueue(n, dedup_key=f"old-{n}")
    assert await backend.count("apk_dedup") == 300
    clock.advance(61)
    for n in range(128):
        await queue.enqueue(n, dedup_key=f"new-{n}")
    assert await backend.count("apk_dedup") == 128

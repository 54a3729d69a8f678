"""A PostgreSQL schema shared by stores and queues: pool, error mapping, migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import psycopg
import psycopg_pool
from psycopg import sql

from activitypub_kit.errors import (
    SchemaVersionError,
    StorageClosedError,
    StorageConnectionError,
    StorageError,
)

#: The schema version this library writes; recorded in ``<schema>.apk_meta``.
SCHEMA_VERSION = 1

_MIGRATIONS: dict[int, list[str]] = {
    1: [
        'CREATE TABLE {s}.apk_kv (k text COLLATE "C" PRIMARY KEY, v text NOT NULL,'
        " expires_at double precision)",
        "CREATE INDEX apk_kv_expiry ON {s}.apk_kv (expires_at) WHERE expires_at IS NOT NULL",
        "CREATE TABLE {s}.apk_queue (seq bigserial PRIMARY KEY, queue text NOT NULL,"
        " id text NOT NULL UNIQUE, body text NOT NULL, ordering_key text,"
        " enqueued_at double precision NOT NULL, visible_at double precision NOT NULL,"
        " head boolean NOT NULL, lease_token text, attempts integer NOT NULL DEFAULT 0)",
        "CREATE INDEX apk_queue_ready ON {s}.apk_queue (queue, visible_at, seq) WHERE head",
        "CREATE INDEX apk_queue_chain ON {s}.apk_queue (queue, ordering_key, seq)"
        " WHERE ordering_key IS NOT NULL",
        "CREATE INDEX apk_queue_order ON {s}.apk_queue (queue, seq)",
        "CREATE TABLE {s}.apk_dedup (queue text NOT NULL, key text NOT NULL,"
        " expires_at double precision NOT NULL, PRIMARY KEY (queue, key))",
        "CREATE INDEX apk_dedup_expiry ON {s}.apk_dedup (expires_at)",
        "CREATE TABLE {s}.apk_dead (seq bigserial PRIMARY KEY, queue text NOT NULL,"
        " id text NOT NULL, body text NOT NULL, reason text NOT NULL,"
        " attempts integer NOT NULL, ordering_key text, enqueued_at double precision NOT NULL,"
        " dead_at double precision NOT NULL)",
        "CREATE INDEX apk_dead_queue ON {s}.apk_dead (queue, seq)",
    ],
}

#: The channel every queue NOTIFYs on; the payload is ``"<schema>.<queue>"``.
CHANNEL = "activitypub_kit_queue"


def _map_error(exc: Exception) -> StorageError:
    if isinstance(exc, psycopg_pool.PoolClosed):
        return StorageClosedError(f"PostgreSQL pool is closed: {exc}")
    if isinstance(exc, psycopg_pool.PoolTimeout | psycopg.OperationalError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StorageConnectionError(f"PostgreSQL connection failed: {first}")
    return StorageError(f"PostgreSQL error: {type(exc).__name__}: {exc}")


class PostgresDatabase:
    """A connection pool plus a schema holding the activitypub_kit tables.

    Pass a URL (the pool is created on first use, ``min_size`` to ``max_size`` connections)
    or your own :class:`psycopg_pool.AsyncConnectionPool` (its connections must be in
    autocommit mode; you open and close it).  The schema is created and migrated on first
    use, under an advisory lock so that concurrent processes do it once.
    """

    def __init__(
        self,
        conninfo: str | psycopg_pool.AsyncConnectionPool,
        *,
        schema: str = "activitypub_kit",
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 30.0,
    ) -> None:
        self.schema = schema
        self.schema_sql = sql.Identifier(schema)
        if isinstance(conninfo, psycopg_pool.AsyncConnectionPool):
            self.pool, self._owned = conninfo, False
            self.dsn = conninfo.conninfo if isinstance(conninfo.conninfo, str) else ""
        else:
            self.dsn = conninfo
            self.pool = psycopg_pool.AsyncConnectionPool(
                conninfo,
                min_size=min_size,
                max_size=max_size,
                timeout=timeout,
                open=False,
                kwargs={"autocommit": True},
                name=f"activitypub_kit.{schema}",
            )
            self._owned = True
        self._ready = False
        self._closed = False
        self._opening: anyio.Lock | None = None

    def q(self, text: str) -> sql.Composed:
        """Compose a statement with ``{s}`` standing for the schema identifier."""
        return sql.SQL(text).format(s=self.schema_sql)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """Borrow a migrated connection; driver errors become :class:`StorageError`."""
        if self._closed:
            raise StorageClosedError(f"PostgreSQL store for schema {self.schema} is closed")
        try:
            if self._owned and self.pool.closed:
                self._opening = self._opening or anyio.Lock()
                async with self._opening:
                    if self.pool.closed and not self._closed:
                        await self.pool.open(wait=False)
            async with self.pool.connection() as conn:
                if not self._ready:
                    await self._migrate(conn)
                    self._ready = True
                yield conn
        except StorageError:
            raise
        except (psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed) as exc:
            raise _map_error(exc) from exc

    async def _migrate(self, conn: psycopg.AsyncConnection[Any]) -> None:
        async with conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"activitypub_kit.schema.{self.schema}",),
            )
            await conn.execute(self.q("CREATE SCHEMA IF NOT EXISTS {s}"))
            await conn.execute(
                self.q(
                    "CREATE TABLE IF NOT EXISTS {s}.apk_meta"
                    " (name text PRIMARY KEY, value text NOT NULL)"
                )
            )
            cur = await conn.execute(
                self.q("SELECT value FROM {s}.apk_meta WHERE name = 'schema_version'")
            )
            row = await cur.fetchone()
            current = int(row[0]) if row else 0
            if current > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"schema {self.schema} has version {current}, newer than this library's "
                    f"{SCHEMA_VERSION}; upgrade activitypub_kit"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[version]:
                    await conn.execute(self.q(statement))
            await conn.execute(
                self.q(
                    "INSERT INTO {s}.apk_meta (name, value) VALUES ('schema_version', %s)"
                    " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
                ),
                (str(SCHEMA_VERSION),),
            )

    async def aclose(self) -> None:
        """Close the pool if this object created it."""
        self._closed = True
        if self._owned:
            await self.pool.close()


__all__ = ["CHANNEL", "SCHEMA_VERSION", "PostgresDatabase"]

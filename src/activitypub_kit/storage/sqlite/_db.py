"""One SQLite database file shared by stores and queues: connection, threads, schema.

The stdlib :mod:`sqlite3` driver is blocking, so every unit of work runs in a worker thread
(:func:`anyio.to_thread.run_sync`), one at a time per :class:`SqliteDatabase`.  The file is in
WAL mode with a busy timeout, so several processes on one machine can share it: SQLite's file
lock serialises writers, and every read-modify-write runs under ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from activitypub_kit.errors import (
    SchemaVersionError,
    StorageClosedError,
    StorageConnectionError,
    StorageError,
)

T = TypeVar("T")

#: The schema version this library writes; recorded in ``apk_meta``.
SCHEMA_VERSION = 1

_MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE apk_kv (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL,
    expires_at REAL
) WITHOUT ROWID;
CREATE INDEX apk_kv_expiry ON apk_kv (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE apk_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    ordering_key TEXT,
    enqueued_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    head INTEGER NOT NULL,
    lease_token TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX apk_queue_ready ON apk_queue (queue, visible_at, seq) WHERE head = 1;
CREATE INDEX apk_queue_chain ON apk_queue (queue, ordering_key, seq)
    WHERE ordering_key IS NOT NULL;
CREATE INDEX apk_queue_order ON apk_queue (queue, seq);
CREATE TABLE apk_dedup (
    queue TEXT NOT NULL,
    key TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (queue, key)
) WITHOUT ROWID;
CREATE INDEX apk_dedup_expiry ON apk_dedup (expires_at);
CREATE TABLE apk_dead (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    ordering_key TEXT,
    enqueued_at REAL NOT NULL,
    dead_at REAL NOT NULL
);
CREATE INDEX apk_dead_queue ON apk_dead (queue, seq);
""",
}


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS apk_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        row = conn.execute("SELECT value FROM apk_meta WHERE name = 'schema_version'").fetchone()
        current = int(row[0]) if row else 0
        if current > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"database schema version {current} is newer than this library's "
                f"{SCHEMA_VERSION}; upgrade activitypub_kit"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(
            "INSERT INTO apk_meta (name, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class SqliteDatabase:
    """A SQLite file opened lazily, migrated on first use, used from one thread at a time.

    ``busy_timeout`` (seconds) is how long a writer waits for another process's write lock.
    ``synchronous="NORMAL"`` with WAL survives a process crash (what matters for a queue);
    pass ``"FULL"`` to also survive power loss at some cost in write throughput.
    """

    def __init__(
        self, path: str | Path, *, busy_timeout: float = 10.0, synchronous: str = "NORMAL"
    ) -> None:
        if synchronous not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be NORMAL, FULL or EXTRA, not {synchronous!r}")
        self.path = str(path)
        self._busy_timeout = busy_timeout
        self._synchronous = synchronous
        self._conn: sqlite3.Connection | None = None
        self._lock: anyio.Lock | None = None
        self._closed = False

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
            _migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(connection)`` in a worker thread, serialised with other calls."""
        if self._closed:
            raise StorageClosedError(f"SQLite database {self.path} is closed")
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if self._closed:
                raise StorageClosedError(f"SQLite database {self.path} is closed")
            return await anyio.to_thread.run_sync(self._call, work)

    def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            if self._conn is None:
                self._conn = self._open()
            return work(self._conn)
        except StorageError:
            raise
        except sqlite3.ProgrammingError as exc:
            raise StorageClosedError(f"SQLite database {self.path}: {exc}") from exc
        except sqlite3.OperationalError as exc:
            raise StorageConnectionError(f"SQLite database {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StorageError(f"SQLite database {self.path}: {exc}") from exc

    async def aclose(self) -> None:
        """Close the connection; later calls raise :class:`StorageClosedError`."""
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            if self._lock is None:
                conn.close()
                return
            async with self._lock:
                await anyio.to_thread.run_sync(conn.close)


def transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``work`` inside ``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on error)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


__all__ = ["SCHEMA_VERSION", "SqliteDatabase", "transaction"]

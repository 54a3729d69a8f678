"""Storage interfaces (key-value store, message queue), their backends and the worker.

The in-memory and SQLite backends need nothing beyond the standard library and anyio; the
PostgreSQL and Redis ones are imported on first use and need the ``postgres`` / ``redis``
extras.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from activitypub_kit.storage._base import (
    Clock,
    DeadLetter,
    JSONValue,
    Key,
    KeyValueStore,
    Message,
    MessageQueue,
    Outgoing,
    QueueStats,
)
from activitypub_kit.storage._codec import (
    DEFAULT_DEDUP_WINDOW,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_VALUE_BYTES,
)
from activitypub_kit.storage._memory import MemoryQueue, MemoryStore
from activitypub_kit.storage._worker import (
    FailurePolicy,
    Handler,
    RetryLater,
    RetryPolicy,
    Worker,
    WorkerStats,
)
from activitypub_kit.storage.sqlite import SqliteDatabase, SqliteQueue, SqliteStore

if TYPE_CHECKING:
    from activitypub_kit.storage.postgres import PostgresDatabase, PostgresQueue, PostgresStore
    from activitypub_kit.storage.redis import RedisQueue, RedisStore

_LAZY = {
    "PostgresDatabase": "activitypub_kit.storage.postgres",
    "PostgresQueue": "activitypub_kit.storage.postgres",
    "PostgresStore": "activitypub_kit.storage.postgres",
    "RedisQueue": "activitypub_kit.storage.redis",
    "RedisStore": "activitypub_kit.storage.redis",
}


def __getattr__(name: str) -> Any:
    """Import the PostgreSQL and Redis backends only when first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = [
    # interfaces and values
    "JSONValue",
    "Key",
    "Clock",
    "KeyValueStore",
    "MessageQueue",
    "Message",
    "DeadLetter",
    "QueueStats",
    "Outgoing",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_MAX_VALUE_BYTES",
    "DEFAULT_DEDUP_WINDOW",
    # worker
    "Worker",
    "WorkerStats",
    "RetryPolicy",
    "RetryLater",
    "FailurePolicy",
    "Handler",
    # backends
    "MemoryStore",
    "MemoryQueue",
    "SqliteDatabase",
    "SqliteStore",
    "SqliteQueue",
    "PostgresDatabase",
    "PostgresStore",
    "PostgresQueue",
    "RedisStore",
    "RedisQueue",
]

"""SQLite backends: the embedded default, one file, safe across processes on one machine."""

from activitypub_kit.storage.sqlite._db import SCHEMA_VERSION, SqliteDatabase
from activitypub_kit.storage.sqlite._kv import SqliteStore
from activitypub_kit.storage.sqlite._queue import SqliteQueue

__all__ = ["SCHEMA_VERSION", "SqliteDatabase", "SqliteQueue", "SqliteStore"]

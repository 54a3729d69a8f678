"""SQLite backends: the embedded default, one file, safe across processes on one machine."""

from activitypub_kit.storage.sqlite.db import SCHEMA_VERSION, SqliteDatabase
from activitypub_kit.storage.sqlite.kv import SqliteStore
from activitypub_kit.storage.sqlite.queue import SqliteQueue

__all__ = ["SCHEMA_VERSION", "SqliteDatabase", "SqliteQueue", "SqliteStore"]

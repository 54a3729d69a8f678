"""PostgreSQL backends (psycopg 3, async): install with ``activitypub-kit[postgres]``."""

from activitypub_kit.storage.postgres._db import SCHEMA_VERSION, PostgresDatabase
from activitypub_kit.storage.postgres._kv import PostgresStore
from activitypub_kit.storage.postgres._queue import PostgresQueue

__all__ = ["SCHEMA_VERSION", "PostgresDatabase", "PostgresQueue", "PostgresStore"]

"""PostgreSQL backends (psycopg 3, async): install with ``activitypub-kit[postgres]``."""

from activitypub_kit.storage.postgres.db import SCHEMA_VERSION, PostgresDatabase
from activitypub_kit.storage.postgres.kv import PostgresStore
from activitypub_kit.storage.postgres.queue import PostgresQueue

__all__ = ["SCHEMA_VERSION", "PostgresDatabase", "PostgresQueue", "PostgresStore"]

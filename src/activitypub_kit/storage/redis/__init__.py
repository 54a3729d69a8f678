"""Redis backends (redis-py asyncio): install with ``activitypub-kit[redis]``."""

from activitypub_kit.storage.redis._client import SCHEMA_VERSION, RedisConnection
from activitypub_kit.storage.redis._kv import RedisStore
from activitypub_kit.storage.redis._queue import RedisQueue

__all__ = ["SCHEMA_VERSION", "RedisConnection", "RedisQueue", "RedisStore"]

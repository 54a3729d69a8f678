"""Redis backends (redis-py asyncio): install with ``activitypub-kit[redis]``."""

from activitypub_kit.storage.redis.client import SCHEMA_VERSION, RedisConnection
from activitypub_kit.storage.redis.kv import RedisStore
from activitypub_kit.storage.redis.queue import RedisQueue

__all__ = ["SCHEMA_VERSION", "RedisConnection", "RedisQueue", "RedisStore"]

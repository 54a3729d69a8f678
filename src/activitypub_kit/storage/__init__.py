"""Storage interfaces (key-value store, message queue) and their backends."""

from activitypub_kit.storage.base import JSONValue, Key, KeyValueStore

__all__ = ["JSONValue", "Key", "KeyValueStore"]

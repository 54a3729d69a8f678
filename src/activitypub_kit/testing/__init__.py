"""Test helpers for applications and backend authors.

- :class:`FakeClock` and :func:`wait_until`: drive time-dependent behaviour without sleeps.
- :class:`QueueConformance` and :class:`StoreConformance`: the conformance suites every
  :class:`~activitypub_kit.storage.MessageQueue` and
  :class:`~activitypub_kit.storage.KeyValueStore` backend passes; subclass them in your
  own tests to check a backend you wrote (needs ``pytest`` and anyio's pytest plugin).
"""

from activitypub_kit.testing.clock import FakeClock, wait_until
from activitypub_kit.testing.queue_suite import QueueConformance, QueueFactory
from activitypub_kit.testing.store_suite import StoreConformance, StoreFactory

__all__ = [
    "FakeClock",
    "wait_until",
    "QueueConformance",
    "QueueFactory",
    "StoreConformance",
    "StoreFactory",
]

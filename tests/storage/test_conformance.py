"""The exported conformance suites, run on all four backends (real PostgreSQL and Redis)."""

from activitypub_kit.testing import QueueConformance, StoreConformance


class TestQueueConformance(QueueConformance):
    """Every MessageQueue backend: the ``backend`` fixture parametrises the factory."""


class TestStoreConformance(StoreConformance):
    """Every KeyValueStore backend."""

"""Test helpers for applications and backend authors.

- :class:`FakeClock` and :func:`wait_until`: drive time-dependent behaviour without sleeps.
- :func:`watch_event_loop`: how long the event loop was held while a block ran.
- :class:`QueueConformance` and :class:`StoreConformance`: the conformance suites every
  :class:`~activitypub_kit.storage.MessageQueue` and
  :class:`~activitypub_kit.storage.KeyValueStore` backend passes; subclass them in your
  own tests to check a backend you wrote.  They need ``pytest`` and anyio's pytest plugin,
  and are imported on first use, so :class:`FakeClock` works without pytest installed.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from activitypub_kit.testing._clock import FakeClock, LoopWatch, wait_until, watch_event_loop

if TYPE_CHECKING:
    from activitypub_kit.testing._queue_suite import QueueConformance, QueueFactory
    from activitypub_kit.testing._store_suite import StoreConformance, StoreFactory

_LAZY = {
    "QueueConformance": "activitypub_kit.testing._queue_suite",
    "QueueFactory": "activitypub_kit.testing._queue_suite",
    "StoreConformance": "activitypub_kit.testing._store_suite",
    "StoreFactory": "activitypub_kit.testing._store_suite",
}


def __getattr__(name: str) -> Any:
    """Import the pytest-based conformance suites only when asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = [
    "FakeClock",
    "wait_until",
    "LoopWatch",
    "watch_event_loop",
    "QueueConformance",
    "QueueFactory",
    "StoreConformance",
    "StoreFactory",
]

"""Benchmark: a cache hit and an insert-with-eviction, BoundedCache against cachetools.

The hot path is the inbox's key lookup: every signed POST asks the recently-verified-key
cache (TTL) and the decoded-key cache (LRU) once each.  Measured side by side in each round,
median of the rounds, in nanoseconds per operation:

- ``dict`` — the hand-rolled pattern the library used before (``dict.get`` + a clock check,
  FIFO eviction with ``pop(next(iter(d)))``);
- ``BoundedCache`` — :mod:`activitypub_kit._cache`;
- ``cachetools`` — ``LRUCache`` / ``TTLCache`` (when installed).

    python benchmarks/caches.py            # table
    python benchmarks/caches.py --json     # one JSON object
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0] and __file__.startswith(sys.path[0]):
    sys.path.pop(0)

import argparse
import itertools
import json
import statistics
import time
import timeit
from collections.abc import Callable
from typing import Any

from activitypub_kit._cache import BoundedCache

SIZE = 4096
KEYS = [f"https://host{i}.example/users/u#main-key" for i in range(SIZE // 2)]
HIT = KEYS[len(KEYS) // 3]


def candidates() -> dict[str, dict[str, Callable[[], Any]]]:
    """Per case, per implementation, one operation to time."""
    value = object()
    plain: dict[str, tuple[object, float]] = {k: (value, time.monotonic()) for k in KEYS}
    lru: BoundedCache[str, object] = BoundedCache(SIZE)
    ttl: BoundedCache[str, object] = BoundedCache(SIZE, ttl=300.0)
    for k in KEYS:
        lru.set(k, value)
        ttl.set(k, value)

    def dict_ttl_hit() -> object:
        found = plain.get(HIT)
        return found if found is not None and time.monotonic() - found[1] < 300.0 else None

    def dict_lru_hit() -> object:
        return plain.get(HIT)

    counter = itertools.count()
    fifo: dict[int, int] = {}

    def dict_insert() -> None:
        i = next(counter)
        if len(fifo) >= SIZE:
            fifo.pop(next(iter(fifo)))
        fifo[i] = i

    lru_full: BoundedCache[int, int] = BoundedCache(SIZE)
    ttl_full: BoundedCache[int, int] = BoundedCache(SIZE, ttl=300.0)

    def bounded_insert() -> None:
        i = next(counter)
        lru_full.set(i, i)

    def bounded_ttl_insert() -> None:
        i = next(counter)
        ttl_full.set(i, i)

    cases: dict[str, dict[str, Callable[[], Any]]] = {
        "TTL hit": {"dict": dict_ttl_hit, "BoundedCache": lambda: ttl.get(HIT)},
        "LRU hit": {"dict": dict_lru_hit, "BoundedCache": lambda: lru.get(HIT)},
        "LRU insert, full": {"dict": dict_insert, "BoundedCache": bounded_insert},
        "TTL insert, full": {"dict": dict_insert, "BoundedCache": bounded_ttl_insert},
    }
    try:
        from cachetools import LRUCache, TTLCache
    except ImportError:  # pragma: no cover - cachetools is optional here
        return cases
    c_lru: LRUCache[Any, Any] = LRUCache(SIZE)
    c_ttl: TTLCache[Any, Any] = TTLCache(SIZE, 300.0, timer=time.monotonic)
    for k in KEYS:
        c_lru[k] = value
        c_ttl[k] = value
    c_lru_full: LRUCache[Any, Any] = LRUCache(SIZE)
    c_ttl_full: TTLCache[Any, Any] = TTLCache(SIZE, 300.0, timer=time.monotonic)

    def c_lru_insert() -> None:
        i = next(counter)
        c_lru_full[i] = i

    def c_ttl_insert() -> None:
        i = next(counter)
        c_ttl_full[i] = i

    cases["TTL hit"]["cachetools"] = lambda: c_ttl.get(HIT)
    cases["LRU hit"]["cachetools"] = lambda: c_lru.get(HIT)
    cases["LRU insert, full"]["cachetools"] = c_lru_insert
    cases["TTL insert, full"]["cachetools"] = c_ttl_insert
    return cases


def measure(rounds: int, number: int) -> dict[str, dict[str, float]]:
    """Median nanoseconds per operation, implementations interleaved in each round."""
    cases = candidates()
    samples: dict[str, dict[str, list[float]]] = {
        case: {name: [] for name in impls} for case, impls in cases.items()
    }
    for _ in range(rounds):
        for case, impls in cases.items():
            for name, fn in impls.items():
                seconds = timeit.timeit(fn, number=number)
                samples[case][name].append(seconds / number * 1e9)
    return {
        case: {name: round(statistics.median(values)) for name, values in impls.items()}
        for case, impls in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = measure(args.rounds, args.number)
    if args.json:
        print(json.dumps(results))
        return
    names = sorted({name for impls in results.values() for name in impls})
    print("| case | " + " | ".join(f"{n} (ns)" for n in names) + " |")
    print("|---|" + "---:|" * len(names))
    for case, impls in results.items():
        print(f"| {case} | " + " | ".join(str(impls.get(n, "-")) for n in names) + " |")


if __name__ == "__main__":
    main()

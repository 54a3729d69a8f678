"""Every backend gives the same answers to the same random sequence of operations.

A seeded random mix of enqueues (with delays, ordering keys and deduplication keys),
receives, acks, nacks, lease renewals, dead letters and clock moves runs against all four
backends with a fake clock; the traces (what each call returned, normalised to enqueue
order) and periodic stats must be identical.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from activitypub_kit.storage import Message, MessageQueue
from activitypub_kit.testing import FakeClock

pytestmark = pytest.mark.anyio

BACKENDS = ["memory", "sqlite", "postgres", "redis"]


async def trace(queue: MessageQueue, clock: FakeClock, seed: int, steps: int) -> list[Any]:
    rng = random.Random(seed)
    out: list[Any] = []
    held: list[Message] = []
    enqueued = 0
    ops = ["enqueue"] * 7 + ["receive"] * 5 + ["ack"] * 3 + ["nack", "extend", "dead", "tick"]
    for step in range(steps):
        op = rng.choice(ops)
        if op == "enqueue":
            enqueued += 1
            mid = await queue.enqueue(
                {"n": enqueued},
                delay=rng.choice([0, 0, 0, 5, 30]),
                ordering_key=rng.choice([None, None, "a", "b", "c"]),
                dedup_key=rng.choice([None, None, None, None, "d1", "d2", "d3"]),
            )
            out.append((op, enqueued, mid is not None))
        elif op == "receive":
            got = await queue.receive(lease=rng.choice([5, 20]), max_messages=rng.randint(1, 4))
            held.extend(got)
            out.append((op, [(m.body, m.attempts, m.ordering_key) for m in got]))
        elif op == "tick":
            seconds = rng.choice([1, 6, 25])
            clock.advance(seconds)
            out.append((op, seconds))
        elif held:
            message = held[rng.randrange(len(held))]
            if op == "ack":
                result = await queue.ack(message)
            elif op == "nack":
                result = await queue.nack(message, delay=rng.choice([0, 10]))
            elif op == "extend":
                result = await queue.extend(message, lease=15)
            else:
                result = await queue.dead_letter(message, reason=f"step {step}")
            if op != "extend":
                held.remove(message)
            out.append((op, message.body, message.attempts, result))
        if step % 10 == 0:
            stats = await queue.stats()
            age = None if stats.oldest_age is None else round(stats.oldest_age, 3)
            out.append(("stats", stats.depth, stats.ready, stats.leased, stats.dead, age))
    dead = await queue.dead_letters(limit=1000)
    out.append(("dead", sorted((str(d.body), d.reason, d.attempts) for d in dead)))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_backends_agree_on_a_random_workload(queue_of: Any, seed: int) -> None:
    traces = {}
    for backend in BACKENDS:
        clock = FakeClock()
        queue = await queue_of(backend, clock=clock)
        traces[backend] = await trace(queue, clock, seed, steps=300)
    for backend in BACKENDS[1:]:
        for index, (want, got) in enumerate(zip(traces["memory"], traces[backend], strict=True)):
            assert got == want, f"{backend} differs from memory at event {index}"
    assert any(e[0] == "receive" and e[1] for e in traces["memory"])
    assert any(e[0] == "ack" and e[3] for e in traces["memory"])

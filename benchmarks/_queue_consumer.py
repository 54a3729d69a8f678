"""A consumer process for benchmarks/queue.py (not a benchmark itself).

Builds a handle on the named queue, prints ``ready``, waits for a line on stdin, then
receives and acks until the queue stays empty, and prints ``<count> <time of last ack>``.
"""

from __future__ import annotations

import sys

# benchmarks/queue.py shadows the stdlib module ``queue``: drop this folder from the path.
if sys.path and sys.path[0] and __file__.startswith(sys.path[0]):
    sys.path.pop(0)

import time

import anyio
import anyio.to_thread

from activitypub_kit.storage import MessageQueue, SqliteQueue


def build(kind: str, target: str, space: str, name: str) -> MessageQueue:
    if kind == "sqlite":
        return SqliteQueue(target, name=name, poll_interval=0.05)
    if kind == "postgres":
        from activitypub_kit.storage.postgres import PostgresQueue

        return PostgresQueue(target, schema=space, name=name)
    from activitypub_kit.storage.redis import RedisQueue

    return RedisQueue(target, prefix=space, name=name)


async def main(kind: str, target: str, space: str, name: str) -> None:
    queue = build(kind, target, space, name)
    await queue.stats()  # connect (and find the schema) before the clock starts
    print("ready", flush=True)
    await anyio.to_thread.run_sync(sys.stdin.readline)
    count, last = 0, time.time()
    while got := await queue.receive(lease=30, max_messages=10, wait=0.3):
        for message in got:
            await queue.ack(message)
        count += len(got)
        last = time.time()
    print(f"{count} {last!r}", flush=True)
    await queue.aclose()


if __name__ == "__main__":
    anyio.run(main, *sys.argv[1:5])

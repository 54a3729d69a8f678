"""A worker process for the crash and multi-process tests (run as a script).

It handles messages from one queue with a :class:`Worker` and appends one line per handler
run to a log file (``id  pid  start  end  body``, times from the system-wide monotonic
clock), until SIGTERM asks it to stop gracefully (or SIGKILL ends it).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from typing import Any

import anyio

from activitypub_kit.storage import Message, MessageQueue, Worker


def make_queue(args: argparse.Namespace) -> MessageQueue:
    if args.backend == "sqlite":
        from activitypub_kit.storage import SqliteQueue

        return SqliteQueue(args.target, name=args.name, poll_interval=0.05)
    if args.backend == "postgres":
        from activitypub_kit.storage.postgres import PostgresQueue

        return PostgresQueue(args.target, schema=args.space, name=args.name, poll_interval=0.2)
    from activitypub_kit.storage.redis import RedisQueue

    return RedisQueue(args.target, prefix=args.space, name=args.name, poll_interval=0.2)


async def main(args: argparse.Namespace) -> None:
    queue = make_queue(args)
    fd = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    pid = os.getpid()

    async def handler(message: Message) -> None:
        start = time.monotonic()
        await anyio.sleep(args.work)
        end = time.monotonic()
        body: Any = message.body
        os.write(fd, f"{message.id}\t{pid}\t{start!r}\t{end!r}\t{json.dumps(body)}\n".encode())

    worker = Worker(queue, handler, concurrency=args.concurrency, lease=args.lease, poll_wait=0.5)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        with anyio.open_signal_receiver(signal.SIGTERM) as signals:
            os.write(fd, f"ready\t{pid}\n".encode())
            async for _ in signals:
                await worker.stop(grace=10)
                break
    os.close(fd)
    await queue.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("backend", choices=["sqlite", "postgres", "redis"])
    parser.add_argument("target")
    parser.add_argument("--name", required=True)
    parser.add_argument("--space", default="")
    parser.add_argument("--log", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--lease", type=float, default=1.0)
    parser.add_argument("--work", type=float, default=0.0)
    anyio.run(main, parser.parse_args())

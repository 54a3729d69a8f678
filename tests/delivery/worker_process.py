"""A delivery worker process for the durability test (run as a script).

It runs a :class:`Worker` over an :class:`Outbox` with an :class:`HttpTransport` on the
queue and store named on the command line, signing with the PEM key file it is given (its
"key store": the key is never in a queue message).  It prints ``ready`` once running and
stops on SIGTERM; the test SIGKILLs it mid-fan-out.
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import Any

import anyio

from activitypub_kit.delivery import HttpTransport, Outbox
from activitypub_kit.http import HttpClient, HttpSettings
from activitypub_kit.signatures import load_private_key_pem
from activitypub_kit.storage import Worker

KEY_ID = "https://me.example/users/alice#main-key"


def backend(kind: str, target: str, space: str) -> tuple[Any, Any]:
    if kind == "sqlite":
        from activitypub_kit.storage import SqliteDatabase, SqliteQueue, SqliteStore

        db = SqliteDatabase(target)
        return SqliteQueue(db, poll_interval=0.05), SqliteStore(db)
    if kind == "postgres":
        from activitypub_kit.storage.postgres import PostgresDatabase, PostgresQueue, PostgresStore

        pg = PostgresDatabase(target, schema=space)
        return PostgresQueue(pg, poll_interval=0.1), PostgresStore(pg)
    from activitypub_kit.storage.redis import RedisQueue, RedisStore

    return RedisQueue(target, prefix=space, poll_interval=0.1), RedisStore(target, prefix=space)


async def main(args: argparse.Namespace) -> None:
    key = load_private_key_pem(Path(args.key).read_bytes())  # noqa: ASYNC240 - start-up

    async def keys(key_ref: str) -> tuple[str, Any]:
        if key_ref != KEY_ID:
            raise KeyError(key_ref)
        return KEY_ID, key

    queue, store = backend(args.backend, args.target, args.space)
    settings = HttpSettings.for_local_testing(read_timeout=5.0, max_connections=1000)
    async with HttpClient(settings) as client:
        outbox = Outbox(queue, store, HttpTransport(client, keys), shards=args.shards)
        worker = Worker(
            queue, outbox.handle, concurrency=args.concurrency, lease=args.lease, poll_wait=0.2
        )
        async with anyio.create_task_group() as group:
            group.start_soon(worker.run)
            with anyio.open_signal_receiver(signal.SIGTERM) as signals:
                print("ready", flush=True)
                async for _ in signals:
                    await worker.stop(grace=5)
                    break
    await queue.aclose()
    await store.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("backend", choices=["sqlite", "postgres", "redis"])
    parser.add_argument("target")
    parser.add_argument("--space", default="")
    parser.add_argument("--key", required=True)
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--shards", type=int, default=16)
    anyio.run(main, parser.parse_args())

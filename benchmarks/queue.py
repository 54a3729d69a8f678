"""Message queue throughput and dequeue latency, per backend, against a raw baseline.

    python benchmarks/queue.py                       # every reachable backend
    python benchmarks/queue.py --backend postgres --backend redis --json

Per backend:

- cycle throughput: one producer enqueues N messages while consumers receive (batches of
  10) and ack them, with 1 and with 4 consumers as tasks of this process (each its own
  queue handle and connections), in messages/s;
- drain throughput: receive+ack of 2N queued messages by 1 and by 4 consumer *processes*
  (``_queue_consumer.py``; not for the in-memory backend), which is how workers scale;
- dequeue latency: receive(1) + ack with a backlog of 100,000 messages and with an almost
  empty queue (median and p99, ms) — the ratio shows whether dequeue cost grows with the
  backlog;
- baseline on the same server in the same run: the plainest queue the server offers
  (deque append/popleft; sqlite3 INSERT + DELETE ... RETURNING; psycopg INSERT + DELETE ...
  RETURNING; Redis LPUSH + RPOP), also with a 100,000-item backlog for latency.

The 100,000-message backlogs are bulk-loaded (one INSERT ... SELECT, executemany, or a
pipeline of the enqueue script) to keep the run under a minute per backend; the rows are
the same as enqueue writes.  PostgreSQL and Redis are reached on loopback only
(ACTIVITYPUB_KIT_POSTGRES_URL / ACTIVITYPUB_KIT_REDIS_URL).
"""

from __future__ import annotations

import sys

# This file is named like the stdlib module ``queue`` (which asyncio imports): take its
# own folder off the import path before anything else is imported.
if sys.path and sys.path[0] and __file__.startswith(sys.path[0]):
    sys.path.pop(0)

import argparse
import collections
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import anyio.to_thread

from activitypub_kit.storage import MemoryQueue, MessageQueue, SqliteQueue

PG_URL = os.environ.get("ACTIVITYPUB_KIT_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ACTIVITYPUB_KIT_REDIS_URL", "redis://127.0.0.1:6379/0")
BODY = {"type": "Create", "actor": "https://example.com/users/alice", "object": {"n": 1}}
BACKENDS = ["memory", "sqlite", "postgres", "redis"]


def reachable(url: str, port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or port), 1):
            return True
    except OSError:
        return False


class Backend:
    """Makes queue handles and raw baselines for one backend, and cleans up."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.run = uuid.uuid4().hex[:8]
        self.tmp = Path(tempfile.mkdtemp(prefix="apk-bench-"))
        self.handles: list[MessageQueue] = []
        self.memory: dict[str, MemoryQueue] = {}

    def queue(self, name: str) -> MessageQueue:
        handle: MessageQueue
        if self.kind == "memory":
            handle = self.memory.setdefault(name, MemoryQueue())
        elif self.kind == "sqlite":
            handle = SqliteQueue(self.tmp / "bench.sqlite", name=name, poll_interval=0.05)
        elif self.kind == "postgres":
            from activitypub_kit.storage.postgres import PostgresQueue

            handle = PostgresQueue(PG_URL, schema=f"apk_bench_{self.run}", name=name)
        else:
            from activitypub_kit.storage.redis import RedisQueue

            handle = RedisQueue(REDIS_URL, prefix=f"apk_bench_{self.run}:", name=name)
        self.handles.append(handle)
        return handle

    async def bulk_fill(self, queue: MessageQueue, count: int) -> None:
        """Load ``count`` ready messages fast (same rows enqueue writes)."""
        body = json.dumps(BODY, sort_keys=True, separators=(",", ":"))
        now = time.time()
        if self.kind == "memory":
            for _ in range(count):
                await queue.enqueue(BODY)
        elif self.kind == "sqlite":
            assert isinstance(queue, SqliteQueue)
            name = queue.name

            def fill(conn: sqlite3.Connection) -> None:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    "INSERT INTO apk_queue (queue, id, body, ordering_key, enqueued_at,"
                    " visible_at, head) VALUES (?, ?, ?, NULL, ?, ?, 1)",
                    ((name, uuid.uuid4().hex, body, now, now) for _ in range(count)),
                )
                conn.execute("COMMIT")

            await queue.db.run(fill)
        elif self.kind == "postgres":
            db = queue.db  # type: ignore[attr-defined]
            async with db.connection() as conn:
                await conn.execute(
                    db.q(
                        "INSERT INTO {s}.apk_queue (queue, id, body, enqueued_at, visible_at,"
                        " head) SELECT %s, md5(random()::text || i), %s, %s, %s, true"
                        " FROM generate_series(1, %s) AS i"
                    ),
                    (queue.name, body, now, now, count),  # type: ignore[attr-defined]
                )
                await conn.execute(db.q("ANALYZE {s}.apk_queue"))
        else:
            from activitypub_kit.storage.redis import RedisQueue

            assert isinstance(queue, RedisQueue)
            from activitypub_kit.storage.redis import _scripts as scripts

            client = queue.conn.client
            sha = await client.script_load(scripts.ENQUEUE)
            keys = [queue.key_prefix + n for n in ("seq", "body", "okey", "due", "ready", "all")]
            keys += [queue.key_prefix + "chain:", queue.key_prefix + "dedup:", "unused"]
            args = [body, repr(now), repr(now), "", "", "0"]
            for start in range(0, count, 5000):
                async with client.pipeline(transaction=False) as pipe:
                    for _ in range(min(5000, count - start)):
                        pipe.evalsha(sha, len(keys), *keys, *args)
                    await pipe.execute()

    async def close(self) -> None:
        for handle in self.handles:
            await handle.aclose()
        if self.kind == "postgres":
            import psycopg

            async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as conn:
                await conn.execute(f'DROP SCHEMA IF EXISTS "apk_bench_{self.run}" CASCADE')
                await conn.execute("DROP TABLE IF EXISTS apk_bench_raw")
        elif self.kind == "redis":
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(REDIS_URL)
            async for key in client.scan_iter(match=f"apk_bench_{self.run}:*", count=1000):
                await client.delete(key)
            await client.delete("apk_bench_raw")
            await client.aclose()


async def cycle(backend: Backend, n: int, consumers: int) -> float:
    """Enqueue ``n`` messages then drain them with ``consumers`` handles; messages/s."""
    name = f"cycle-{consumers}-{uuid.uuid4().hex[:6]}"
    producer = backend.queue(name)
    handles = [backend.queue(name) for _ in range(consumers)]
    await producer.stats()  # connect and migrate outside the timing
    for handle in handles:
        await handle.stats()
    done = 0
    start = time.perf_counter()

    async def produce() -> None:
        for _ in range(n):
            await producer.enqueue(BODY)

    async def consume(handle: MessageQueue) -> None:
        nonlocal done
        while done < n:
            got = await handle.receive(lease=30, max_messages=10, wait=0.05)
            for message in got:
                await handle.ack(message)
            done += len(got)

    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        for handle in handles:
            tg.start_soon(consume, handle)
    return n / (time.perf_counter() - start)


CONSUMER = Path(__file__).with_name("_queue_consumer.py")


async def drain_processes(backend: Backend, n: int, processes: int) -> float:
    """receive+ack messages/s of ``processes`` consumer processes draining ``n`` messages."""
    name = f"procs-{processes}-{uuid.uuid4().hex[:6]}"
    queue = backend.queue(name)
    await queue.stats()
    await backend.bulk_fill(queue, n)
    target, space = {
        "sqlite": (str(backend.tmp / "bench.sqlite"), ""),
        "postgres": (PG_URL, f"apk_bench_{backend.run}"),
        "redis": (REDIS_URL, f"apk_bench_{backend.run}:"),
    }[backend.kind]
    argv = [sys.executable, str(CONSUMER), backend.kind, target, space, name]
    children = [
        subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220
        for _ in range(processes)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            line = await anyio.to_thread.run_sync(child.stdout.readline)
            assert line.strip() == "ready", line
        go = time.time()
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        outputs = [(await anyio.to_thread.run_sync(child.communicate))[0] for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    counts = [line.split() for line in outputs]
    assert sum(int(count) for count, _ in counts) == n, counts
    return n / (max(float(last) for _, last in counts) - go)


async def latency(backend: Backend, backlog: int, samples: int) -> tuple[float, float]:
    """Median and p99 of receive(1) + ack, in ms, with ``backlog`` messages waiting."""
    queue = backend.queue(f"latency-{backlog}-{uuid.uuid4().hex[:6]}")
    await queue.stats()
    await backend.bulk_fill(queue, backlog + samples)
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        (message,) = await queue.receive(lease=30)
        await queue.ack(message)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=100)[98]


async def baseline(kind: str, n: int, backlog: int, samples: int) -> dict[str, float]:
    """The raw queue of the same server: cycle messages/s and dequeue latency (ms)."""
    ops: tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]
    cleanup: Callable[[], Awaitable[None]]
    if kind == "memory":
        dq: collections.deque[str] = collections.deque()

        async def push() -> None:
            dq.append(json.dumps(BODY))

        async def pop() -> None:
            json.loads(dq.popleft())

        async def fill(count: int) -> None:
            dq.extend(json.dumps(BODY) for _ in range(count))

        async def nothing() -> None:
            return None

        ops, cleanup = (push, pop), nothing
    elif kind == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="apk-bench-raw-")) / "raw.sqlite"
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE raw (id INTEGER PRIMARY KEY, body TEXT)")

        async def push() -> None:
            conn.execute("INSERT INTO raw (body) VALUES (?)", (json.dumps(BODY),))

        async def pop() -> None:
            conn.execute(
                "DELETE FROM raw WHERE id = (SELECT min(id) FROM raw) RETURNING body"
            ).fetchone()

        async def fill(count: int) -> None:
            conn.executemany("INSERT INTO raw (body) VALUES (?)", [(json.dumps(BODY),)] * count)

        async def close_sqlite() -> None:
            conn.close()

        ops, cleanup = (push, pop), close_sqlite
    elif kind == "postgres":
        import psycopg

        pg = await psycopg.AsyncConnection.connect(PG_URL, autocommit=True)
        await pg.execute("DROP TABLE IF EXISTS apk_bench_raw")
        await pg.execute("CREATE TABLE apk_bench_raw (id bigserial PRIMARY KEY, body text)")

        async def push() -> None:
            await pg.execute("INSERT INTO apk_bench_raw (body) VALUES (%s)", (json.dumps(BODY),))

        async def pop() -> None:
            cur = await pg.execute(
                "DELETE FROM apk_bench_raw WHERE id = (SELECT id FROM apk_bench_raw"
                " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING body"
            )
            await cur.fetchone()

        async def fill(count: int) -> None:
            await pg.execute(
                "INSERT INTO apk_bench_raw (body) SELECT %s FROM generate_series(1, %s)",
                (json.dumps(BODY), count),
            )
            await pg.execute("ANALYZE apk_bench_raw")

        async def close_pg() -> None:
            await pg.execute("DROP TABLE IF EXISTS apk_bench_raw")
            await pg.close()

        ops, cleanup = (push, pop), close_pg
    else:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(REDIS_URL)
        await client.delete("apk_bench_raw")

        async def push() -> None:
            await client.lpush("apk_bench_raw", json.dumps(BODY))

        async def pop() -> None:
            await client.rpop("apk_bench_raw")

        async def fill(count: int) -> None:
            for start in range(0, count, 5000):
                async with client.pipeline(transaction=False) as pipe:
                    for _ in range(min(5000, count - start)):
                        pipe.lpush("apk_bench_raw", json.dumps(BODY))
                    await pipe.execute()

        async def close_redis() -> None:
            await client.delete("apk_bench_raw")
            await client.aclose()

        ops, cleanup = (push, pop), close_redis
    push_op, pop_op = ops
    try:
        start = time.perf_counter()
        for _ in range(n):
            await push_op()
        for _ in range(n):
            await pop_op()
        rate = n / (time.perf_counter() - start)
        await fill(backlog + samples)
        times = []
        for _ in range(samples):
            begin = time.perf_counter()
            await pop_op()
            times.append((time.perf_counter() - begin) * 1000)
        return {"cycle": rate, "latency_median_ms": statistics.median(times)}
    finally:
        await cleanup()


async def measure(kind: str, n: int, backlog: int, samples: int) -> dict[str, float]:
    backend = Backend(kind)
    try:
        figures = {
            "cycle_1_consumer_msgs_per_s": await cycle(backend, n, 1),
            "cycle_4_consumers_msgs_per_s": await cycle(backend, n, 4),
        }
        if kind != "memory":  # one process only
            figures["drain_1_process_msgs_per_s"] = await drain_processes(backend, 2 * n, 1)
            figures["drain_4_processes_msgs_per_s"] = await drain_processes(backend, 2 * n, 4)
        small = await latency(backend, 10, samples)
        large = await latency(backend, backlog, samples)
        figures["dequeue_latency_median_ms_small"] = small[0]
        figures["dequeue_latency_median_ms_backlog"] = large[0]
        figures["dequeue_latency_p99_ms_backlog"] = large[1]
    finally:
        await backend.close()
    base = await baseline(kind, n, backlog, samples)
    figures["baseline_cycle_msgs_per_s"] = base["cycle"]
    figures["baseline_dequeue_latency_median_ms_backlog"] = base["latency_median_ms"]
    return figures


def ratios_of(figures: dict[str, float]) -> dict[str, float]:
    extra = {}
    if "drain_1_process_msgs_per_s" in figures:
        extra["drain_4_processes_vs_1"] = (
            figures["drain_4_processes_msgs_per_s"] / figures["drain_1_process_msgs_per_s"]
        )
    return extra | {
        "cycle_1_vs_baseline": figures["cycle_1_consumer_msgs_per_s"]
        / figures["baseline_cycle_msgs_per_s"],
        "cycle_4_vs_1": figures["cycle_4_consumers_msgs_per_s"]
        / figures["cycle_1_consumer_msgs_per_s"],
        "latency_backlog_vs_small": figures["dequeue_latency_median_ms_backlog"]
        / figures["dequeue_latency_median_ms_small"],
        "latency_backlog_vs_baseline": figures["dequeue_latency_median_ms_backlog"]
        / figures["baseline_dequeue_latency_median_ms_backlog"],
    }


async def main(args: argparse.Namespace) -> None:
    kinds = args.backend or [
        k
        for k in BACKENDS
        if (k != "postgres" or reachable(PG_URL, 5432))
        and (k != "redis" or reachable(REDIS_URL, 6379))
    ]
    figures: dict[str, float] = {}
    ratios: dict[str, float] = {}
    for kind in kinds:
        started = time.perf_counter()
        got = await measure(kind, args.messages, args.backlog, args.samples)
        figures.update({f"{kind}.{k}": v for k, v in got.items()})
        ratios.update({f"{kind}.{k}": v for k, v in ratios_of(got).items()})
        figures[f"{kind}.seconds"] = time.perf_counter() - started
    if args.json:
        print(json.dumps({"benchmark": "queue", "figures": figures, "ratios": ratios}))
        return
    print(f"queue benchmark: {args.messages} messages per cycle, backlog {args.backlog}")
    for kind in kinds:
        f = {k.split(".", 1)[1]: v for k, v in figures.items() if k.startswith(kind + ".")}
        r = {k.split(".", 1)[1]: v for k, v in ratios.items() if k.startswith(kind + ".")}
        backlog = f"{args.backlog} backlog"
        rows = [
            ("enqueue+receive+ack, 1 consumer", f["cycle_1_consumer_msgs_per_s"], "msg/s", ""),
            (
                "enqueue+receive+ack, 4 consumers",
                f["cycle_4_consumers_msgs_per_s"],
                "msg/s",
                f"x{r['cycle_4_vs_1']:.2f} of 1 consumer",
            ),
            (
                "baseline push+pop (raw)",
                f["baseline_cycle_msgs_per_s"],
                "msg/s",
                f"1 consumer = {r['cycle_1_vs_baseline']:.2f} x baseline",
            ),
            ("receive+ack, 1 consumer process", f.get("drain_1_process_msgs_per_s"), "msg/s", ""),
            (
                "receive+ack, 4 consumer processes",
                f.get("drain_4_processes_msgs_per_s"),
                "msg/s",
                f"x{r['drain_4_processes_vs_1']:.2f} of 1 process"
                if "drain_4_processes_vs_1" in r
                else "",
            ),
            ("dequeue+ack median, ~empty", f["dequeue_latency_median_ms_small"], "ms", ""),
            (
                f"dequeue+ack median, {backlog}",
                f["dequeue_latency_median_ms_backlog"],
                "ms",
                f"x{r['latency_backlog_vs_small']:.2f} of ~empty",
            ),
            (f"dequeue+ack p99, {backlog}", f["dequeue_latency_p99_ms_backlog"], "ms", ""),
            (
                f"baseline pop median, {backlog}",
                f["baseline_dequeue_latency_median_ms_backlog"],
                "ms",
                f"ours = {r['latency_backlog_vs_baseline']:.2f} x baseline",
            ),
        ]
        print(f"\n{kind}  ({f['seconds']:.1f} s)")
        for label, value, unit, note in rows:
            if value is None:
                continue
            digits = 0 if unit == "msg/s" else 3
            print(f"  {label:40} {value:12.{digits}f} {unit:6} {note}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", action="append", choices=BACKENDS)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    anyio.run(main, parser.parse_args())

"""Signed deliveries per second: one activity fanned out to many hosts, real HTTP, real queue.

    python benchmarks/fanout.py                                  # 1,000 hosts, 10,000 followers
    python benchmarks/fanout.py --hosts 1000 --followers 10000 --queue sqlite --json
    python benchmarks/fanout.py --queue postgres --workers 2 --rounds 5

Inbox sinks run in another process (``tests/delivery/sinks.py``): one listening socket per
host on 127.0.0.x:port, answering ``202`` and verifying a sample of the signatures and
digests (every 50th POST).  ``--workers`` worker processes each run a :class:`Worker` with
an :class:`Outbox` and an :class:`HttpTransport` (RSA-2048, draft-cavage) on the chosen
queue; this process sends one ``Create`` per round to ``{"followers": ...}`` and waits until
the queue is empty.  A round's time runs from ``send()`` to the last batch acknowledged, so
it includes the fan-out, planning, every store and queue operation, signing and the POSTs.
The first round also opens a connection to every host; later rounds reuse them.

Baselines measured in the same run, on the same machine:

- raw RSA-2048 signing rate (``cryptography``, PKCS#1 v1.5 / SHA-256, a signing string of
  the same length) in one process: what one core can sign;
- raw unsigned POST rate: aiohttp posting the same body to the same sinks (no queue, no
  signature), concurrency 128, over the same hosts.
"""

from __future__ import annotations

import sys

# benchmarks/queue.py shadows the stdlib module ``queue``: keep this folder off the path.
if sys.path and sys.path[0] and __file__.startswith(sys.path[0]):
    sys.path.pop(0)

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SINK = ROOT / "tests" / "delivery" / "sinks.py"
KEY_ID = "https://bench.example/users/alice#main-key"


# -- backends --------------------------------------------------------------------------


def open_backend(kind: str, target: str, space: str) -> tuple[Any, Any]:
    """A (queue, store) pair on the chosen backend."""
    if kind == "sqlite":
        from activitypub_kit.storage import SqliteDatabase, SqliteQueue, SqliteStore

        db = SqliteDatabase(target)
        return SqliteQueue(db, poll_interval=0.02), SqliteStore(db)
    if kind == "postgres":
        from activitypub_kit.storage.postgres import PostgresDatabase, PostgresQueue, PostgresStore

        pg = PostgresDatabase(target, schema=space)
        return PostgresQueue(pg, poll_interval=0.05), PostgresStore(pg)
    from activitypub_kit.storage.redis import RedisQueue, RedisStore

    return RedisQueue(target, prefix=space, poll_interval=0.05), RedisStore(target, prefix=space)


class Followers:
    """The sender's followers: ``per_host`` actors on each sink host, with a shared inbox."""

    def __init__(self, hosts: list[str], followers: int) -> None:
        self.hosts = hosts
        self.followers = followers

    async def expand(self, audience: Any) -> Any:
        from activitypub_kit.delivery import Recipient

        hosts = self.hosts
        for n in range(self.followers):
            host = hosts[n % len(hosts)]
            yield Recipient(
                id=f"http://{host}/users/u{n}",
                inbox=f"http://{host}/users/u{n}/inbox",
                shared_inbox=f"http://{host}/inbox",
            )


# -- worker process --------------------------------------------------------------------


async def worker_main(args: argparse.Namespace) -> None:
    """Run one delivery worker until SIGTERM; print its counters as JSON."""
    import resource

    import anyio

    from activitypub_kit.delivery import HttpTransport, Outbox
    from activitypub_kit.http import HttpClient, HttpSettings
    from activitypub_kit.signatures import DoubleKnock, load_private_key_pem
    from activitypub_kit.storage import Worker

    setup = json.loads(Path(args.setup).read_text())  # noqa: ASYNC240 - start-up, before work
    key = load_private_key_pem(Path(setup["key"]).read_bytes())  # noqa: ASYNC240

    async def keys(key_ref: str) -> tuple[str, Any]:
        return KEY_ID, key

    queue, store = open_backend(args.queue, setup["target"], setup["space"])
    settings = HttpSettings.for_local_testing(max_connections=len(setup["hosts"]) + 64)
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="disabled")
    async with HttpClient(settings) as client:
        transport = HttpTransport(client, keys, knock=DoubleKnock(store))
        outbox = Outbox(
            queue, store, transport, resolver=Followers(setup["hosts"], setup["followers"])
        )
        worker = Worker(queue, outbox.handle, concurrency=args.concurrency, poll_wait=0.2)
        async with anyio.create_task_group() as group:
            group.start_soon(worker.run)
            with anyio.open_signal_receiver(signal.SIGTERM) as signals:
                ready = resource.getrusage(resource.RUSAGE_SELF)
                print("ready", flush=True)
                if profiler is not None:
                    profiler.start()
                async for _ in signals:
                    await worker.stop(grace=5)
                    break
    if profiler is not None:
        profiler.stop()
        Path(args.profile).write_text(  # noqa: ASYNC240 - after the work
            profiler.output_text(
                unicode=False, color=False, show_all=bool(os.environ.get("APK_PROFILE_ALL"))
            )
        )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - ready.ru_utime - ready.ru_stime
    print(json.dumps({**outbox.stats.as_dict(), "cpu": cpu}), flush=True)
    await queue.aclose()
    await store.aclose()


# -- baselines -------------------------------------------------------------------------


def raw_signing_rate(key: Any, seconds: float) -> float:
    """RSA-2048 PKCS#1 v1.5 signatures per second with bare ``cryptography``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    text = ("(request-target): post /inbox\nhost: 127.0.0.1:40000\n" + "x" * 200).encode()
    pad, sha = padding.PKCS1v15(), hashes.SHA256()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            key.sign(text, pad, sha)
        count += 50
    return count / (time.perf_counter() - start)


async def raw_post_rate(hosts: list[str], body: bytes, total: int) -> float:
    """Unsigned POSTs per second with bare aiohttp to the same sinks (concurrency 128)."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=len(hosts) + 64)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(host: str) -> None:
            async with session.post(
                f"http://{host}/raw", data=body, headers={"Content-Type": "application/json"}
            ) as response:
                await response.read()

        async def lane(start: int) -> None:
            for n in range(start, total, 128):
                await one(hosts[n % len(hosts)])

        await asyncio.gather(*(lane(i) for i in range(128)))  # warm: one connection per host
        began = time.perf_counter()
        await asyncio.gather(*(lane(i) for i in range(128)))
        return total / (time.perf_counter() - began)


# -- the run ---------------------------------------------------------------------------


class Sinks:
    """The sink process."""

    def __init__(self, hosts: int, public_key: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(SINK), "--hosts", str(hosts), "--verify-every", "50",
             "--public-key", str(public_key)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.hosts: list[str] = json.loads(self.proc.stdout.readline())["hosts"]

    def stats(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        result: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return result

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def space_for(kind: str) -> tuple[str, str]:
    """Where this run's queue lives: (target, schema-or-prefix)."""
    run = uuid.uuid4().hex[:8]
    if kind == "postgres":
        return os.environ.get(
            "ACTIVITYPUB_KIT_POSTGRES_URL", "postgresql://127.0.0.1:5432/test"
        ), f"apk_bench_{run}"
    if kind == "redis":
        return os.environ.get(
            "ACTIVITYPUB_KIT_REDIS_URL", "redis://127.0.0.1:6379/0"
        ), f"apk_bench_{run}:"
    return "", ""


async def cleanup(kind: str, target: str, space: str) -> None:
    """Drop the PostgreSQL schema / Redis keys of this run."""
    if kind == "postgres":
        import psycopg

        async with await psycopg.AsyncConnection.connect(target, autocommit=True) as conn:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{space}" CASCADE')
    elif kind == "redis":
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(target)
        async for key in client.scan_iter(match=f"{space}*", count=1000):
            await client.delete(key)
        await client.aclose()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Baselines, then ``rounds`` fan-outs; return the figures."""
    from activitypub_kit.delivery import Outbox
    from activitypub_kit.signatures import generate_rsa_key, private_key_to_pem, public_key_to_pem

    key = generate_rsa_key()
    tmp = Path(tempfile.mkdtemp(prefix="apk-fanout-"))
    (tmp / "key.pem").write_text(private_key_to_pem(key))
    (tmp / "public.pem").write_text(public_key_to_pem(key))
    sinks = Sinks(args.hosts, tmp / "public.pem")
    target, space = space_for(args.queue)
    if args.queue == "sqlite":
        target = str(tmp / "outbox.sqlite")
    setup = {"key": str(tmp / "key.pem"), "target": target, "space": space,
             "hosts": sinks.hosts, "followers": args.followers}  # fmt: skip
    (tmp / "setup.json").write_text(json.dumps(setup))
    activity_body = b"x" * 1200
    figures: dict[str, Any] = {}
    try:
        figures["raw_rsa2048_signs_per_s"] = raw_signing_rate(key, 1.0)
        figures["raw_unsigned_posts_per_s"] = await raw_post_rate(
            sinks.hosts, activity_body, max(2000, args.hosts * 2)
        )
        queue, store = open_backend(args.queue, target, space)
        # the sender's side: send() only (the transport is never used here)
        outbox = Outbox(queue, store, transport=None)  # type: ignore[arg-type]
        workers = []
        for index in range(args.workers):
            argv = [sys.executable, __file__, "--worker", "--setup", str(tmp / "setup.json"),
                    "--queue", args.queue, "--concurrency", str(args.concurrency)]  # fmt: skip
            if args.profile and index == 0:
                argv += ["--profile", args.profile]
            # start-up, before anything is measured
            workers.append(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True))  # noqa: ASYNC220
        for proc in workers:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        rates = []
        posts_before = sinks.stats()["posts"]
        for round_ in range(args.rounds):
            activity = {
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": f"https://bench.example/activities/{round_}",
                "type": "Create",
                "actor": "https://bench.example/users/alice",
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
                "object": {"id": f"https://bench.example/notes/{round_}", "type": "Note",
                           "content": "hello " * 150},
            }  # fmt: skip
            began = time.perf_counter()
            await outbox.send(activity, key_ref=KEY_ID, to=[{"followers": "alice"}])
            # the workers are other processes: the queue's depth is the only signal
            while (await queue.stats()).depth:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - began
            stats = sinks.stats()
            posts = stats["posts"] - posts_before
            posts_before = stats["posts"]
            rates.append(posts / elapsed)
            figures[f"round_{round_ + 1}_posts"] = posts
            figures[f"round_{round_ + 1}_seconds"] = elapsed
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        worker_stats = []
        for proc in workers:
            out, _ = proc.communicate(timeout=30)
            worker_stats.append(json.loads(out.strip().splitlines()[-1]))
        final = sinks.stats()
        figures["posts_per_round"] = figures["round_1_posts"]
        figures["signed_deliveries_per_s_first_round"] = rates[0]
        figures["signed_deliveries_per_s"] = statistics.median(rates[1:] or rates)
        figures["signed_deliveries_per_s_best"] = max(rates)
        figures["sent_by_workers"] = sum(w["sent"] for w in worker_stats)
        figures["worker_cpu_ms_per_delivery"] = (
            1000 * sum(w["cpu"] for w in worker_stats) / max(1, figures["sent_by_workers"])
        )
        figures["verified_sample"] = final["verified"]
        figures["sink_problems"] = len(final["problems"])
        figures["connections_opened"] = final["connections"]
        if final["problems"]:
            print("sink problems:", final["problems"], file=sys.stderr)
        await queue.aclose()
        await store.aclose()
    finally:
        sinks.close()
        await cleanup(args.queue, target, space)
    return figures


def main() -> None:
    """Parse arguments, run, print a table or one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--followers", type=int, default=10000)
    parser.add_argument("--queue", choices=["sqlite", "redis", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=8, help="messages per worker")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--profile", default=None, help="pyinstrument text profile of worker 1")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--setup", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(worker_main(args))
        return
    figures = asyncio.run(run(args))
    sign = figures["raw_rsa2048_signs_per_s"]
    raw = figures["raw_unsigned_posts_per_s"]
    rate = figures["signed_deliveries_per_s"]
    ratios = {
        "signed_deliveries_vs_raw_signing": rate / sign,
        "signed_deliveries_vs_raw_posts": rate / raw,
        "posts_per_host": figures["posts_per_round"] / args.hosts,
    }
    if args.json:
        print(json.dumps({"benchmark": "fanout", "figures": figures, "ratios": ratios}))
        return
    print(
        f"fan-out of one activity: {args.followers:,} followers on {args.hosts:,} hosts, "
        f"{args.queue} queue, {args.workers} worker process(es), {os.cpu_count()} CPUs"
    )
    rows = [
        ("POSTs per activity", f"{figures['posts_per_round']:,}"),
        ("signed deliveries/s (warm, median)", f"{rate:,.0f}"),
        ("signed deliveries/s (first round, cold)",
         f"{figures['signed_deliveries_per_s_first_round']:,.0f}"),
        ("signed deliveries/s (best round)", f"{figures['signed_deliveries_per_s_best']:,.0f}"),
        ("worker CPU per delivery, ms (after start-up)",
         f"{figures['worker_cpu_ms_per_delivery']:.2f}"),
        ("raw RSA-2048 signatures/s (1 process)", f"{sign:,.0f}"),
        ("raw unsigned POSTs/s (aiohttp)", f"{raw:,.0f}"),
        ("signatures verified by the sinks (sample)", f"{figures['verified_sample']:,}"),
        ("sink verification problems", f"{figures['sink_problems']}"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>10}")
    for name, value in ratios.items():
        print(f"  {name:<{width}}  {value:>10.2f}")


if __name__ == "__main__":
    main()

"""Acceptance: a delivery worker SIGKILLed mid-fan-out loses nothing.

A worker process (``worker_process.py``) delivers one activity to 300 loopback hosts.  Once
100 POSTs have arrived the sinks stop answering (so the kill lands mid-fan-out, with
batches leased and POSTs in flight), the test SIGKILLs the worker, and a new worker
process takes over after the leases expire.  Every host must end up with the activity; the
hosts that got it twice (work redone after the crash) are counted and printed.  Runs on
SQLite, PostgreSQL and Redis (the latter two skip when the server is absent).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from activitypub_kit.delivery import Outbox, Recipient
from activitypub_kit.signatures import private_key_to_pem
from activitypub_kit.testing import wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("worker_process.py")
KEY = "https://me.example/users/alice#main-key"
HOSTS, KILL_AFTER, SHARDS = 300, 100, 16


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def space(request, tmp_path):
    """(backend, target, schema-or-prefix) for one test, cleaned up afterwards."""
    run = uuid.uuid4().hex[:8]
    if request.param == "sqlite":
        yield "sqlite", str(tmp_path / "outbox.sqlite"), ""
        return
    if request.param == "postgres":
        import psycopg

        url = request.getfixturevalue("postgres_url")
        schema = f"apk_delivery_{run}"
        yield "postgres", url, schema
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        return
    import redis

    url = request.getfixturevalue("redis_url")
    prefix = f"apk_delivery_{run}:"
    yield "redis", url, prefix
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


def handles(kind, target, space):
    if kind == "sqlite":
        from activitypub_kit.storage import SqliteDatabase, SqliteQueue, SqliteStore

        db = SqliteDatabase(target)
        return SqliteQueue(db), SqliteStore(db)
    if kind == "postgres":
        from activitypub_kit.storage.postgres import PostgresDatabase, PostgresQueue, PostgresStore

        pg = PostgresDatabase(target, schema=space)
        return PostgresQueue(pg), PostgresStore(pg)
    from activitypub_kit.storage.redis import RedisQueue, RedisStore

    return RedisQueue(target, prefix=space), RedisStore(target, prefix=space)


async def spawn(kind, target, space, key_file):
    argv = [sys.executable, str(SCRIPT), kind, target, "--space", space, "--key", str(key_file),
            "--shards", str(SHARDS)]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220
    assert proc.stdout is not None
    line = await anyio.to_thread.run_sync(proc.stdout.readline)
    assert line.strip() == "ready"
    return proc


async def test_sigkill_mid_fanout_loses_nothing(space, farm, rsa_key, tmp_path, capsys):
    kind, target, schema = space
    key_file = tmp_path / "key.pem"
    key_file.write_text(private_key_to_pem(rsa_key))  # the worker's key store
    hosts = await farm.start(HOSTS)

    def behaviour(host, n, received):
        if farm.total >= KILL_AFTER and farm.paused is None:
            farm.paused = asyncio.Event()  # stop answering: the worker is mid-fan-out
        return ("status", 202, {})

    farm.behaviour = behaviour
    queue, store = handles(kind, target, schema)
    outbox = Outbox(queue, store, transport=None, shards=SHARDS)  # type: ignore[arg-type]
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://me.example/activities/1",
        "type": "Create",
        "actor": "https://me.example/users/alice",
        "object": {"id": "https://me.example/notes/1", "type": "Note", "content": "hi"},
    }
    recipients = [Recipient(f"http://{h}/users/u", f"http://{h}/users/u/inbox") for h in hosts]
    await outbox.send(activity, key_ref=KEY, to=recipients)

    first = await spawn(kind, target, schema, key_file)
    try:

        async def paused():
            return farm.paused is not None

        await wait_until(paused, within=60, message=f"{KILL_AFTER} POSTs")
    finally:
        first.send_signal(signal.SIGKILL)
        await anyio.to_thread.run_sync(first.wait)
    assert first.returncode == -signal.SIGKILL
    reached_before = {h for h in hosts if farm.delivered(h, activity["id"])}
    assert len(reached_before) < HOSTS  # really killed mid-fan-out
    assert (await queue.stats()).depth > 0
    assert farm.paused is not None
    farm.paused.set()  # answers held for the dead worker go nowhere

    second = await spawn(kind, target, schema, key_file)
    try:

        async def all_reached():
            done = all(farm.delivered(h, activity["id"]) for h in hosts)
            return done and (await queue.stats()).depth == 0

        await wait_until(all_reached, within=60, message="every host reached after restart")
    finally:
        second.send_signal(signal.SIGTERM)
        await anyio.to_thread.run_sync(second.wait)
    copies = {h: farm.delivered(h, activity["id"]) for h in hosts}
    twice = sum(1 for n in copies.values() if n > 1)
    assert farm.problems == []
    with capsys.disabled():
        print(
            f"\n[delivery durability/{kind}] {len(reached_before)} of {HOSTS} hosts reached "
            f"before SIGKILL; after restart all {HOSTS} reached; {twice} hosts got the "
            f"activity twice, max copies {max(copies.values())}"
        )
    await queue.aclose()
    await store.aclose()

"""Workers in separate processes: SIGKILL mid-batch loses nothing; 4 processes share a queue.

The multi-process test runs on SQLite too (4 processes on one file), beside the required
PostgreSQL and Redis runs.

Each worker process (``worker_process.py``) logs every handler run; the tests read the
logs.  Duplicate counts are printed and recorded as test properties, and collected for the
terminal summary by ``conftest.py`` (the ``storage_report`` property).
"""

from __future__ import annotations

import collections
import itertools
import json
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from activitypub_kit.storage import MessageQueue
from activitypub_kit.testing import wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("worker_process.py")


class Setup:
    """Where one test's queue lives, for this process and for worker processes."""

    def __init__(self, backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.backend = backend
        self.name = f"proc-{uuid.uuid4().hex[:8]}"
        self.space = ""
        if backend == "sqlite":
            self.target = str(tmp_path / "queue.sqlite")
        elif backend == "postgres":
            self.target = request.getfixturevalue("postgres_url")
            self.space = request.getfixturevalue("pg_schema")
        else:
            self.target = request.getfixturevalue("redis_url")
            self.space = request.getfixturevalue("redis_prefix")
        self.handles: list[MessageQueue] = []

    def queue(self) -> MessageQueue:
        if self.backend == "sqlite":
            from activitypub_kit.storage import SqliteQueue

            handle: MessageQueue = SqliteQueue(self.target, name=self.name)
        elif self.backend == "postgres":
            from activitypub_kit.storage.postgres import PostgresQueue

            handle = PostgresQueue(self.target, schema=self.space, name=self.name)
        else:
            from activitypub_kit.storage.redis import RedisQueue

            handle = RedisQueue(self.target, prefix=self.space, name=self.name)
        self.handles.append(handle)
        return handle

    def spawn(self, log: Path, **options: Any) -> subprocess.Popen[bytes]:
        argv = [sys.executable, str(SCRIPT), self.backend, self.target, "--name", self.name]
        argv += ["--space", self.space, "--log", str(log)]
        for key, value in options.items():
            argv += [f"--{key}", str(value)]
        return subprocess.Popen(argv)

    async def close(self) -> None:
        for handle in self.handles:
            await handle.aclose()


def read_log(log: Path) -> list[tuple[str, int, float, float, Any]]:
    rows = []
    for line in log.read_text().splitlines():
        fields = line.split("\t")
        if fields[0] != "ready":
            start, end = float(fields[2]), float(fields[3])
            rows.append((fields[0], int(fields[1]), start, end, json.loads(fields[4])))
    return rows


def lines(log: Path) -> int:
    return log.read_text().count("\n") if log.exists() else 0


async def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    assert await anyio.to_thread.run_sync(process.wait, 30) == 0


async def enqueue_all(queue: MessageQueue, items: list[tuple[Any, str | None]]) -> set[str]:
    """Enqueue with 8 concurrent producers; each ordering key stays with one producer."""
    ids: set[str] = set()
    lanes: list[list[tuple[Any, str | None]]] = [[] for _ in range(8)]
    for index, (body, key) in enumerate(items):
        lane = hash(key) % 8 if key is not None else index % 8
        lanes[lane].append((body, key))

    async def produce(lane: list[tuple[Any, str | None]]) -> None:
        for body, key in lane:
            mid = await queue.enqueue(body, ordering_key=key)
            assert mid is not None
            ids.add(mid)

    async with anyio.create_task_group() as tg:
        for lane in lanes:
            tg.start_soon(produce, lane)
    return ids


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "redis"])
async def test_sigkill_mid_batch_loses_nothing(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    record_property: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup = Setup(backend, request, tmp_path)
    try:
        queue = setup.queue()
        ids = await enqueue_all(queue, [({"n": n}, None) for n in range(1000)])
        log = tmp_path / "handled.log"
        first = setup.spawn(log, lease=1.0, work=0.002)

        async def mid_batch() -> bool:
            return lines(log) >= 300

        await wait_until(mid_batch, within=60, message="first worker handling messages")
        first.kill()
        first.wait()
        assert first.returncode == -signal.SIGKILL
        killed_at = len(read_log(log))
        assert killed_at < 1000, "the first worker finished before it could be killed"

        second = setup.spawn(log, lease=1.0)

        async def drained() -> bool:
            return (await queue.stats()).depth == 0

        await wait_until(drained, within=60, message="second worker draining the queue")
        await stop(second)
        counts = collections.Counter(row[0] for row in read_log(log))
        assert set(counts) == ids  # every message handled, none lost, nothing unknown
        twice = sum(1 for n in counts.values() if n > 1)
        assert max(counts.values()) <= 2
        summary = (
            f"crash test [{backend}]: 1000 messages, first worker SIGKILLed after "
            f"{killed_at} handled; all 1000 handled at least once; {twice} handled twice"
        )
        record_property("handled_twice", twice)
        record_property("storage_report", summary)
        with capsys.disabled():
            print(f"\n{summary}")
    finally:
        await setup.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "redis"])
async def test_four_processes_share_one_queue(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    record_property: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup = Setup(backend, request, tmp_path)
    try:
        queue = setup.queue()
        items: list[tuple[Any, str | None]] = [({"free": n}, None) for n in range(5000)]
        items += [({"key": k, "seq": s}, f"key-{k}") for k in range(200) for s in range(25)]
        ids = await enqueue_all(queue, items)
        logs = [tmp_path / f"worker-{i}.log" for i in range(4)]
        workers = [setup.spawn(log, lease=30, concurrency=16) for log in logs]

        async def drained() -> bool:
            return (await queue.stats()).depth == 0

        await wait_until(drained, within=120, interval=0.1, message="4 workers draining")
        for process in workers:
            await stop(process)
        rows = [row for log in logs for row in read_log(log)]
        by_id = collections.defaultdict(list)
        for row in rows:
            by_id[row[0]].append(row)
        assert set(by_id) == ids
        # No message was ever held by two live workers at once: handler runs of the same
        # message never overlap (and with 30 s leases and no crash, none ran twice).
        for runs in by_id.values():
            runs.sort(key=lambda r: r[2])
            for before, after in itertools.pairwise(runs):
                assert after[2] >= before[3], f"message {before[0]} handled concurrently"
        twice = sum(1 for runs in by_id.values() if len(runs) > 1)
        assert twice == 0
        # Ordering keys: in enqueue order, one at a time (each starts after the last ended).
        keyed = collections.defaultdict(list)
        for row in rows:
            if "key" in row[4]:
                keyed[row[4]["key"]].append(row)
        assert len(keyed) == 200
        for runs in keyed.values():
            runs.sort(key=lambda r: r[2])
            assert [r[4]["seq"] for r in runs] == list(range(25))
            for before, after in itertools.pairwise(runs):
                assert after[2] >= before[3]
        pids = {row[1] for row in rows}
        per_process = collections.Counter(row[1] for row in rows)
        summary = (
            f"multi-process test [{backend}]: 10000 messages over {len(pids)} processes "
            f"({sorted(per_process.values())}), {twice} handled twice, order held on 200 keys"
        )
        record_property("handled_twice", twice)
        record_property("storage_report", summary)
        with capsys.disabled():
            print(f"\n{summary}")
        assert len(pids) == 4
    finally:
        await setup.close()

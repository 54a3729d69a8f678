"""A connection that breaks in the middle of an operation gives a typed error, loses nothing.

PostgreSQL and Redis are reached through a TCP proxy on loopback that this test controls:
it holds the request of an operation in flight, then drops every connection.  SQLite's
equivalent failure, a file another process keeps locked, is checked with a real second
connection.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import anyio.abc
import pytest
from anyio.abc import SocketAttribute

from activitypub_kit.errors import StorageConnectionError
from activitypub_kit.storage import MessageQueue, SqliteDatabase, SqliteQueue
from activitypub_kit.testing import wait_until

pytestmark = pytest.mark.anyio


class Proxy:
    """Forwards loopback TCP connections to a server; can stall, then drop, them."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = "forward"
        self.changed = anyio.Event()
        self.held = 0
        self.streams: set[anyio.abc.SocketStream] = set()
        self.port = 0

    async def serve(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(SocketAttribute.local_port)
        task_status.started()
        await listener.serve(self._handle)

    def _set(self, mode: str) -> None:
        self.mode = mode
        self.changed.set()
        self.changed = anyio.Event()

    def stall(self) -> None:
        """Hold every byte clients send from now on."""
        self._set("stall")

    async def drop(self) -> None:
        """Close every connection now and every new one at once."""
        self._set("drop")
        for stream in list(self.streams):
            await stream.aclose()

    def forward(self) -> None:
        """Forward again (new connections work)."""
        self.held = 0
        self._set("forward")

    async def _handle(self, client: anyio.abc.SocketStream) -> None:
        if self.mode == "drop":
            await client.aclose()
            return
        server = await anyio.connect_tcp("127.0.0.1", self.target_port)
        self.streams |= {client, server}
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._pipe, client, server, True, tg.cancel_scope)
                tg.start_soon(self._pipe, server, client, False, tg.cancel_scope)
        finally:
            self.streams -= {client, server}
            await client.aclose()
            await server.aclose()

    async def _pipe(self, src: Any, dst: Any, upstream: bool, scope: Any) -> None:
        try:
            async for data in src:
                while upstream and self.mode == "stall":
                    self.held += len(data)
                    await self.changed.wait()
                if self.mode == "drop":
                    break
                await dst.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass
        scope.cancel()


async def interrupted(proxy: Proxy, operation: Any) -> BaseException | None:
    """Run ``operation`` while the proxy holds its request, then drop the connection."""
    error: BaseException | None = None

    async def run() -> None:
        nonlocal error
        try:
            await operation()
        except Exception as exc:
            error = exc

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            proxy.stall()
            tg.start_soon(run)

            async def request_in_flight() -> bool:
                return proxy.held > 0

            await wait_until(request_in_flight, message="request reaching the proxy")
            await proxy.drop()
    return error


def via(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}"))


async def check_queue(proxied: MessageQueue, direct: MessageQueue, proxy: Proxy) -> None:
    kept = {await proxied.enqueue({"n": n}) for n in range(5)}
    error = await interrupted(proxy, lambda: proxied.enqueue({"n": "lost in transit"}))
    assert isinstance(error, StorageConnectionError), repr(error)
    assert "connection" in str(error).lower()
    error = await interrupted(proxy, lambda: proxied.receive(lease=30, max_messages=5))
    assert isinstance(error, StorageConnectionError), repr(error)
    # Nothing already enqueued is lost (the interrupted receive may have leased messages;
    # they come back when the lease expires, so count depth, not visibility).
    assert (await direct.stats()).depth >= 5
    proxy.forward()
    assert await proxied.enqueue({"n": "after recovery"}) is not None

    # Everything is still there: receive with a short lease until all are seen.
    seen: set[str] = set()

    async def all_seen() -> bool:
        for message in await direct.receive(lease=0.2, max_messages=20):
            seen.add(message.id)
            if message.body == {"n": "after recovery"} or message.id in kept:
                await direct.ack(message)
        return kept <= seen and (await direct.stats()).depth == 0

    await wait_until(all_seen, within=30, message="every message received")


async def test_postgres_connection_lost_mid_operation(postgres_url: str, pg_schema: str) -> None:
    from activitypub_kit.storage.postgres import PostgresDatabase, PostgresQueue

    proxy = Proxy(urlsplit(postgres_url).port or 5432)
    async with anyio.create_task_group() as tg:
        await tg.start(proxy.serve)
        name = "connection-loss"
        db = PostgresDatabase(via(postgres_url, proxy.port), schema=pg_schema, timeout=2)
        proxied = PostgresQueue(db, name=name)
        direct = PostgresQueue(postgres_url, schema=pg_schema, name=name)
        try:
            await check_queue(proxied, direct, proxy)
        finally:
            await proxied.aclose()
            await direct.aclose()
            tg.cancel_scope.cancel()


async def test_redis_connection_lost_mid_operation(redis_url: str, redis_prefix: str) -> None:
    from activitypub_kit.storage.redis import RedisQueue

    proxy = Proxy(urlsplit(redis_url).port or 6379)
    async with anyio.create_task_group() as tg:
        await tg.start(proxy.serve)
        name = "connection-loss"
        proxied = RedisQueue(via(redis_url, proxy.port), prefix=redis_prefix, name=name)
        direct = RedisQueue(redis_url, prefix=redis_prefix, name=name)
        try:
            await check_queue(proxied, direct, proxy)
        finally:
            await proxied.aclose()
            await direct.aclose()
            tg.cancel_scope.cancel()


async def test_sqlite_file_locked_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite"
    queue = SqliteQueue(SqliteDatabase(path, busy_timeout=0.1))
    kept = await queue.enqueue("kept")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StorageConnectionError, match="database is locked"):
            await queue.enqueue("refused")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await queue.enqueue("after") is not None
    got = await queue.receive(lease=30, max_messages=5)
    assert [m.body for m in got] == ["kept", "after"]
    assert got[0].id == kept
    await queue.aclose()


@pytest.mark.parametrize("kind", ["postgres", "redis"])
async def test_worker_keeps_consuming_after_the_server_went_away(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """A transient outage must not stop a worker for good (Fedify issue #581)."""
    from activitypub_kit.storage import Message, Worker

    if kind == "postgres":
        from activitypub_kit.storage.postgres import PostgresDatabase, PostgresQueue

        url, schema = request.getfixturevalue("postgres_url"), request.getfixturevalue("pg_schema")
        proxy = Proxy(urlsplit(url).port or 5432)

        def proxied() -> MessageQueue:
            db = PostgresDatabase(via(url, proxy.port), schema=schema, timeout=1)
            return PostgresQueue(db, name="outage", poll_interval=0.1)

        direct: MessageQueue = PostgresQueue(url, schema=schema, name="outage")
    else:
        from activitypub_kit.storage.redis import RedisQueue

        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        proxy = Proxy(urlsplit(url).port or 6379)

        def proxied() -> MessageQueue:
            return RedisQueue(via(url, proxy.port), prefix=prefix, name="outage", poll_interval=0.1)

        direct = RedisQueue(url, prefix=prefix, name="outage")
    handled: list[Any] = []

    async def handler(message: Message) -> None:
        handled.append(message.body)

    async with anyio.create_task_group() as tg:
        await tg.start(proxy.serve)
        queue = proxied()
        worker = Worker(queue, handler, lease=5, poll_wait=0.2)
        tg.start_soon(worker.run)
        await direct.enqueue("before")

        async def got(count: int) -> bool:
            return len(handled) == count

        await wait_until(lambda: got(1), within=30, message="first message handled")
        await proxy.drop()  # the server "goes away": every connection fails

        async def errors_seen() -> bool:
            return len(worker.stats.errors) > 0

        await wait_until(errors_seen, within=30, message="worker noticing the outage")
        await direct.enqueue("during")
        proxy.forward()
        await wait_until(lambda: got(2), within=30, message="worker recovering")
        await direct.enqueue("after")
        await wait_until(lambda: got(3), within=30, message="worker still consuming")
        await worker.stop()
        await queue.aclose()
        await direct.aclose()
        tg.cancel_scope.cancel()
    assert handled == ["before", "during", "after"]

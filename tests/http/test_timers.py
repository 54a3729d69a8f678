"""The deadline-based read timer: same rule as aiohttp's, without a timer per read."""

from __future__ import annotations

import asyncio

import pytest

from activitypub_kit.http import HttpClient, HttpSettings
from activitypub_kit.http._timers import LazyReadTimeoutHandler, supported
from loopback import StartServer, resolver_with

pytestmark = pytest.mark.anyio


class Probe(LazyReadTimeoutHandler):
    """Records timeouts and signals every time the timer fires."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop=loop)
        self.fired = asyncio.Event()
        self.timeouts: list[float] = []

    def _check_read_deadline(self) -> None:
        super()._check_read_deadline()
        self.fired.set()

    def _on_read_timeout(self) -> None:
        self.timeouts.append(self._loop.time())


def probe(read_timeout: float) -> Probe:
    handler = Probe(asyncio.get_running_loop())
    handler._read_timeout = read_timeout
    return handler


async def test_a_dropped_timer_fires_harmlessly() -> None:
    handler = probe(0.02)
    handler._reschedule_timeout()
    handler._drop_timeout()  # the response completed
    await asyncio.wait_for(handler.fired.wait(), 5)
    assert handler.timeouts == []
    assert handler._read_timeout_handle is None


async def test_activity_moves_the_deadline_and_one_timeout_follows() -> None:
    handler = probe(0.05)
    handler._reschedule_timeout()
    first_deadline = handler._read_deadline
    handler._reschedule_timeout()  # data arrived: the deadline moves, the timer stays
    second_deadline = handler._read_deadline
    assert first_deadline is not None
    assert second_deadline is not None
    assert second_deadline >= first_deadline
    while not handler.timeouts:
        handler.fired.clear()
        await asyncio.wait_for(handler.fired.wait(), 5)
    assert len(handler.timeouts) == 1
    assert handler.timeouts[0] >= second_deadline


async def test_a_shorter_timeout_rearms_earlier() -> None:
    handler = probe(10)
    handler._reschedule_timeout()
    handler._read_timeout = 0.05
    handler._reschedule_timeout()
    assert handler._read_timeout_handle is not None
    assert handler._read_deadline is not None
    assert handler._read_timeout_handle.when() <= handler._read_deadline
    handler._drop_timeout()
    handler._read_timeout_handle.cancel()


async def test_the_client_uses_it_and_reuses_connections(start_server: StartServer) -> None:
    assert supported()
    server = await start_server("a.test")
    server.json("/x", {}, content_type="application/json")
    settings = HttpSettings.for_local_testing(read_timeout=0.05)
    async with HttpClient(settings, resolver=resolver_with()) as client:
        for _ in range(3):
            response = await client.get(server.url("/x"))
            assert response.status_code == 200
        session = client._session
        assert session is not None
        pooled = session.connector._conns.values()  # type: ignore[union-attr]
        protocols = [conn[0] for conns in pooled for conn in conns]
        assert len(protocols) == 1  # one connection, reused
        assert isinstance(protocols[0], LazyReadTimeoutHandler)

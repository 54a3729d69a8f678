"""The read timeout holds on both paths: the lazy timer and aiohttp's own handler.

``http/timers.py`` replaces two private methods of aiohttp's connection protocol and falls
back to aiohttp's handler when the methods it needs are missing (a future aiohttp).  These
tests force that fallback through the real import-time check (by asking it for a method
aiohttp does not have) and prove, against a real loopback server, that reads still time
out, that answers still arrive and that connections are still reused.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.client_proto import ResponseHandler

from activitypub_kit.errors import FetchTimeoutError
from activitypub_kit.http import HttpClient, HttpSettings
from activitypub_kit.http import _timers as timers
from activitypub_kit.http._timers import LazyReadTimeoutHandler
from loopback import StartServer, resolver_with

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["lazy", "fallback"])
def timer_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "fallback":
        # What a future aiohttp without one of the overridden methods looks like to the check.
        monkeypatch.setattr(timers, "_NEEDED", (*timers._NEEDED, "_method_aiohttp_lacks"))
        assert not timers.supported()
    else:
        assert timers.supported()
    return str(request.param)


def protocols(client: HttpClient) -> list[ResponseHandler]:
    session = client._session
    assert session is not None
    pooled = session.connector._conns.values()  # type: ignore[union-attr]
    return [conn[0] for conns in pooled for conn in conns]


async def test_a_stalled_response_times_out(start_server: StartServer, timer_path: str) -> None:
    server = await start_server("a.test")
    never = asyncio.Event()
    arrived = asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        arrived.set()
        await never.wait()
        return web.Response()

    server.on("/stall", stall)
    settings = HttpSettings.for_local_testing(read_timeout=0.2, total_timeout=30)
    async with HttpClient(settings, resolver=resolver_with()) as client:
        with pytest.raises(FetchTimeoutError, match=r"no data for 0\.2 s"):
            await client.get(server.url("/stall"))
        assert arrived.is_set()  # the request was read: it is the response that stalled
    never.set()


async def test_answers_arrive_and_connections_are_reused(
    start_server: StartServer, timer_path: str
) -> None:
    server = await start_server("a.test")
    server.json("/x", {"ok": True}, content_type="application/json")
    settings = HttpSettings.for_local_testing(read_timeout=0.2)
    async with HttpClient(settings, resolver=resolver_with()) as client:
        for _ in range(3):
            response = await client.get(server.url("/x"))
            assert response.status_code == 200
            assert response.json() == {"ok": True}
        pooled = protocols(client)
        assert len(pooled) == 1  # one connection, reused
        lazy = isinstance(pooled[0], LazyReadTimeoutHandler)
        assert lazy is (timer_path == "lazy")


async def test_a_stall_after_a_reused_connection_still_times_out(
    start_server: StartServer, timer_path: str
) -> None:
    """The timer of a pooled connection is re-armed for the next request (both paths)."""
    server = await start_server("a.test")
    server.json("/x", {"ok": True}, content_type="application/json")
    never = asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        await never.wait()
        return web.Response()

    server.on("/stall", stall)
    settings = HttpSettings.for_local_testing(read_timeout=0.2, total_timeout=30)
    async with HttpClient(settings, resolver=resolver_with()) as client:
        assert (await client.get(server.url("/x"))).status_code == 200
        with pytest.raises(FetchTimeoutError, match=r"no data for 0\.2 s"):
            await client.get(server.url("/stall"))
    never.set()

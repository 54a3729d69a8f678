"""Fixtures for the outbound HTTP tests: loopback servers and a client that reaches them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from activitypub_kit.http import HttpClient, HttpSettings, StaticResolver
from loopback import LoopbackServer

#: Test names that resolve to loopback, where the servers run.
LOOPBACK_NAMES = ("a.test", "b.test", "c.test", "localhost")

StartServer = Callable[[str], Awaitable[LoopbackServer]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """Start a loopback server for a host name; every server is stopped after the test."""
    started: list[LoopbackServer] = []

    async def start(host: str = "a.test") -> LoopbackServer:
        server = await LoopbackServer(host).start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


def resolver_with(extra: dict[str, list[str]] | None = None) -> StaticResolver:
    """Loopback names plus ``extra`` answers (``{"evil.test": ["10.0.0.1"]}``)."""
    answers: dict[str, list[str]] = {name: ["127.0.0.1"] for name in LOOPBACK_NAMES}
    answers.update(extra or {})
    return StaticResolver(answers)


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    """A client allowed to reach loopback only, resolving test names to 127.0.0.1."""
    async with HttpClient(HttpSettings.for_local_testing(), resolver=resolver_with()) as c:
        yield c

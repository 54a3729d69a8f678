"""WebFinger refuses a plain-http query for an https origin when, and only when, it knows
the client used plain http (RFC 7033 §4.2; the fediverse WebFinger test suite).

Real HTTP: the Federation app (and a bare ``WebFingerServer.asgi()``) served by uvicorn on
127.0.0.1 over plain http, standing for an app behind a TLS-terminating proxy; the tests
send what such a proxy would (``X-Forwarded-Proto``) or would not.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest
import uvicorn

from activitypub_kit.models import Person
from activitypub_kit.server import Context, Federation
from activitypub_kit.webfinger import WebFingerAccount, WebFingerServer, request_scheme

pytestmark = pytest.mark.anyio

Serve = Callable[[Any], Awaitable[str]]
QUERY = {"resource": "acct:alice@social.example"}


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (plain http); gives its base URL."""
    servers: list[uvicorn.Server] = []
    async with anyio.create_task_group() as group:

        async def start(app: Any) -> str:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sock.listen(16)  # connections wait in the backlog until uvicorn accepts
            config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
            server = uvicorn.Server(config)
            server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
            servers.append(server)
            group.start_soon(server.serve, [sock])
            return f"http://127.0.0.1:{sock.getsockname()[1]}"

        try:
            yield start
        finally:
            for server in servers:
                server.should_exit = True


def federation(origin: str = "https://social.example", **options: Any) -> Federation:
    fed: Federation = Federation(origin, **options)

    @fed.actor("/users/{handle}")
    async def actor(ctx: Context, handle: str) -> Person | None:
        return Person(id=ctx.actor_uri(handle)) if handle == "alice" else None

    return fed


async def webfinger(base: str, proto: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-Proto": proto} if proto is not None else {}
    async with httpx.AsyncClient() as http:
        return await http.get(f"{base}/.well-known/webfinger", params=QUERY, headers=headers)


def refused(answer: httpx.Response) -> bool:
    if answer.status_code == 200:
        assert answer.json()["subject"] == QUERY["resource"]
        return False
    assert answer.status_code == 400
    assert "subject" not in answer.text  # no JRD at all
    assert "links" not in answer.text
    assert "https only" in answer.json()["error"]
    return True


async def test_a_trusted_proxy_saying_http_is_refused(serve):
    fed = federation(trust_forwarded_host=True)
    base = await serve(fed.asgi(run_worker=False))
    assert refused(await webfinger(base, "http"))
    assert refused(await webfinger(base, "https, http"))  # the last value is our proxy's
    assert not refused(await webfinger(base, "https"))
    assert not refused(await webfinger(base, "http, https"))
    # The proxy did not say: a plain-http connection is its hop, not proof.
    assert not refused(await webfinger(base, None))
    await fed.aclose()


async def test_without_proxy_trust_the_scheme_is_not_checked(serve):
    fed = federation()
    base = await serve(fed.asgi(run_worker=False))
    # A plain-http connection without a trusted proxy header: the operator behind a TLS
    # proxy that forwards nothing is not locked out, and a client's own header is ignored.
    assert not refused(await webfinger(base, None))
    assert not refused(await webfinger(base, "http"))
    await fed.aclose()


async def test_an_http_origin_answers_http(serve):
    fed = federation("http://social.example", trust_forwarded_host=True)
    base = await serve(fed.asgi(run_worker=False))
    assert not refused(await webfinger(base, "http"))
    await fed.aclose()


async def test_a_bare_webfinger_server_reads_the_header_only_when_told(serve):
    async def lookup(user: str) -> WebFingerAccount | None:
        return WebFingerAccount(user, "https://social.example/users/alice")

    server = WebFingerServer("social.example", lookup)
    trusting = await serve(server.asgi(trust_forwarded_proto=True))
    default = await serve(server.asgi())
    assert refused(await webfinger(trusting, "http"))
    assert not refused(await webfinger(trusting, "https"))
    assert not refused(await webfinger(default, "http"))
    plain = await serve(server.asgi(origin_scheme="http", trust_forwarded_proto=True))
    assert not refused(await webfinger(plain, "http"))


def test_request_scheme() -> None:
    def scope(scheme: str, *protos: bytes) -> dict[str, Any]:
        return {"scheme": scheme, "headers": [(b"x-forwarded-proto", p) for p in protos]}

    assert request_scheme(scope("https")) == "https"  # a TLS connection is proof
    assert request_scheme(scope("http")) is None
    assert request_scheme(scope("http", b"http")) is None  # not trusted
    assert request_scheme(scope("http", b"HTTP"), trust_forwarded=True) == "http"
    # two header lines are one list; the last value is the proxy's
    assert request_scheme(scope("https", b"https", b"http"), trust_forwarded=True) == "http"
    assert request_scheme(scope("http", b"http, https"), trust_forwarded=True) == "https"
    assert request_scheme(scope("https", b" "), trust_forwarded=True) == "https"
    assert request_scheme(scope("http"), trust_forwarded=True) is None

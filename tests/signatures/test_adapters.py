"""Adapters against a real HTTP server on loopback: httpx.Auth signing, ASGI verification,
and double-knocking with a per-host memory in a key-value store."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest
import uvicorn

from activitypub_kit.errors import SignatureError
from activitypub_kit.signatures import (
    DoubleKnock,
    HttpxSigner,
    SignatureScheme,
    parse_signature,
    request_from_asgi,
    verify_signature,
)
from activitypub_kit.storage import MemoryStore
from activitypub_kit.testing import FakeClock

KEY_ID = "https://sender.test/users/alice#main-key"


@dataclass
class Inbox:
    """An ASGI inbox verifying signatures; it can refuse one scheme to force a fallback."""

    keys: dict[str, Any]
    accept: set[SignatureScheme] = field(default_factory=lambda: set(SignatureScheme))
    seen: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = request_from_asgi(scope, body)
        try:
            parsed = parse_signature(request)
            result = verify_signature(request, parsed, self.keys[parsed.key_id])
            if result.scheme not in self.accept:
                raise SignatureError(f"{result.scheme} is not accepted here")
            status, text = 202, f"{result.scheme} {result.algorithm}"
        except SignatureError as exc:
            status, text = 401, str(exc)
        self.seen.append((str(status), text))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
        await send({"type": "http.response.body", "body": text.encode()})


@pytest.fixture
def server(rsa_key: Any) -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox({KEY_ID: rsa_key.public_key()})
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)  # connections queue in the backlog until uvicorn accepts them
    port = sock.getsockname()[1]
    config = uvicorn.Config(inbox, lifespan="off", log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", inbox
    finally:
        uv.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.mark.parametrize("scheme", list(SignatureScheme))
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_httpx_signer_is_verified_by_asgi_inbox(
    server: tuple[str, Inbox], rsa_key: Any, scheme: SignatureScheme, method: str
) -> None:
    base, _inbox = server
    with httpx.Client(auth=HttpxSigner(rsa_key, KEY_ID, scheme=scheme)) as client:
        response = client.request(
            method, f"{base}/users/bob/inbox?page=2&q=a%20b",
            content=b'{"type": "Follow"}' if method == "POST" else None,
            headers={"Content-Type": "application/activity+json"} if method == "POST" else {},
        )  # fmt: skip
    assert response.status_code == 202, response.text
    assert response.text.startswith(scheme.value)


def test_unsigned_and_tampered_requests_are_refused(
    server: tuple[str, Inbox], rsa_key: Any
) -> None:
    base, _ = server
    with httpx.Client() as client:
        response = client.post(f"{base}/inbox", content=b"{}")
    assert response.status_code == 401
    assert "not signed" in response.text

    class Tamper(httpx.Auth):
        requires_request_body = True

        def auth_flow(self, request: httpx.Request) -> Any:
            HttpxSigner(rsa_key, KEY_ID).sign(request, SignatureScheme.CAVAGE)
            request.headers["Digest"] = "SHA-256=" + "A" * 43 + "="
            yield request

    with httpx.Client(auth=Tamper()) as client:
        response = client.post(f"{base}/inbox", content=b"{}")
    assert response.status_code == 401
    assert "Digest sha-256 does not match the body" in response.text


def test_httpx_signer_falls_back_once(server: tuple[str, Inbox], rsa_key: Any) -> None:
    base, inbox = server
    inbox.accept = {SignatureScheme.CAVAGE}
    signer = HttpxSigner(rsa_key, KEY_ID, scheme=SignatureScheme.RFC9421, fallback=True)
    with httpx.Client(auth=signer) as client:
        response = client.post(f"{base}/inbox", content=b"{}")
    assert response.status_code == 202
    assert signer.last_scheme is SignatureScheme.CAVAGE
    assert [s for s, _ in inbox.seen] == ["401", "202"]


def test_double_knock_remembers_per_host(server: tuple[str, Inbox], rsa_key: Any) -> None:
    base, inbox = server
    inbox.accept = {SignatureScheme.RFC9421}
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    knock = DoubleKnock(store, prefer=SignatureScheme.CAVAGE)
    host = "127.0.0.1"

    async def deliver() -> tuple[int, SignatureScheme]:
        async with httpx.AsyncClient() as client:

            async def attempt(scheme: SignatureScheme) -> int:
                signer = HttpxSigner(rsa_key, KEY_ID, scheme=scheme)
                response = await client.post(f"{base}/inbox", content=b"{}", auth=signer)
                return response.status_code

            return await knock.knock(host, attempt)

    assert anyio.run(deliver) == (202, SignatureScheme.RFC9421)
    assert [s for s, _ in inbox.seen] == ["401", "202"]
    assert anyio.run(knock.recall, host) is SignatureScheme.RFC9421
    # Second delivery goes straight to the remembered scheme: one request.
    assert anyio.run(deliver) == (202, SignatureScheme.RFC9421)
    assert [s for s, _ in inbox.seen] == ["401", "202", "202"]
    # The memory lasts 30 days, then the preferred scheme is tried first again.
    clock.advance(30 * 24 * 3600 - 1)
    assert anyio.run(knock.recall, host) is SignatureScheme.RFC9421
    clock.advance(1)
    assert anyio.run(knock.recall, host) is None


def test_double_knock_rules() -> None:
    store = MemoryStore()
    knock = DoubleKnock(store, prefer=SignatureScheme.RFC9421)

    async def scenario() -> list[Any]:
        calls: list[SignatureScheme] = []

        async def always(status: int) -> Any:
            async def attempt(scheme: SignatureScheme) -> int:
                calls.append(scheme)
                return status

            return attempt

        out: list[Any] = []
        out.append(await knock.knock("a.test", await always(503)))  # not a scheme problem
        out.append(list(calls))
        calls.clear()
        out.append(await knock.knock("a.test", await always(401)))  # both refused
        out.append(list(calls))
        out.append(await knock.recall("a.test"))
        await store.set(("signatures", "scheme", "b.test"), "garbage")
        out.append(await knock.first_scheme("b.test"))
        return out

    out = anyio.run(scenario)
    assert out[0] == (503, SignatureScheme.RFC9421)
    assert out[1] == [SignatureScheme.RFC9421]
    assert out[2] == (401, SignatureScheme.CAVAGE)
    assert out[3] == [SignatureScheme.RFC9421, SignatureScheme.CAVAGE]
    assert out[4] is None
    assert out[5] is SignatureScheme.RFC9421
    assert not DoubleKnock.should_fall_back(403)
    assert DoubleKnock.should_fall_back(400)


def test_request_from_asgi_scope() -> None:
    scope = {
        "type": "http", "method": "POST", "scheme": "http", "path": "/a b",
        "raw_path": b"/a%20b", "query_string": b"x=1&y=%2F",
        "headers": [(b"host", b"example.com:8080"), (b"x-a", b"1"), (b"x-a", b"2")],
    }  # fmt: skip
    request = request_from_asgi(scope, b"body")
    assert request.url == "http://example.com:8080/a%20b?x=1&y=%2F"
    assert request.headers.get("x-a") == "1, 2"
    assert request.body == b"body"
    behind_proxy = request_from_asgi(scope, b"", scheme="https", host="public.example")
    assert behind_proxy.url == "https://public.example/a%20b?x=1&y=%2F"
    no_host = request_from_asgi({**scope, "headers": [], "server": ("10.0.0.1", 81)}, b"")
    assert no_host.authority == "10.0.0.1:81"

"""Real HTTP servers on loopback for tests: aiohttp.web on 127.0.0.1, port 0.

Each :class:`LoopbackServer` answers from a table of handlers that a test fills in (also
after start), logs every request it receives, and is stopped by the test (the ``servers``
fixtures do it).  Host names in URLs (``a.test``) reach it through a
:class:`~activitypub_kit.http.StaticResolver` mapping them to 127.0.0.1.
"""

from __future__ import annotations

import gzip
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from activitypub_kit.http import HttpClient, HttpSettings, StaticResolver

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    """One request as the server saw it."""

    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes = field(repr=False, default=b"")


class LoopbackServer:
    """An HTTP server on 127.0.0.1 whose answers a test decides."""

    def __init__(self, host: str = "a.test", ssl_context: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.ssl_context = ssl_context
        self.handlers: dict[str, Handler] = {}
        self.seen: list[Seen] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        """``http(s)://HOST:PORT`` (HOST resolves to 127.0.0.1 through the test resolver)."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this server."""
        return self.origin + path

    def hits(self, path: str) -> int:
        """How many requests reached ``path`` (query string included in the match)."""
        return sum(1 for s in self.seen if s.path_qs == path)

    async def start(self) -> LoopbackServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(Seen(request.method, request.path_qs, dict(request.headers), body))
        handler = self.handlers.get(request.path_qs) or self.handlers.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)

    # -- handler builders ------------------------------------------------------------

    def on(self, path: str, handler: Handler) -> None:
        self.handlers[path] = handler

    def json(
        self,
        path: str,
        document: Any,
        *,
        content_type: str = "application/activity+json",
        status: int = 200,
    ) -> None:
        payload = json.dumps(document).encode()

        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, body=payload, headers={"Content-Type": content_type})

        self.on(path, handler)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers={"Location": location})

        self.on(path, handler)

    def raw(self, path: str, body: bytes, headers: dict[str, str], status: int = 200) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, body=body, headers=headers)

        self.on(path, handler)

    def gzip_json(self, path: str, document: Any, layers: int = 1) -> None:
        body = json.dumps(document).encode()
        for _ in range(layers):
            body = gzip.compress(body)
        encoding = ", ".join(["gzip"] * layers)
        self.raw(
            path,
            body,
            {"Content-Type": "application/activity+json", "Content-Encoding": encoding},
        )


# -- fixtures (imported by the conftest of each folder that uses them) -------------------

#: Test names that resolve to loopback, where the servers run.
LOOPBACK_NAMES = ("a.test", "b.test", "c.test", "social.a.test", "localhost")

StartServer = Callable[..., Awaitable[LoopbackServer]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """Start a loopback server for a host name; every server is stopped after the test."""
    started: list[LoopbackServer] = []

    async def start(
        host: str = "a.test", ssl_context: ssl.SSLContext | None = None
    ) -> LoopbackServer:
        server = await LoopbackServer(host, ssl_context).start()
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


def self_signed_tls(tmp_dir: Any, *hosts: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway certificate for ``hosts``: (server context, client context trusting it)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp_dir / "cert.pem"
    key_path = tmp_dir / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client

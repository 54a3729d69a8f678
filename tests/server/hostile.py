"""Helpers for hostile-inbox tests: remote actors on loopback servers, signed raw POSTs."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from activitypub_kit.http import HttpClient
from activitypub_kit.signatures import (
    HttpRequest,
    PrivateKey,
    multikey_entry,
    public_key_entry,
    sign_cavage,
)
from loopback import LoopbackServer

AS = "https://www.w3.org/ns/activitystreams"


@dataclass
class Remote:
    """An actor served by a loopback server, with its keys."""

    id: str
    rsa: PrivateKey
    ed25519: PrivateKey

    @property
    def key_id(self) -> str:
        return f"{self.id}#main-key"

    @property
    def ed_key_id(self) -> str:
        return f"{self.id}#ed25519-key"


def serve_actor(server: LoopbackServer, name: str, keys: list[PrivateKey]) -> Remote:
    actor_id = server.url(f"/users/{name}")
    remote = Remote(actor_id, keys[0], keys[1])
    server.json(
        f"/users/{name}",
        {
            "@context": [AS, "https://w3id.org/security/v1"],
            "id": actor_id,
            "type": "Person",
            "preferredUsername": name,
            "inbox": f"{actor_id}/inbox",
            "publicKey": public_key_entry(keys[0], key_id=remote.key_id, owner=actor_id),
            "assertionMethod": [
                multikey_entry(keys[1], key_id=remote.ed_key_id, controller=actor_id)
            ],
        },
    )
    return remote


def body_of(document: Any) -> bytes:
    return document if isinstance(document, bytes) else json.dumps(document).encode()


async def post_signed(
    client: HttpClient,
    url: str,
    document: Any,
    key: PrivateKey | None,
    key_id: str = "",
    *,
    now: float | None = None,
    body_after_signing: bytes | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST ``document`` to ``url`` signed (draft-cavage) with ``key``; ``(status, json)``."""
    body = body_of(document)
    request = HttpRequest("POST", url, [("Content-Type", "application/activity+json")], body)
    if key is not None:
        request = sign_cavage(request, key, key_id, now=time.time() if now is None else now)
    headers = [(k, v) for k, v in request.headers.items() if k.lower() != "host"]
    response = await client.post(
        url,
        body_after_signing if body_after_signing is not None else body,
        headers=headers,
        auth=None,
    )
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    return response.status_code, payload


async def send_raw(port: int, request: HttpRequest) -> tuple[int, dict[str, Any]]:
    """Send ``request`` byte for byte to 127.0.0.1:``port``, its ``Host`` header as signed.

    What an attacker replaying a captured request does: the bytes name another server, the
    connection goes to ours.
    """
    import asyncio
    from urllib.parse import urlsplit

    parts = urlsplit(request.url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{request.method} {target} HTTP/1.1"]
    names = {k.lower() for k, _ in request.headers.items()}
    if "host" not in names:
        lines.append(f"Host: {parts.netloc}")
    lines += [f"{k}: {v}" for k, v in request.headers.items()]
    lines += [f"Content-Length: {len(request.body)}", "Connection: close", "", ""]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write("\r\n".join(lines).encode("latin-1") + request.body)
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, {}


@contextlib.contextmanager
def inbox_in_a_portal() -> Iterator[tuple[Any, Remote, Any]]:
    """``(portal, eve, fed)``: a Federation on http://a.test:1 (actors under /users/) and
    eve's key server on loopback, in one event loop a blocking portal keeps, so that
    hypothesis (which is synchronous) can drive ``fed.inbox.receive`` in-process."""
    from anyio.from_thread import start_blocking_portal
    from nodes import keys_for

    from activitypub_kit.http import HttpSettings
    from activitypub_kit.models import Person
    from activitypub_kit.server import Federation
    from loopback import resolver_with

    with start_blocking_portal() as portal:

        async def setup() -> tuple[Any, ...]:
            server = await LoopbackServer("c.test").start()
            eve = serve_actor(server, "eve", keys_for("eve"))
            client = HttpClient(HttpSettings.for_local_testing(), resolver=resolver_with())
            fed = Federation("http://a.test:1", client=client)

            @fed.actor("/users/{handle}")
            async def actor(ctx: Any, handle: str) -> Person:
                return Person(id=ctx.actor_uri(handle))

            return server, eve, client, fed

        server, eve, client, fed = portal.call(setup)
        try:
            yield portal, eve, fed
        finally:
            portal.call(client.aclose)
            portal.call(server.stop)

"""Signing keys (a bounded cache, rotation, generation off the event loop) and the lifespan
of a host application served behind ``fed.asgi(site)``."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from hostile import AS, post_signed, serve_actor
from nodes import keys_for
from social import Node
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from activitypub_kit.models import Like, Person
from activitypub_kit.server import Context, Federation
from activitypub_kit.server import _keys as keys_module
from activitypub_kit.server._keys import KeyCache, KeyPair
from activitypub_kit.signatures import PrivateKey, generate_ed25519_key, load_public_key_pem
from activitypub_kit.storage import MemoryStore
from activitypub_kit.storage._base import JSONValue
from activitypub_kit.testing import watch_event_loop

pytestmark = pytest.mark.anyio
AP = {"Accept": "application/activity+json"}


def federation(**options: Any) -> Federation:
    fed = Federation("https://a.example", **options)

    @fed.actor("/users/{handle}")
    async def actor(ctx: Context, handle: str) -> Person:
        return Person(id=ctx.actor_uri(handle))

    return fed


def asgi_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://a.example")


# -- the key cache -----------------------------------------------------------------------


async def test_forget_keys_makes_a_rotated_key_take_effect_at_once():
    fed = federation()
    current: list[PrivateKey] = [generate_ed25519_key()]

    @fed.key_pairs
    async def key_pairs(ctx: Context, handle: str) -> list[PrivateKey]:
        return list(current)

    old = current[0]
    assert (await fed.signing_key("alice"))[1] is old
    assert (await fed.outbox.transport.signing_key("alice"))[1] is old  # its own copy
    current[:] = [generate_ed25519_key()]
    assert (await fed.key_pairs_of("alice"))[0].private_key is old  # cached

    fed.forget_keys("alice")

    assert (await fed.signing_key("alice"))[1] is current[0]
    assert (await fed.outbox.transport.signing_key("alice"))[1] is current[0]
    async with asgi_client(fed.asgi(run_worker=False)) as http:
        document = (await http.get("/users/alice", headers=AP)).json()
    [method] = document["assertionMethod"]
    assert method["id"] == "https://a.example/users/alice#ed25519-key"
    rotated = (await fed.key_pairs_of("alice"))[0]
    assert rotated.private_key is current[0]
    await fed.aclose()


async def test_cached_keys_expire_after_key_cache_ttl():
    fed = federation()
    assert fed.key_cache_ttl == 300.0
    fed.key_cache_ttl = 0.2
    current: list[PrivateKey] = [generate_ed25519_key()]
    loads: list[str] = []

    @fed.key_pairs
    async def key_pairs(ctx: Context, handle: str) -> list[PrivateKey]:
        loads.append(handle)
        return list(current)

    first = await fed.key_pairs_of("alice")
    current[:] = [generate_ed25519_key()]
    assert await fed.key_pairs_of("alice") == first  # within the TTL: not asked again
    assert loads == ["alice"]
    await anyio.sleep(0.25)
    assert (await fed.key_pairs_of("alice"))[0].private_key is current[0]
    assert loads == ["alice", "alice"]
    with pytest.raises(ValueError, match="negative"):
        fed.key_cache_ttl = -1
    await fed.aclose()


async def test_the_key_cache_is_bounded_and_forgets_loads_begun_before_forget():
    cache = KeyCache(ttl=60.0, size=2)
    key = KeyPair("https://a.example/users/x#ed25519-key", generate_ed25519_key())

    async def load() -> list[KeyPair]:
        return [key]

    for handle in ("a", "b", "c"):
        await cache.get(handle, load)
    loads: list[str] = []

    async def counting() -> list[KeyPair]:
        loads.append("load")
        return [key]

    await cache.get("a", counting)  # evicted: the oldest of three with room for two
    await cache.get("c", counting)  # kept
    assert loads == ["load"]

    async def forgotten_meanwhile() -> list[KeyPair]:
        cache.forget("d")  # a rotation while the old key is being read
        return [key]

    await cache.get("d", forgotten_meanwhile)
    await cache.get("d", counting)  # what was read before forget() is not kept
    assert loads == ["load", "load"]


class SlowStore(MemoryStore):
    """A store whose reads take a moment, as a database's do."""

    async def get(self, key: Any) -> JSONValue | None:
        value = await super().get(key)
        await anyio.sleep(0.02)  # the answer travels back
        return value


async def test_two_concurrent_first_uses_generate_and_store_one_key(monkeypatch):
    generated: list[int] = []
    pool = keys_for("concurrent-first-use")[0]

    def counting_generate(bits: int = 2048) -> Any:
        generated.append(bits)
        return pool

    monkeypatch.setattr(keys_module, "generate_rsa_key", counting_generate)
    store = SlowStore()
    fed = federation(store=store)
    results: list[list[KeyPair]] = []

    async def first_use() -> None:
        results.append(await fed.key_pairs_of("alice"))

    async with anyio.create_task_group() as group:
        group.start_soon(first_use)
        group.start_soon(first_use)

    assert generated == [2048]
    stored = await store.get(("server", "keys", "actor:alice"))
    assert isinstance(stored, list)
    assert len(stored) == 2  # one RSA and one Ed25519 key, stored once
    first, second = results
    assert [p.key_id for p in first] == [p.key_id for p in second]
    assert first[0].private_key.private_numbers() == second[0].private_key.private_numbers()
    await fed.aclose()


async def test_generating_an_rsa_4096_key_leaves_the_event_loop_free(monkeypatch):
    real_generate = keys_module.generate_rsa_key
    monkeypatch.setattr(keys_module, "generate_rsa_key", lambda bits=2048: real_generate(4096))
    fed = federation()
    async with asgi_client(fed.asgi(run_worker=False)) as http, watch_event_loop() as watch:
        await anyio.sleep(0.02)
        started = time.perf_counter()
        # The first fetch of a new actor: the instance actor's keys and alice's are made.
        response = await http.get("/users/alice", headers=AP)
        took = time.perf_counter() - started

    assert response.status_code == 200
    public = load_public_key_pem(response.json()["publicKey"]["publicKeyPem"])
    assert public.key_size == 4096  # type: ignore[union-attr]
    assert took > 0.2  # two RSA-4096 keys were made while the ticker ran...
    assert watch.longest < 0.1, f"the event loop stalled for {watch.longest:.3f}s"  # ...off it
    await fed.aclose()


# -- the host application's lifespan ---------------------------------------------------


def recording_worker(fed: Federation, events: list[str], up: anyio.Event | None = None) -> None:
    """Record when ``fed``'s worker starts and stops (and set ``up`` once it runs)."""
    real_running = fed.running

    @contextlib.asynccontextmanager
    async def running(**options: Any) -> AsyncIterator[Any]:
        try:
            async with real_running(**options) as worker:
                events.append("worker up")
                if up is not None:
                    up.set()
                yield worker
        finally:
            events.append("worker down")

    fed.running = running  # type: ignore[method-assign]


def host_site(events: list[str], *, fail: str = "") -> Starlette:
    """A Starlette site whose lifespan records itself and sets request state."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, str]]:
        events.append("host up")
        if fail == "startup":
            raise RuntimeError("the host's database is down")
        yield {"greeting": "hello from the host"}
        events.append("host down")
        if fail == "shutdown":
            raise RuntimeError("the host could not flush its cache")

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.state.greeting)

    return Starlette(routes=[Route("/", home)], lifespan=lifespan)


async def test_a_host_apps_lifespan_runs_around_our_worker_under_uvicorn(start_server, client):
    evil = await start_server("c.test")
    eve = serve_actor(evil, "eve", keys_for("eve"))
    node = Node("b.test", client, keys_for)
    node.state.users["bob"] = "Bob"
    events: list[str] = []
    up = anyio.Event()
    recording_worker(node.fed, events, up)
    app = node.fed.asgi(host_site(events))  # run_worker=True
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    async with anyio.create_task_group() as group:
        group.start_soon(server.serve, [node.sock])
        with anyio.fail_after(20):
            await up.wait()
        assert events == ["host up", "worker up"]  # theirs first, then ours
        page = await client.get(f"{node.origin}/", headers={"Accept": "text/html"})
        assert page.text == "hello from the host"  # the state their lifespan set
        like = {
            "@context": AS,
            "id": eve.id + "/likes/1",
            "type": "Like",
            "actor": eve.id,
            "object": node.note_uri("1"),
        }
        status, body = await post_signed(
            client, node.fed.uri("inbox", handle="bob"), like, eve.rsa, eve.key_id
        )
        assert (status, body) == (202, {"status": "accepted"})
        await node.wait_for(lambda: any(isinstance(h, Like) for h in node.state.handled))
        server.should_exit = True
    assert events == ["host up", "worker up", "worker down", "host down"]  # ours stops first


async def lifespan(app: Any) -> list[dict[str, Any]]:
    """Drive ``app``'s lifespan as a server does: startup, then (if it started) shutdown."""
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    answered = anyio.Event()

    async def receive() -> dict[str, Any]:
        if len(incoming) == 1:
            await answered.wait()  # shutdown comes once the startup was answered
        if not incoming:
            await anyio.sleep_forever()
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(dict(message))
        answered.set()

    with anyio.fail_after(10):
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return sent


async def test_a_host_app_failing_to_start_fails_our_startup_with_its_message():
    fed = federation()
    events: list[str] = []
    recording_worker(fed, events)
    sent = await lifespan(fed.asgi(host_site(events, fail="startup")))
    [failed] = sent
    assert failed["type"] == "lifespan.startup.failed"
    assert "the host's database is down" in failed["message"]
    assert events == ["host up"]  # our worker never started


async def test_our_startup_failing_stops_the_host_app_and_reports_our_message():
    fed = federation()
    events: list[str] = []

    async def setup() -> None:
        raise RuntimeError("the key store is unreachable")

    fed.setup = setup  # type: ignore[method-assign]
    sent = await lifespan(fed.asgi(host_site(events)))
    assert sent == [{"type": "lifespan.startup.failed", "message": "the key store is unreachable"}]
    assert events == ["host up", "host down"]


async def test_a_host_app_failing_to_stop_is_reported_after_our_worker_stopped():
    fed = federation()
    events: list[str] = []
    recording_worker(fed, events)
    sent = await lifespan(fed.asgi(host_site(events, fail="shutdown")))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert "could not flush its cache" in sent[1]["message"]
    assert events == ["host up", "worker up", "worker down", "host down"]


async def test_a_host_app_without_lifespan_support_is_left_out_but_a_failing_one_is_not():
    fed = federation()
    events: list[str] = []
    recording_worker(fed, events)

    async def http_only(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # raises before reading anything: no lifespan support
            raise RuntimeError("this app serves HTTP only")

    sent = await lifespan(fed.asgi(http_only))
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert events == ["worker up", "worker down"]

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        await receive()  # reads the startup, then fails without saying so
        raise RuntimeError("the host's migrations failed")

    sent = await lifespan(fed.asgi(broken))
    assert sent == [
        {
            "type": "lifespan.startup.failed",
            "message": "the host application's lifespan failed: the host's migrations failed",
        }
    ]
    assert events == ["worker up", "worker down"]  # not started this time

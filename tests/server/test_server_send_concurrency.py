"""Addressed remote actors are resolved by the delivery worker, concurrently and bounded.

``ctx.send`` does no fetch: a loopback peer records every request and sees none before the
worker runs.  The peer then answers actor documents only once as many requests as the bound
allows are waiting at once (a barrier with a timeout that fails the test), so the worker's
concurrency is proven without timing assertions.
"""

from __future__ import annotations

import json

import anyio
import pytest
from aiohttp import web

from activitypub_kit.delivery import DeliveryFailure
from activitypub_kit.delivery import _messages as m
from activitypub_kit.errors import RouteError
from activitypub_kit.models import Note
from activitypub_kit.server._context import ACTORS_PER_ENTRY, MAX_CONCURRENT_LOOKUPS
from activitypub_kit.testing import wait_until

pytestmark = pytest.mark.anyio
BARRIER_TIMEOUT = 5.0
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def actor_document(server, path: str) -> dict[str, object]:
    actor = server.url(path)
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": actor,
        "type": "Person",
        "inbox": actor + "/inbox",
        "preferredUsername": path.rsplit("/", 1)[-1],
    }


class Barrier:
    """Serve ``/users/N`` actors once ``parties`` requests are waiting together."""

    def __init__(self, server, parties: int) -> None:
        self.server, self.parties = server, parties
        self.waiting = self.peak = 0
        self.released = anyio.Event()
        self.timed_out = False

    async def handler(self, request: web.Request) -> web.StreamResponse:
        self.waiting += 1
        self.peak = max(self.peak, self.waiting)
        if self.waiting >= self.parties:
            self.released.set()
        with anyio.move_on_after(BARRIER_TIMEOUT):
            await self.released.wait()
        self.waiting -= 1
        if not self.released.is_set():
            self.timed_out = True
            return web.Response(status=503, text="barrier timed out")
        document = actor_document(self.server, request.path)
        return web.Response(body=json.dumps(document), content_type="application/activity+json")


def create_by(node, n: int = 1) -> dict[str, object]:
    note = Note(id=node.note_uri(str(n)), attributedTo=node.actor("alice"), content="hi all")
    return {"type": "Create", "actor": node.actor("alice"), "object": note.to_json()}


def posts_to(server, path: str) -> int:
    return sum(1 for seen in server.seen if seen.method == "POST" and seen.path_qs == path)


async def queued_audience(node) -> list[object]:
    [message] = await node.fed.outbox.queue.receive(lease=60)
    await node.fed.outbox.queue.nack(message)
    return list(message.body["to"])


async def test_send_fetches_nothing_and_the_worker_resolves_concurrently(start_node, start_server):
    remote = await start_server("b.test")
    actors = [remote.url(f"/users/u{i}") for i in range(10)]
    barrier = Barrier(remote, MAX_CONCURRENT_LOOKUPS)
    for i in range(10):
        remote.on(f"/users/u{i}", barrier.handler)
        remote.raw(f"/users/u{i}/inbox", b"", {}, status=202)
    a = await start_node("a.test", users={"alice": "Alice"}, worker=False)
    await a.ctx.send(create_by(a), to=actors)
    assert remote.seen == []  # the request path made no request at all
    assert await queued_audience(a) == [{"actors": actors}]

    async with a.fed.running(concurrency=2, poll_wait=0.2):

        async def delivered() -> bool:
            return all(posts_to(remote, f"/users/u{i}/inbox") == 1 for i in range(10))

        await wait_until(delivered, message="delivery to the ten addressed actors")
    assert not barrier.timed_out
    assert barrier.peak == MAX_CONCURRENT_LOOKUPS  # concurrent, and never more than the bound


async def test_an_unreachable_actor_becomes_a_failure_event_not_an_exception(
    start_node, start_server
):
    remote = await start_server("b.test")
    remote.json("/users/ok", actor_document(remote, "/users/ok"))
    remote.raw("/users/ok/inbox", b"", {}, status=202)
    missing = remote.url("/users/missing")  # no handler: 404
    failed = []
    a = await start_node(
        "a.test", users={"alice": "Alice"}, worker=False, on_delivery_failed=failed.append
    )
    await a.ctx.send(create_by(a), to=[missing, remote.url("/users/ok")])  # does not raise
    assert remote.seen == []
    async with a.fed.running(concurrency=2, poll_wait=0.2):

        async def settled() -> bool:
            return len(failed) == 1 and posts_to(remote, "/users/ok/inbox") == 1

        await wait_until(settled, message="one failure and one delivery")
    [event] = failed
    assert event.reason is DeliveryFailure.UNRESOLVED
    assert event.recipients == (missing,)
    assert "404" in (event.error or "")


async def test_a_blocked_actor_among_others_is_never_fetched(start_node, start_server):
    remote = await start_server("b.test")
    troll, ok = remote.url("/users/troll"), remote.url("/users/ok")
    for path in ("/users/troll", "/users/ok"):
        remote.json(path, actor_document(remote, path))
        remote.raw(path + "/inbox", b"", {}, status=202)
    failed = []
    a = await start_node(
        "a.test",
        users={"alice": "Alice"},
        block_actor=lambda actor: actor == troll,
        on_delivery_failed=failed.append,
    )
    await a.ctx.send(create_by(a), to=[troll, ok])

    async def settled() -> bool:
        return len(failed) == 1 and posts_to(remote, "/users/ok/inbox") == 1

    await wait_until(settled, message="the blocked actor reported, the other delivered")
    assert failed[0].reason is DeliveryFailure.BLOCKED
    assert failed[0].recipients == (troll,)
    assert remote.hits("/users/troll") == 0
    assert remote.hits("/users/troll/inbox") == 0


async def test_synchronous_checks_stay_on_the_request_path(start_node, start_server):
    remote = await start_server("b.test")
    a = await start_node("a.test", users={"alice": "Alice", "bob": "Bob"}, worker=False)
    with pytest.raises(RouteError, match="public collection"):
        await a.ctx.send(create_by(a), to=[remote.url("/users/x"), PUBLIC])
    with pytest.raises(RouteError, match="not a local actor"):
        await a.ctx.send({"type": "Like", "actor": remote.url("/users/x")}, to=[a.actor("bob")])
    assert (await a.fed.outbox.queue.stats()).depth == 0
    # a local actor id needs no fetch: it is a recipient at once, kept in place
    await a.ctx.send(create_by(a), to=[remote.url("/users/x"), a.actor("bob")])
    assert await queued_audience(a) == [
        {"actors": [remote.url("/users/x")]},
        {"id": a.actor("bob"), "inbox": None, "shared": None},
    ]
    assert remote.seen == []


async def test_a_huge_list_of_actor_ids_is_stored_in_bounded_chunks(start_node):
    a = await start_node("a.test", users={"alice": "Alice"}, worker=False)
    ids = [
        f"https://host{i % 97}.example/users/someone-with-a-long-name-{i}" for i in range(20_000)
    ]
    await a.ctx.send(create_by(a), to=ids)
    [message] = await a.fed.outbox.queue.receive(lease=60)
    body = message.body
    assert "to" not in body  # stored, not inline in the message
    assert body["to_chunks"] > 1
    entries = []
    for index in range(body["to_chunks"]):
        chunk = await a.fed.store.get(m.audience_key(body["activity"], index))
        assert isinstance(chunk, list)
        assert len(json.dumps(chunk)) <= m.AUDIENCE_CHUNK_BYTES
        entries.extend(chunk)
    assert all(len(entry["actors"]) <= ACTORS_PER_ENTRY for entry in entries)
    assert [i for entry in entries for i in entry["actors"]] == ids

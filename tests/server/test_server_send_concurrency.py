"""``ctx.send`` fetches addressed remote actors concurrently, bounded, in recipient order.

A loopback server answers actor documents only once as many requests as the bound allows
are waiting at once (a barrier with a timeout that fails the test), so the tests prove
concurrency without timing assertions.
"""

from __future__ import annotations

import json

import anyio
import pytest
from aiohttp import web

from activitypub_kit.errors import FetchError
from activitypub_kit.models import Note
from activitypub_kit.server.context import MAX_CONCURRENT_LOOKUPS

pytestmark = pytest.mark.anyio
BARRIER_TIMEOUT = 5.0


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
        actor = self.server.url(request.path)
        document = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": actor,
            "type": "Person",
            "inbox": actor + "/inbox",
            "preferredUsername": request.path.rsplit("/", 1)[-1],
        }
        return web.Response(body=json.dumps(document), content_type="application/activity+json")


async def queued_audience(node) -> list[object]:
    [message] = await node.fed.outbox.queue.receive(lease=60)
    return list(message.body["to"])


async def test_addressed_actors_are_fetched_concurrently_in_order(start_node, start_server):
    remote = await start_server("b.test")
    actors = [remote.url(f"/users/u{i}") for i in range(10)]
    plain = remote.url("/users/plain")
    barrier = Barrier(remote, MAX_CONCURRENT_LOOKUPS)
    person = {"type": "Person", "id": plain, "inbox": plain + "/inbox"}
    remote.json("/users/plain", {"@context": "https://www.w3.org/ns/activitystreams", **person})
    for i in range(10):
        remote.on(f"/users/u{i}", barrier.handler)
    a = await start_node("a.test", users={"alice": "Alice"}, worker=False)
    note = Note(id=a.note_uri("1"), attributedTo=a.actor("alice"), content="hi all")
    to = [*actors[:3], plain, *actors[3:]]
    create = {"type": "Create", "actor": a.actor("alice"), "object": note.to_json()}
    await a.ctx.send(create, to=to)
    assert not barrier.timed_out
    assert barrier.peak == MAX_CONCURRENT_LOOKUPS  # concurrent, and never more than the bound
    audience = await queued_audience(a)
    assert [entry["id"] for entry in audience] == to  # type: ignore[index]
    assert audience[0]["inbox"] == actors[0] + "/inbox"  # type: ignore[index]


async def test_a_failing_fetch_fails_the_send_without_waiting_for_the_others(
    start_node, start_server
):
    remote = await start_server("b.test")
    hung = Barrier(remote, parties=100)  # never released: these actors hang until cancelled
    for i in range(5):
        remote.on(f"/users/u{i}", hung.handler)
    missing = remote.url("/users/missing")  # no handler: 404
    a = await start_node("a.test", users={"alice": "Alice"}, worker=False)
    to = [remote.url(f"/users/u{i}") for i in range(5)] + [missing]
    create = {"type": "Create", "actor": a.actor("alice"), "object": a.note_uri("1")}
    try:
        with pytest.raises(FetchError) as failure:
            await a.ctx.send(create, to=to)
        assert missing in str(failure.value)  # the failing actor, not a hung one
        assert not hung.timed_out
        assert (await a.fed.outbox.queue.stats()).depth == 0  # nothing was sent
    finally:
        hung.released.set()

"""Known inboxes: every server we know gets an actor's Delete (and profile Update) once.

Real nodes and loopback peers: the registry is filled by real deliveries and by a real
signed inbound request, then an actor ``Delete`` reaches a server that never followed,
each host once, and a host blocked in between not at all.
"""

from __future__ import annotations

import json

import pytest

from activitypub_kit.delivery import StoreKnownInboxes
from activitypub_kit.models import Like, Person, Update
from activitypub_kit.storage import MemoryStore
from activitypub_kit.testing import wait_until

pytestmark = pytest.mark.anyio
AS = "https://www.w3.org/ns/activitystreams"


def serve_person(server, name: str) -> str:
    actor = server.url(f"/users/{name}")
    server.json(
        f"/users/{name}",
        {"@context": AS, "id": actor, "type": "Person", "inbox": actor + "/inbox"},
    )
    server.raw(f"/users/{name}/inbox", b"", {}, status=202)
    return actor


def posts(server, path: str | None = None, kind: str | None = None) -> list[dict[str, object]]:
    found = []
    for seen in server.seen:
        if seen.method != "POST" or (path is not None and seen.path_qs != path):
            continue
        body = json.loads(seen.body)
        if kind is None or body.get("type") == kind:
            found.append(body)
    return found


async def known(node) -> list[str]:
    return sorted([inbox async for inbox in node.fed.known_inboxes.inboxes()])


def note_create(node, n: int) -> dict[str, object]:
    note = {"id": node.note_uri(str(n)), "type": "Note", "content": f"post {n}"}
    return {"type": "Create", "actor": node.actor("alice"), "object": note}


async def test_actor_delete_reaches_every_known_server_once(start_node, start_server):
    c, evil = await start_server("c.test"), await start_server("social.a.test")
    carol, dave = serve_person(c, "carol"), serve_person(c, "dave")
    eve = serve_person(evil, "eve")
    failed = []
    a = await start_node("a.test", users={"alice": "Alice"}, on_delivery_failed=failed.append)
    b = await start_node("b.test", users={"bob": "Bob"})
    # alice writes to bob, carol and eve: three servers become known, none of them follows
    await a.ctx.send(note_create(a, 1), to=[b.actor("bob"), carol, eve])

    async def delivered() -> bool:
        return (
            len(b.state.remote_notes) == 1
            and len(posts(c, "/users/carol/inbox")) == 1
            and len(posts(evil, "/users/eve/inbox")) == 1
        )

    await wait_until(delivered, message="the first deliveries")
    assert await known(a) == sorted([b.fed.uri("shared_inbox"), carol + "/inbox", eve + "/inbox"])
    # dave (on carol's server) follows alice; eve's server is blocked from now on
    a.state.followers["alice"] = [dave]
    a.fed.moderation.block_host = lambda host: host == "social.a.test"

    await a.ctx.send_actor_delete("alice")
    await b.wait_for(lambda: a.actor("alice") in b.state.deleted_actors)

    async def settled() -> bool:  # every delivery message of a handled: nothing in flight
        idle = (await a.fed.queue.stats()).depth == 0
        return idle and len(posts(c, kind="Delete")) >= 1

    await wait_until(settled, message="the Delete at c.test, a's queue empty")
    [delete] = posts(c, kind="Delete")  # c.test once: through its follower, not twice
    assert delete["object"] == a.actor("alice")
    assert delete["actor"] == a.actor("alice")
    assert posts(c, "/users/dave/inbox", "Delete") == [delete]
    assert posts(evil, kind="Delete") == []  # blocked: left out
    assert failed == []  # a known server blocked by policy is not a delivery failure
    assert [d.id for d in b.state.handled if d.type == "Delete"] == [delete["id"]]


async def test_a_verified_sender_is_known_and_gets_the_profile_update(start_node):
    a = await start_node("a.test", users={"alice": "Alice"})
    b = await start_node("b.test", users={"bob": "Bob"})
    like = Like(id=f"{b.actor('bob')}#likes/1", actor=b.actor("bob"), object=a.note_uri("1"))
    await b.ctx.send(like, to=[a.actor("alice")])  # signed: a fetches bob (key) and knows b
    await a.wait_for(lambda: len(a.state.handled) == 1)
    assert await known(a) == [b.fed.uri("shared_inbox")]

    await a.ctx.send_profile_update("alice")
    await b.wait_for(lambda: any(isinstance(x, Update) for x in b.state.handled))
    [update] = [x for x in b.state.handled if isinstance(x, Update)]
    assert isinstance(update.object, Person)
    assert update.object.id == a.actor("alice")
    assert update.object.inbox == a.fed.uri("inbox", handle="alice")  # the served document


async def test_the_store_registry_keeps_one_inbox_per_host_preferring_shared():
    store = MemoryStore()
    one, two = StoreKnownInboxes(store), StoreKnownInboxes(store)
    await one.remember("https://x.example/users/a/inbox", shared=False)
    await one.remember("https://x.example/users/b/inbox", shared=False)  # not better: kept a
    assert [i async for i in one.inboxes()] == ["https://x.example/users/a/inbox"]
    await one.remember("https://x.example/inbox", shared=True)  # a shared inbox replaces it
    await two.remember("https://x.example/users/c/inbox", shared=False)  # another process
    assert [i async for i in two.inboxes()] == ["https://x.example/inbox"]
    # a host recorded once costs no store access in that process: the memo answers
    await store.delete(("known", "inbox", "x.example"))
    await one.remember("https://x.example/inbox", shared=True)
    assert [i async for i in one.inboxes()] == []
    await one.remember("not a url", shared=True)  # ignored, no error

"""The object resolution layer (issue 12): typed ``ctx.lookup``, local URIs answered by our
own dispatchers, and ``ctx.traverse_collection``.

Real HTTP on loopback: Federation nodes served by uvicorn (``start_node``) behind a
request-counting middleware, and plain loopback servers (``start_server``) standing for
remote hosts, whose request logs show what was — and was not — asked of them.
"""

from __future__ import annotations

from typing import Any

import pytest
from hostile import AS

from activitypub_kit.errors import (
    FetchBudgetExhaustedError,
    HttpStatusError,
    InvalidResponseError,
    OriginMismatchError,
    ResourceGoneError,
    WrongTypeError,
)
from activitypub_kit.http import fetch_budget
from activitypub_kit.models import (
    Application,
    Note,
    Object,
    OrderedCollection,
    Person,
    parse,
)

pytestmark = pytest.mark.anyio
AP_ACCEPT = {"Accept": "application/activity+json"}


class Counting:
    """ASGI middleware recording the path of every HTTP request the node receives."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


async def counted_node(start_node, host: str = "a.test", **options: Any):
    counter: list[Counting] = []

    def app(node):
        counter.append(Counting(node.fed.asgi(run_worker=False)))
        return counter[0]

    node = await start_node(host, app=app, worker=False, **options)
    return node, counter[0]


def note(server, path: str, **extra: Any) -> dict[str, Any]:
    return {"@context": AS, "id": server.url(path), "type": "Note", "content": "hi", **extra}


async def collect(iterator, into: list[Any] | None = None) -> list[Any]:
    got = [] if into is None else into
    async for item in iterator:
        got.append(item)
    return got


# -- typed lookups -----------------------------------------------------------------------


async def test_lookup_is_typed_and_refuses_another_type(start_node, start_server):
    remote = await start_server("b.test")
    remote.json("/notes/1", note(remote, "/notes/1"))
    bob = {"@context": AS, "id": remote.url("/users/bob"), "type": "Person", "inbox": "x"}
    remote.json("/users/bob", bob)
    a = await start_node("a.test", worker=False)

    found = await a.ctx.lookup(remote.url("/notes/1"), Note)
    assert isinstance(found, Note)
    assert found.content == "hi"
    assert isinstance(await a.ctx.lookup(remote.url("/notes/1"), Object), Note)  # subclass
    assert isinstance(await a.ctx.lookup(remote.url("/notes/1")), Note)

    with pytest.raises(WrongTypeError, match=r"/users/bob is a Person, not Note") as wrong:
        await a.ctx.lookup(remote.url("/users/bob"), Note)
    assert (wrong.value.expected, wrong.value.actual) == ("Note", "Person")
    assert wrong.value.uri == remote.url("/users/bob")
    # lookup_actor shares the code: a Note is the wrong type, still an InvalidResponseError
    with pytest.raises(WrongTypeError, match="is a Note, not Actor") as not_actor:
        await a.ctx.lookup_actor(remote.url("/notes/1"))
    assert isinstance(not_actor.value, InvalidResponseError)
    assert isinstance(await a.ctx.lookup_actor(remote.url("/users/bob")), Person)
    assert remote.hits("/notes/1") == 1
    assert remote.hits("/users/bob") == 1


async def test_lookup_actor_refuses_an_unknown_type_shaped_like_an_actor(start_node, start_server):
    remote = await start_server("b.test")
    doc = {"@context": AS, "id": remote.url("/x"), "type": "Thing", "inbox": "i", "outbox": "o"}
    remote.json("/x", doc)
    a = await start_node("a.test", worker=False)
    with pytest.raises(WrongTypeError, match="is a Thing, not Actor"):
        await a.ctx.lookup_actor(remote.url("/x"))


# -- local URIs --------------------------------------------------------------------------


async def test_local_uris_are_answered_by_the_dispatchers_without_http(start_node, client):
    a, counter = await counted_node(start_node)
    a.state.users.update({"alice": "Alice", "carol": "Carol"})
    a.state.gone.add("dave")
    alice = a.actor("alice")
    a.state.notes["1"] = {"id": a.note_uri("1"), "type": "Note", "attributedTo": alice}
    a.state.notes["2"] = {"type": "Tombstone"}
    a.state.followers["alice"] = [f"https://x.example/u/{n}" for n in range(5)]
    ctx = a.ctx

    person = await ctx.lookup(alice, Person)
    assert person.inbox == a.fed.uri("inbox", handle="alice")
    assert person.public_keys
    assert person.public_keys[0].owner == alice
    assert (await ctx.lookup_actor(f"{alice}#main-key")).id == alice  # like over HTTP
    assert isinstance(await ctx.lookup(ctx.instance_actor_uri(), Application), Application)
    assert (await ctx.lookup(a.note_uri("1"), Note)).attributed_to == alice
    with pytest.raises(WrongTypeError, match="is a Note, not Person"):
        await ctx.lookup(a.note_uri("1"), Person)
    # not found and gone: the errors a remote 404 / 410 gives
    with pytest.raises(HttpStatusError) as missing:
        await ctx.lookup(a.note_uri("404"))
    assert missing.value.status_code == 404
    for gone in (a.note_uri("2"), a.actor("dave")):
        with pytest.raises(ResourceGoneError):
            await ctx.lookup(gone)
    for nothing in (a.actor("nobody"), ctx.inbox_uri("alice"), f"{a.origin}/elsewhere"):
        with pytest.raises(HttpStatusError, match="404"):
            await ctx.lookup(nothing)
    with pytest.raises(HttpStatusError) as bad_cursor:
        await ctx.lookup(ctx.followers_uri("alice") + "?cursor=abc")
    assert bad_cursor.value.status_code == 400
    followers = await ctx.lookup(ctx.followers_uri("alice"), OrderedCollection)
    assert followers.total_items == 5
    members = await collect(ctx.traverse_collection(ctx.followers_uri("alice")))
    assert members == a.state.followers["alice"]  # three pages, from the dispatcher
    assert counter.paths == []  # not one request to ourselves

    # the same document a fetcher gets over HTTP
    served = await client.get(alice, headers=AP_ACCEPT)
    assert parse(served.json()).to_json() == person.to_json()
    assert counter.paths == ["/users/alice"]


# -- remote collections ------------------------------------------------------------------


def serve_pages(server, count: int, per_page: int = 2, *, embed_first: bool = False) -> list[str]:
    """An OrderedCollection at /c whose pages are /c?page=1..count; returns every item."""
    everything: list[str] = []
    pages: list[dict[str, Any]] = []
    for number in range(1, count + 1):
        items = [server.url(f"/notes/{number}-{i}") for i in range(per_page)]
        everything += items
        page: dict[str, Any] = {
            "id": server.url(f"/c?page={number}"),
            "type": "OrderedCollectionPage",
            "partOf": server.url("/c"),
            "orderedItems": items,
        }
        if number < count:
            page["next"] = server.url(f"/c?page={number + 1}")
        pages.append(page)
    for page in pages:
        server.json(page["id"].removeprefix(server.origin), {"@context": AS, **page})
    first: Any = pages[0] if embed_first else pages[0]["id"]
    collection = {"@context": AS, "id": server.url("/c"), "type": "OrderedCollection"}
    server.json("/c", {**collection, "totalItems": len(everything), "first": first})
    return everything


async def test_a_remote_collection_is_walked_across_its_pages(start_node, start_server):
    remote = await start_server("b.test")
    everything = serve_pages(remote, 3)
    a = await start_node("a.test", worker=False)
    assert await collect(a.ctx.traverse_collection(remote.url("/c"))) == everything
    assert [remote.hits(f"/c?page={n}") for n in (1, 2, 3)] == [1, 1, 1]
    # a collection model given directly, and a second walk from the resolver's cache
    collection = await a.ctx.lookup(remote.url("/c"), OrderedCollection)
    assert await collect(a.ctx.traverse_collection(collection)) == everything
    assert remote.hits("/c") == 1
    assert remote.hits("/c?page=1") == 1


async def test_an_unordered_collection_with_an_embedded_first_page(start_node, start_server):
    remote = await start_server("b.test")
    embedded = note(remote, "/notes/e")
    remote.json(
        "/c",
        {
            "@context": AS,
            "id": remote.url("/c"),
            "type": "Collection",
            "first": {
                "id": remote.url("/c?page=1"),
                "type": "CollectionPage",
                "items": [embedded, remote.url("/notes/r")],
                "next": remote.url("/c?page=2"),
            },
        },
    )
    remote.json(
        "/c?page=2",
        {"@context": AS, "id": remote.url("/c?page=2"), "type": "CollectionPage", "items": "z"},
    )
    a = await start_node("a.test", worker=False)
    items = await collect(a.ctx.traverse_collection(remote.url("/c")))
    assert isinstance(items[0], Note)
    assert items[0].id == embedded["id"]
    assert items[1:] == [remote.url("/notes/r"), "z"]
    assert remote.hits("/c?page=1") == 0  # embedded: not fetched


async def test_page_and_item_budgets_stop_the_walk(start_node, start_server):
    remote = await start_server("b.test")
    everything = serve_pages(remote, 3, embed_first=True)
    a = await start_node("a.test", worker=False)
    walk = a.ctx.traverse_collection
    assert await collect(walk(remote.url("/c"), max_pages=2)) == everything[:4]
    assert remote.hits("/c?page=3") == 0
    assert await collect(walk(remote.url("/c"), max_items=3)) == everything[:3]
    assert await collect(walk(remote.url("/c"), max_items=2)) == everything[:2]
    assert remote.hits("/c?page=2") == 1  # from the first walk only: no fetch past the budget
    assert await collect(walk(remote.url("/c"), max_pages=0)) == []


async def test_a_loop_of_pages_stops_the_walk(start_node, start_server):
    remote = await start_server("b.test")
    everything = serve_pages(remote, 2)
    page2 = {
        "@context": AS,
        "id": remote.url("/c?page=2"),
        "type": "OrderedCollectionPage",
        "orderedItems": everything[2:],
        "next": remote.url("/c?page=1"),  # back to the start
    }
    remote.json("/c?page=2", page2)
    a = await start_node("a.test", worker=False)
    assert await collect(a.ctx.traverse_collection(remote.url("/c"))) == everything
    assert remote.hits("/c?page=1") == 1


async def test_a_page_on_another_origin_is_refused_without_a_request(start_node, start_server):
    remote, other = await start_server("b.test"), await start_server("c.test")
    everything = serve_pages(remote, 1)
    remote.json(
        "/c?page=1",
        {
            "@context": AS,
            "id": remote.url("/c?page=1"),
            "type": "OrderedCollectionPage",
            "orderedItems": everything,
            "next": other.url("/c?page=2"),
        },
    )
    a = await start_node("a.test", worker=False)
    got: list[Any] = []
    with pytest.raises(OriginMismatchError, match="on another origin"):
        await collect(a.ctx.traverse_collection(remote.url("/c")), got)
    assert got == everything  # what the collection's own origin vouched for
    assert other.seen == []


async def test_pages_are_fetched_through_the_resolver(start_node, start_server):
    remote = await start_server("b.test")
    serve_pages(remote, 3)
    a = await start_node("a.test", worker=False)
    with fetch_budget(3), pytest.raises(FetchBudgetExhaustedError):
        await collect(a.ctx.traverse_collection(remote.url("/c")))
    assert remote.hits("/c?page=3") == 0


async def test_another_federation_s_collection_is_walked_over_http(start_node):
    a = await start_node("a.test", worker=False)
    b, counter = await counted_node(start_node, "b.test", users={"bob": "Bob"})
    b.state.followers["bob"] = [f"https://x.example/u/{n}" for n in range(5)]
    followers = b.ctx.followers_uri("bob")
    assert await collect(a.ctx.traverse_collection(followers)) == b.state.followers["bob"]
    # the collection embeds its first page; two more pages by URI
    assert counter.paths == ["/users/bob/followers"] * 3
    bob = await a.ctx.lookup_actor(b.actor("bob"))
    assert (
        await collect(a.ctx.traverse_collection(bob.followers, max_items=3))
        == (b.state.followers["bob"][:3])
    )

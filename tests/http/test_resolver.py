"""ActivityPub fetch and resolution: content types, origin rules, FEP-fe34, cache, budget."""

from __future__ import annotations

from typing import Any

import pytest

from activitypub_kit.errors import (
    AddressRefusedError,
    ConnectionFailedError,
    FetchBudgetExhaustedError,
    HttpStatusError,
    InvalidResponseError,
    OriginMismatchError,
    ResourceGoneError,
    UrlRefusedError,
    WrongContentTypeError,
)
from activitypub_kit.http import ACCEPT, FetchCache, HttpClient, HttpSettings, Resolver
from activitypub_kit.http._cache import _LocalStore
from activitypub_kit.storage._base import JSONValue, Key
from loopback import StartServer, resolver_with

pytestmark = pytest.mark.anyio

AS_LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'


@pytest.fixture
async def resolver(client: HttpClient) -> Resolver:
    return Resolver(client)


def note(server_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": server_url,
        "type": "Note",
    } | extra


# -- content type (H-02) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "text/plain",
        "application/octet-stream",
        "application/ld+json",
        'application/ld+json; profile="https://example.com"',
        "text/html; charset=utf-8",
    ],
)
async def test_wrong_content_type_is_refused(
    content_type: str, start_server: StartServer, resolver: Resolver
) -> None:
    server = await start_server("a.test")
    server.json("/n", note(server.url("/n")), content_type=content_type)
    with pytest.raises(WrongContentTypeError, match="content type"):
        await resolver.fetch(server.url("/n"))


@pytest.mark.parametrize(
    "content_type",
    [
        "application/activity+json",
        "application/activity+json; charset=utf-8",
        AS_LD,
        'application/ld+json;profile="https://www.w3.org/ns/activitystreams https://x.test/p"',
        "Application/Activity+JSON",
    ],
)
async def test_activitypub_content_types_are_accepted(
    content_type: str, start_server: StartServer, resolver: Resolver
) -> None:
    server = await start_server("a.test")
    server.json("/n", note(server.url("/n")), content_type=content_type)
    document = await resolver.fetch(server.url("/n"))
    assert document["id"] == server.url("/n")
    assert server.seen[0].headers["Accept"] == ACCEPT


async def test_status_errors_are_typed(start_server: StartServer, resolver: Resolver) -> None:
    server = await start_server("a.test")
    server.json("/gone", {}, status=410)
    with pytest.raises(ResourceGoneError, match="410"):
        await resolver.fetch(server.url("/gone"))
    with pytest.raises(HttpStatusError, match="404") as caught:
        await resolver.fetch(server.url("/missing"))
    assert caught.value.status_code == 404


@pytest.mark.parametrize("body", [b"[1, 2]", b"not json", b"[" * 100_000 + b"]" * 100_000])
async def test_body_must_be_a_json_object(
    body: bytes, start_server: StartServer, resolver: Resolver
) -> None:
    server = await start_server("a.test")
    server.raw("/bad", body, {"Content-Type": "application/activity+json"})
    with pytest.raises(InvalidResponseError):
        await resolver.fetch(server.url("/bad"))


# -- origin of the id (H-01, H-03, H-05, H-09) ----------------------------------------


async def test_id_on_the_fetched_origin_is_accepted(
    start_server: StartServer, resolver: Resolver
) -> None:
    server = await start_server("a.test")
    server.redirect("/@alice", "/users/alice")  # same-origin redirect, id = final URL
    server.json("/users/alice", note(server.url("/users/alice")))
    document = await resolver.fetch(server.url("/@alice"))
    assert document["id"] == server.url("/users/alice")


async def test_id_on_another_origin_is_refetched_from_that_origin(
    start_server: StartServer, resolver: Resolver
) -> None:
    evil = await start_server("a.test")
    victim = await start_server("b.test")
    alice = victim.url("/users/alice")
    evil.json("/x", note(alice, type="Person", inbox=evil.url("/inbox"), name="fake"))
    victim.json("/users/alice", note(alice, type="Person", inbox=victim.url("/inbox"), name="real"))
    document = await resolver.fetch(evil.url("/x"))
    assert document["name"] == "real"
    assert document["inbox"] == victim.url("/inbox")
    assert victim.hits("/users/alice") == 1


async def test_id_the_other_origin_does_not_confirm_is_rejected(
    start_server: StartServer, resolver: Resolver
) -> None:
    evil = await start_server("a.test")
    victim = await start_server("b.test")
    evil.json("/x", note(victim.url("/users/alice")))
    victim.json("/users/alice", note(victim.url("/users/bob")))
    with pytest.raises(OriginMismatchError, match="does not confirm"):
        await resolver.fetch(evil.url("/x"))


async def test_cross_origin_redirect_does_not_lend_authority(
    start_server: StartServer, resolver: Resolver
) -> None:
    victim = await start_server("a.test")
    evil = await start_server("b.test")
    # victim's old path redirects to the attacker, whose document claims the victim's URL.
    victim.redirect("/old-media/x", evil.url("/fake.json"))
    evil.json("/fake.json", note(victim.url("/old-media/x"), attributedTo=victim.url("/u/a")))
    with pytest.raises(OriginMismatchError):
        await resolver.fetch(victim.url("/old-media/x"))


async def test_document_without_id_is_rejected(
    start_server: StartServer, resolver: Resolver
) -> None:
    server = await start_server("a.test")
    server.json("/anon", {"type": "Note"})
    with pytest.raises(InvalidResponseError, match="has no id"):
        await resolver.fetch(server.url("/anon"))


async def test_our_own_origin_is_never_fetched(
    start_server: StartServer, client: HttpClient
) -> None:
    server = await start_server("a.test")
    server.json("/objects/1", note(server.url("/objects/1")))
    resolver = Resolver(client, local_origins=[server.origin])
    with pytest.raises(UrlRefusedError, match="our own origin"):
        await resolver.fetch(server.url("/objects/1"))
    assert server.seen == []


async def test_fetch_by_id_pointing_at_a_refused_address(start_server: StartServer) -> None:
    server = await start_server("a.test")
    server.json("/x", note("http://internal.test/admin"))
    resolver_ = resolver_with({"internal.test": ["10.1.2.3"]})
    async with HttpClient(HttpSettings.for_local_testing(), resolver=resolver_) as client:
        with pytest.raises(AddressRefusedError, match=r"10\.1\.2\.3"):
            await Resolver(client).fetch(server.url("/x"))


# -- embedded objects (FEP-fe34) -------------------------------------------------------


async def test_foreign_embedded_objects_become_references(
    start_server: StartServer, resolver: Resolver
) -> None:
    a = await start_server("a.test")
    b = await start_server("b.test")
    forged = {"id": b.url("/notes/1"), "type": "Note", "content": "forged by a"}
    own = {"id": a.url("/notes/2"), "type": "Note", "content": "a's own"}
    anonymous = {"type": "Mention", "href": b.url("/users/bob")}
    announce = note(
        a.url("/announce/1"),
        type="Announce",
        object=forged,
        tag=[anonymous, {"id": b.url("/tags/x"), "type": "Hashtag"}],
        instrument=own,
    )
    a.json("/announce/1", announce)
    b.json("/notes/1", {"id": b.url("/notes/1"), "type": "Note", "content": "the real one"})
    document = await resolver.fetch(a.url("/announce/1"))
    assert document["object"] == b.url("/notes/1")
    assert document["tag"] == [anonymous, b.url("/tags/x")]
    assert document["instrument"] == own
    real = await resolver.dereference(document["object"], container=document)
    assert real is not None
    assert real["content"] == "the real one"
    # An inbound activity (not fetched by us) embedding a foreign object: refetched too.
    inbound = {"id": a.url("/activities/9"), "type": "Create", "object": forged}
    trusted = await resolver.dereference(inbound["object"], container=inbound)
    assert trusted is not None
    assert trusted["content"] == "the real one"
    same = await resolver.dereference(own, container=document)
    assert same == own


# -- cache and budget ------------------------------------------------------------------


class RecordingStore(_LocalStore):
    """The local store, remembering the TTL of every write."""

    def __init__(self) -> None:
        super().__init__()
        self.ttls: list[float | None] = []

    async def set(self, key: Key, value: JSONValue, *, ttl: float | None = None) -> None:
        self.ttls.append(ttl)
        await super().set(key, value, ttl=ttl)


async def test_documents_and_failures_are_cached_with_a_ttl(
    start_server: StartServer, client: HttpClient
) -> None:
    server = await start_server("a.test")
    server.json("/n", note(server.url("/n")))
    store = RecordingStore()
    resolver = Resolver(client, cache=FetchCache(store, document_ttl=120, failure_ttl=30))
    for _ in range(3):
        await resolver.fetch(server.url("/n"))
        with pytest.raises(HttpStatusError, match="404"):
            await resolver.fetch(server.url("/missing"))
    assert server.hits("/n") == 1
    assert server.hits("/missing") == 1  # negative cache: asked once
    with pytest.raises(HttpStatusError, match="cached failure") as caught:
        await resolver.fetch(server.url("/missing"))
    assert caught.value.status_code == 404
    assert store.ttls
    assert all(ttl in (120, 30) for ttl in store.ttls)
    refreshed = await resolver.fetch(server.url("/n"), refresh=True)
    assert refreshed["id"] == server.url("/n")
    assert server.hits("/n") == 2


async def test_negative_cache_stops_a_storm_on_an_unreachable_url(client: HttpClient) -> None:
    resolver = Resolver(client)
    for _ in range(100):
        with pytest.raises(ConnectionFailedError, match=r"nowhere\.test"):
            await resolver.fetch("http://nowhere.test/key")
    assert client.resolver.queries.count("nowhere.test") == 1  # type: ignore[attr-defined]


async def test_recursive_fetching_stops_at_the_budget(
    start_server: StartServer, client: HttpClient
) -> None:
    server = await start_server("a.test")
    for i in range(100):  # an endless inReplyTo chain
        server.json(f"/n/{i}", note(server.url(f"/n/{i}"), inReplyTo=server.url(f"/n/{i + 1}")))
    resolver = Resolver(client)
    seen: list[str] = []

    async def thread(url: str) -> None:
        document = await resolver.fetch(url)
        seen.append(document["id"])
        await thread(document["inReplyTo"])

    from activitypub_kit.http import fetch_budget

    with fetch_budget(20), pytest.raises(FetchBudgetExhaustedError, match="budget of 20"):
        await thread(server.url("/n/0"))
    assert len(seen) == 20
    assert len(server.seen) == 20

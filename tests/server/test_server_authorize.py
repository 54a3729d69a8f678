"""Who may see a served document: ``ctx.signer`` and ``authorize`` predicates, over HTTP.

A node on loopback (uvicorn) serves alice's notes; remote actors on a loopback server (eve,
a follower, and frank, who is not one) fetch them with signed ``GET`` requests.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from hostile import Remote, serve_actor
from nodes import keys_for
from social import Node

from activitypub_kit.errors import RouteError
from activitypub_kit.http import HttpClient
from activitypub_kit.models import Note, Person
from activitypub_kit.server import Context, Federation, PageItems
from activitypub_kit.server._documents import Signer
from activitypub_kit.signatures import HttpRequest, PrivateKey, sign_cavage

pytestmark = pytest.mark.anyio
AP = {"Accept": "application/activity+json"}
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


async def get(
    client: HttpClient,
    url: str,
    key: PrivateKey | None = None,
    key_id: str = "",
    *,
    now: float | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """GET ``url`` as ActivityPub JSON, signed (draft-cavage) when ``key`` is given."""
    headers: list[tuple[str, str]] = []
    if key is not None:
        request = HttpRequest("GET", url, [], b"")
        request = sign_cavage(request, key, key_id, now=time.time() if now is None else now)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() != "host"]
    response = await client.get(url, headers=[*headers, *AP.items()], auth=None)
    return response.status_code, response.json(), dict(response.headers)


def as_(remote: Remote) -> tuple[PrivateKey, str]:
    return remote.rsa, remote.key_id


def add_notes(node: Node) -> list[Signer | None]:
    """A public and a followers-only note of alice, guarded by ``authorize``; what the
    dispatcher saw as ``ctx.signer`` is recorded in the returned list."""
    state, seen = node.state, []
    alice = node.actor("alice")
    for note_id, audience in (("public", PUBLIC), ("private", f"{alice}/followers")):
        state.notes[note_id] = Note(
            id=node.note_uri(note_id), attributedTo=alice, to=[audience], content=note_id
        ).to_json(context=False)

    def may_see(ctx: Context, signer: Signer | None, id: str) -> bool:
        note = state.notes.get(id)
        if note is None or PUBLIC in note["to"]:
            return True  # a missing note is the dispatcher's 404
        return signer is not None and signer.actor in state.followers.get("alice", [])

    @node.fed.object(Note, "/notes/{id}", replace=True, authorize=may_see)
    async def note(ctx: Context, id: str) -> Note | None:
        seen.append(ctx.signer)
        found = state.notes.get(id)
        return None if found is None else Note.model_validate(found)

    return seen


@pytest.fixture
async def world(start_node, start_server):  # type: ignore[no-untyped-def]
    """alice's node (authorized fetch off), and eve (a follower) and frank on c.test."""
    node = await start_node("a.test", users={"alice": "Alice"}, worker=False)
    remote = await start_server("c.test")
    eve = serve_actor(remote, "eve", keys_for("eve"))
    frank = serve_actor(remote, "frank", keys_for("frank"))
    node.state.followers["alice"] = [eve.id]
    return node, eve, frank


async def test_a_followers_only_note_is_served_to_a_signed_follower_only(world, client):
    node, eve, frank = world
    seen = add_notes(node)
    private = node.note_uri("private")

    status, document, headers = await get(client, private, *as_(eve))
    assert (status, document["content"]) == (200, "private")
    assert headers["cache-control"] == "private"  # no shared cache hands it to others
    assert seen == [Signer(eve.key_id)]

    # Refused exactly as a missing note is: a refusal does not tell that the note exists.
    missing = await get(client, node.note_uri("nothing"), *as_(frank))
    assert missing[:2] == (404, {"error": "no such object"})
    assert (await get(client, private, *as_(frank)))[:2] == missing[:2]
    assert (await get(client, private))[:2] == missing[:2]
    assert len(seen) == 2  # the refused requests never reached the dispatcher (only "nothing")

    # The public note is served to anyone, unsigned included.
    status, document, _ = await get(client, node.note_uri("public"))
    assert (status, document["content"]) == (200, "public")


async def test_dispatchers_see_the_verified_signer(world, client):
    node, eve, _frank = world
    seen = add_notes(node)
    actors: list[Signer | None] = []

    @node.fed.actor("/users/{handle}", replace=True)
    async def actor(ctx: Context, handle: str) -> Person | None:
        actors.append(ctx.signer)
        return Person(id=ctx.actor_uri(handle), name="Alice") if handle == "alice" else None

    assert (await get(client, node.note_uri("public"), *as_(eve)))[0] == 200
    assert (await get(client, node.note_uri("public")))[0] == 200
    signer, unsigned = seen
    assert isinstance(signer, Signer)
    assert (signer.actor, signer.key_id) == (eve.id, eve.key_id)
    assert signer == eve.key_id  # a str: the key id, as in inbox handlers
    assert unsigned is None

    assert (await get(client, node.actor("alice"), *as_(eve)))[0] == 200
    assert actors[-1] is not None
    assert actors[-1].actor == eve.id
    # The instance actor is answered without looking at signatures (it signs our fetches).
    instance = await client.get(node.origin + "/actor", headers=AP, auth=None)
    assert instance.status_code == 200


async def test_an_invalid_signature_counts_as_none_without_authorized_fetch(world, client):
    node, eve, frank = world
    seen = add_notes(node)
    private, public = node.note_uri("private"), node.note_uri("public")
    forged = (frank.rsa, eve.key_id)  # frank's key, claiming to be eve's
    stale = {"now": time.time() - 3 * 3600}  # outside the signature window

    for options in ({}, stale):
        key, key_id = forged if not options else as_(eve)
        assert (await get(client, private, key, key_id, **options))[:2] == (
            404,
            {"error": "no such object"},
        )
        status, document, _ = await get(client, public, key, key_id, **options)
        assert (status, document["content"]) == (200, "public")
    assert seen == [None, None]  # answered as unsigned: the dispatcher saw no signer


async def test_an_invalid_signature_is_401_with_authorized_fetch(start_node, start_server, client):
    node = await start_node("a.test", users={"alice": "Alice"}, worker=False, authorized_fetch=True)
    remote = await start_server("c.test")
    eve = serve_actor(remote, "eve", keys_for("eve"))
    frank = serve_actor(remote, "frank", keys_for("frank"))
    node.state.followers["alice"] = [eve.id]
    add_notes(node)
    private = node.note_uri("private")

    status, document, _ = await get(client, private, frank.rsa, eve.key_id)
    assert status == 401
    assert "does not verify" in document["error"]
    assert (await get(client, private))[0] == 401
    assert (await get(client, private, *as_(frank)))[:2] == (404, {"error": "no such object"})
    assert (await get(client, private, *as_(eve)))[0] == 200


async def test_authorize_guards_a_collection_and_its_pages(world, client):
    node, eve, frank = world
    members = [eve.id, *(f"https://b.test/users/{i}" for i in range(3))]
    node.state.followers["alice"] = members
    calls: list[tuple[str | None, str]] = []

    async def followers_only(ctx: Context, signer: Signer | None, handle: str) -> bool:
        calls.append((signer.actor if signer else None, handle))
        return signer is not None and signer.actor in node.state.followers.get(handle, [])

    @node.fed.followers("/users/{handle}/followers", replace=True, authorize=followers_only)
    async def followers(ctx: Context, cursor: str | None, handle: str) -> PageItems | None:
        start = int(cursor or 0)
        everyone = node.state.followers.get(handle, [])
        more = start + 2 < len(everyone)
        return PageItems(everyone[start : start + 2], next=str(start + 2) if more else None)

    uri = node.fed.uri("collection:followers", handle="alice")
    status, document, headers = await get(client, uri, *as_(eve))
    assert status == 200
    assert document["first"]["orderedItems"] == members[:2]
    assert headers["cache-control"] == "private"
    status, page, _ = await get(client, f"{uri}?cursor=2", *as_(eve))
    assert status == 200
    assert page["orderedItems"] == members[2:]

    refused = (404, {"error": "no such collection"})
    assert (await get(client, uri, *as_(frank)))[:2] == refused
    assert (await get(client, f"{uri}?cursor=2", *as_(frank)))[:2] == refused
    assert (await get(client, uri))[:2] == refused
    assert calls[-3:] == [(frank.id, "alice"), (frank.id, "alice"), (None, "alice")]


async def test_authorize_on_the_actor(world, client):
    node, eve, frank = world

    def not_frank(ctx: Context, signer: Signer | None, handle: str) -> bool:
        return signer is None or signer.actor != frank.id

    @node.fed.actor("/users/{handle}", replace=True, authorize=not_frank)
    async def actor(ctx: Context, handle: str) -> Person | None:
        return Person(id=ctx.actor_uri(handle)) if handle in node.state.users else None

    alice = node.actor("alice")
    assert (await get(client, alice, *as_(eve)))[0] == 200
    assert (await get(client, alice))[0] == 200
    assert (await get(client, alice, *as_(frank)))[:2] == (404, {"error": "no such actor"})


async def test_a_blocked_signer_is_answered_as_unsigned_without_authorized_fetch(
    start_node, start_server, client
):
    node = await start_node(
        "a.test",
        users={"alice": "Alice"},
        worker=False,
        block_actor=lambda actor: actor.endswith("/mallory"),
    )
    remote = await start_server("c.test")
    mallory = serve_actor(remote, "mallory", keys_for("mallory"))
    node.state.followers["alice"] = [mallory.id]  # blocked after following
    seen = add_notes(node)
    refused = await get(client, node.note_uri("private"), *as_(mallory))
    assert refused[:2] == (404, {"error": "no such object"})
    assert (await get(client, node.note_uri("public"), *as_(mallory)))[0] == 200
    assert seen == [None]  # the dispatcher saw no signer


async def test_predicates_are_checked_when_registered() -> None:
    fed = Federation("https://a.example")

    async def note(ctx: Context, id: str) -> Note | None:
        return None

    def wrong(ctx: Context, note_id: str) -> bool:  # no signer, and not the template's name
        return True

    with pytest.raises(RouteError, match="authorize predicate"):
        fed.object(Note, "/notes/{id}", authorize=wrong)(note)
    assert "object:Note" not in fed.templates  # nothing registered

    fed.object(Note, "/notes/{id}", authorize=lambda ctx, signer, id: True)(note)
    assert "object:Note" in fed.authorizers
    fed.object(Note, "/notes/{id}", replace=True)(note)
    assert "object:Note" not in fed.authorizers  # replaced without one: no predicate left
    await fed.aclose()

"""Interop with a real Fedify 2.3.6 server (Node.js 22) on loopback.

Our side is a :class:`~activitypub_kit.server.Federation` app served by uvicorn
(``tests/server/social.py``); the other side is ``fedify_peer.mjs``.  Each side verifies
the other's HTTP signatures for real: an inbox answers 2xx and reaches its listeners only
for a verified request, and both sides log which scheme each inbox POST carried.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fedify import FedifyPeer, InboxRequests

from activitypub_kit.delivery._planning import inbox_host
from activitypub_kit.models import (
    Announce,
    Create,
    Delete,
    Follow,
    Like,
    Note,
    Undo,
    Update,
)
from activitypub_kit.signatures import (
    DoubleKnock,
    SignatureScheme,
    create_proof,
    sign_ld_signature,
)
from activitypub_kit.webfinger import WebFingerClient

pytestmark = pytest.mark.anyio

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = f"{AS}#Public"
DATA_INTEGRITY = "https://w3id.org/security/data-integrity/v1"


def object_id(value: Any) -> Any:
    """The id of an embedded object or a bare reference."""
    return value.get("id") if isinstance(value, dict) else value


async def our_node(start_node: Any) -> tuple[Any, InboxRequests]:
    recorder: list[InboxRequests] = []

    def wrap(node: Any) -> InboxRequests:
        recorder.append(InboxRequests(node.fed.asgi(run_worker=False)))
        return recorder[0]

    node = await start_node("127.0.0.1", users={"alice": "Alice"}, app=wrap)
    return node, recorder[0]


async def fedify_follows(peer: FedifyPeer, node: Any, number: int = 1) -> str:
    """Bob on Fedify follows alice; return the Follow's id once alice has the follower."""
    follow_id = peer.uri(f"/follows/{number}")
    alice = node.actor("alice")
    await peer.send(
        {"@context": AS, "type": "Follow", "id": follow_id, "actor": peer.actor, "object": alice},
        to=alice,
    )
    await node.wait_for(lambda: peer.actor in node.state.followers.get("alice", []))
    return follow_id


async def publish(node: Any, note_id: str, content: str) -> dict[str, Any]:
    """Alice publishes a public note to her followers."""
    note = Note(
        id=node.note_uri(note_id),
        attributedTo=node.actor("alice"),
        content=content,
        to=[PUBLIC],
        cc=[node.ctx.followers_uri("alice")],
    )
    document = note.to_json(context=False)
    node.state.notes[note_id] = document
    create = Create(id=f"{note.id}/activity", actor=node.actor("alice"), object=document)
    await node.ctx.send(create, to=[node.ctx.followers_of("alice")])
    return document


async def test_fedify_follows_us_and_receives_our_accept_and_note(start_node, start_fedify):
    node, inbox_log = await our_node(start_node)
    peer = await start_fedify()

    follow_id = await fedify_follows(peer, node)
    # Our inbox verified Fedify's first knock, an RFC 9421 signature: no fallback needed.
    assert inbox_log.seen[0] == ("/users/alice/inbox", "rfc9421", 202)

    accept = await peer.received("Accept", actor=node.actor("alice"))
    assert object_id(accept["object"]) == follow_id
    state = await peer.state()
    # Fedify verified our draft-cavage signature (our default) on the first try.
    assert [(r["scheme"], r["status"]) for r in state["requests"]] == [("draft-cavage", 202)]

    note = await publish(node, "1", "<p>Hello, Fedify</p>")
    create = await peer.received("Create", actor=node.actor("alice"))
    assert object_id(create["object"]) == note["id"]
    assert create["object"]["content"] == "<p>Hello, Fedify</p>"


def fedify_note(peer: FedifyPeer, number: int, content: str) -> dict[str, Any]:
    """A public note by bob on Fedify."""
    return {
        "id": peer.uri(f"/notes/{number}"),
        "type": "Note",
        "attributedTo": peer.actor,
        "content": content,
        "to": [PUBLIC],
    }


def activity(peer: FedifyPeer, kind: str, name: str, obj: Any) -> dict[str, Any]:
    """An activity by bob on Fedify, for /_test/send."""
    return {
        "@context": AS,
        "type": kind,
        "id": peer.uri(f"/activities/{name}"),
        "actor": peer.actor,
        "object": obj,
    }


@pytest.mark.parametrize("queue", [False, True], ids=["direct", "queued"])
async def test_every_activity_both_ways(start_node, start_fedify, queue):
    """``queued``: Fedify with a message queue (queued inbox, two-stage fan-out)."""
    node, inbox_log = await our_node(start_node)
    peer = await start_fedify(queue=queue)
    alice = node.actor("alice")
    ctx = node.ctx

    # -- we follow Fedify; Fedify verifies our Follow, we verify its Accept --------------
    follow = Follow(id=ctx.new_id(alice, "follows"), actor=alice, object=peer.actor)
    node.state.outgoing_follows[follow.id] = ("alice", peer.actor)
    await ctx.send(follow, to=[peer.actor])
    await node.wait_for(lambda: node.state.following.get("alice", {}) == {peer.actor: "accepted"})
    assert alice in (await peer.state())["followers"]
    follow_from_fedify = await fedify_follows(peer, node)

    # -- Fedify -> us: Create, Update, Like, Announce, Undo, Delete --------------------------
    note = fedify_note(peer, 1, "<p>from Fedify</p>")
    await peer.send(activity(peer, "Create", "create-1", note), to=alice)
    await node.wait_for(lambda: note["id"] in node.state.remote_notes)
    assert node.state.remote_notes[note["id"]]["content"] == "<p>from Fedify</p>"
    # Visible at its origin too: we fetch it from Fedify's object dispatcher.
    fetched = await ctx.lookup(note["id"])
    assert isinstance(fetched, Note)
    assert fetched.content == "<p>from Fedify</p>"

    edited = {**note, "content": "<p>edited on Fedify</p>"}
    await peer.send(activity(peer, "Update", "update-1", edited), to=alice)
    await node.wait_for(
        lambda: node.state.remote_notes[note["id"]]["content"] == "<p>edited on Fedify</p>"
    )

    ours = await publish(node, "1", "<p>by alice</p>")
    like = activity(peer, "Like", "like-1", ours["id"])
    share = activity(peer, "Announce", "announce-1", ours["id"])
    await peer.send(like, to=alice)
    await peer.send(share, to=alice)
    await node.wait_for(
        lambda: (
            node.state.likes.get(ours["id"]) == {peer.actor}
            and node.state.shares.get(ours["id"]) == {peer.actor}
        )
    )
    await peer.send(activity(peer, "Undo", "undo-like-1", like), to=alice)
    await peer.send(activity(peer, "Undo", "undo-announce-1", share), to=alice)
    await node.wait_for(
        lambda: not node.state.likes[ours["id"]] and not node.state.shares[ours["id"]]
    )

    await peer.send(activity(peer, "Delete", "delete-1", note["id"]), to=alice)
    await node.wait_for(lambda: note["id"] not in node.state.remote_notes)

    undo_follow = {
        **activity(peer, "Undo", "undo-follow-1", None),
        "object": {
            "type": "Follow",
            "id": follow_from_fedify,
            "actor": peer.actor,
            "object": alice,
        },
    }
    await peer.send(undo_follow, to=alice)
    await node.wait_for(lambda: peer.actor not in node.state.followers.get("alice", []))

    # -- us -> Fedify: Update, Like, Announce, Undo, Delete ----------------------------------
    await peer.received("Create", actor=alice)  # the note published above reached Fedify
    seen = await peer.lookup(ours["id"])  # and Fedify can fetch it from us
    assert (seen["type"], seen["content"]) == ("Note", "<p>by alice</p>")
    changed = {**ours, "content": "<p>alice edited</p>"}
    node.state.notes["1"] = changed
    await ctx.send(
        Update(id=f"{ours['id']}#update-1", actor=alice, object=changed), to=[peer.actor]
    )
    update = await peer.received("Update", actor=alice)
    assert update["object"]["content"] == "<p>alice edited</p>"

    theirs = fedify_note(peer, 2, "<p>bob again</p>")
    await peer.send(activity(peer, "Create", "create-2", theirs), to=alice)
    await node.wait_for(lambda: theirs["id"] in node.state.remote_notes)
    our_like = Like(id=ctx.new_id(alice, "likes"), actor=alice, object=theirs["id"])
    our_share = Announce(
        id=ctx.new_id(alice, "shares"), actor=alice, object=theirs["id"], to=[PUBLIC]
    )
    await ctx.send(our_like, to=[peer.actor])
    await ctx.send(our_share, to=[peer.actor])
    assert object_id((await peer.received("Like", id=our_like.id))["object"]) == theirs["id"]
    assert object_id((await peer.received("Announce", id=our_share.id))["object"]) == theirs["id"]

    undo_like = Undo(id=ctx.new_id(alice, "undos"), actor=alice, object=our_like.to_json())
    await ctx.send(undo_like, to=[peer.actor])
    assert object_id((await peer.received("Undo", id=undo_like.id))["object"]) == our_like.id

    node.state.notes["1"] = {"type": "Tombstone", "id": ours["id"]}
    delete = Delete(id=f"{ours['id']}#delete", actor=alice, object=ours["id"])
    await ctx.send(delete, to=[peer.actor])
    assert object_id((await peer.received("Delete", id=delete.id))["object"]) == ours["id"]

    unfollow = Undo(id=ctx.new_id(alice, "undos"), actor=alice, object=follow.to_json())
    await ctx.send(unfollow, to=[peer.actor])
    assert object_id((await peer.received("Undo", id=unfollow.id))["object"]) == follow.id

    # Every inbox request on both sides was verified on the first knock.
    assert {(scheme, status) for _path, scheme, status in inbox_log.seen} == {("rfc9421", 202)}
    fedify_requests = (await peer.state())["requests"]
    assert {(r["scheme"], r["status"]) for r in fedify_requests} == {("draft-cavage", 202)}


async def test_the_other_scheme_each_way(start_node, start_fedify):
    """Fedify signs draft-cavage first, we sign RFC 9421: both verify on the first knock."""
    node, inbox_log = await our_node(start_node)
    peer = await start_fedify(first_knock="draft-cavage-http-signatures-12")
    alice = node.actor("alice")
    # What our delivery code would remember after a successful RFC 9421 knock on this host.
    host = inbox_host(peer.uri("/users/bob/inbox"))
    assert host is not None
    await DoubleKnock(node.fed.store).remember(host, SignatureScheme.RFC9421)

    follow_id = await fedify_follows(peer, node)
    accept = await peer.received("Accept", actor=alice)
    assert object_id(accept["object"]) == follow_id
    ours = await publish(node, "1", "<p>signed with RFC 9421</p>")
    assert object_id((await peer.received("Create", actor=alice))["object"]) == ours["id"]
    note = fedify_note(peer, 1, "<p>signed with draft-cavage</p>")
    await peer.send(activity(peer, "Create", "create-1", note), to=alice)
    await node.wait_for(lambda: note["id"] in node.state.remote_notes)

    assert [(s, status) for _p, s, status in inbox_log.seen] == [("draft-cavage", 202)] * 2
    fedify_requests = (await peer.state())["requests"]
    assert [(r["scheme"], r["status"]) for r in fedify_requests] == [("rfc9421", 202)] * 2


async def test_fedify_refuses_an_unsigned_activity(start_node, start_fedify):
    """Control: the peer really verifies (an unsigned POST never reaches its listeners)."""
    peer = await start_fedify()
    forged = activity(peer, "Create", "forged", fedify_note(peer, 9, "unsigned"))
    forged["actor"] = peer.actor
    response = await peer.http.post(
        "/users/bob/inbox",
        json=forged,
        headers={"Content-Type": "application/activity+json"},
    )
    assert response.status_code == 401
    state = await peer.state()
    assert state["received"] == []
    assert [(r["scheme"], r["status"]) for r in state["requests"]] == [("none", 401)]


async def test_webfinger_both_ways(start_node, start_fedify, loopback_certificate):
    """Each side finds the other's actor from a handle (``user@127.0.0.1:PORT``)."""
    node = await start_node(
        "127.0.0.1", users={"alice": "Alice"}, allow_local_handles=True, tls=loopback_certificate
    )
    peer = await start_fedify()

    # Fedify -> us: acct: lookups always go over https, which our node serves here.
    host = node.origin.split("://")[1]
    found = await peer.lookup(f"@alice@{host}")
    assert found["id"] == node.actor("alice")
    assert found["type"] == "Person"

    # us -> Fedify: our WebFinger client, round trip checked (handle <-> actor).
    client = WebFingerClient(
        node.fed.client, node.fed.resolver, scheme="http", allow_port=True, allow_local=True
    )
    resolved = await client.resolve(peer.handle)
    assert resolved.id == peer.actor
    assert str(resolved.handle) == peer.handle
    assert resolved.actor["preferredUsername"] == "bob"


async def test_we_reject_a_follow_and_fedify_verifies_the_reject(start_node, start_fedify):
    node = await start_node("127.0.0.1", users={"carol": "locked Carol"})
    peer = await start_fedify()
    carol = node.actor("carol")
    follow_id = peer.uri("/follows/carol")
    await peer.send(
        {"@context": AS, "type": "Follow", "id": follow_id, "actor": peer.actor, "object": carol},
        to=carol,
    )
    reject = await peer.received("Reject", actor=carol)
    assert object_id(reject["object"]) == follow_id
    assert node.state.followers.get("carol", []) == []


async def test_fedify_deletes_its_actor_whose_key_is_gone(start_node, start_fedify):
    """Fedify's self-Delete arrives once bob's key answers 410: accepted, no fetch loop."""
    node, inbox_log = await our_node(start_node)
    peer = await start_fedify()
    alice = node.actor("alice")
    gone = await peer.delete_account(to=alice)
    await node.wait_for(lambda: peer.actor in node.state.deleted_actors)
    assert [a.id for a in node.state.handled] == [gone]
    assert [(s, status) for _p, s, status in inbox_log.seen] == [("rfc9421", 202)]
    async with httpx.AsyncClient() as http:
        answer = await http.get(peer.actor, headers={"Accept": "application/activity+json"})
    assert answer.status_code == 410


async def test_authorized_fetch_both_ways(start_node, start_fedify):
    """Our node demands signed GETs: Fedify's signed key fetches get through."""
    node = await start_node("127.0.0.1", users={"alice": "Alice"}, authorized_fetch=True)
    peer = await start_fedify()
    alice = node.actor("alice")
    async with httpx.AsyncClient() as http:
        unsigned = await http.get(alice, headers={"Accept": "application/activity+json"})
    assert unsigned.status_code == 401  # authorized fetch is really on

    # Fedify looks alice up signed as bob, then verifies our Accept by fetching our key
    # signed with its shared-inbox key (setSharedKeyDispatcher).
    follow_id = await fedify_follows(peer, node)
    assert object_id((await peer.received("Accept", actor=alice))["object"]) == follow_id
    ours = await publish(node, "1", "<p>for signed eyes</p>")
    assert object_id((await peer.received("Create", actor=alice))["object"]) == ours["id"]
    note = fedify_note(peer, 1, "<p>to a secure-mode server</p>")
    await peer.send(activity(peer, "Create", "create-1", note), to=alice)
    await node.wait_for(lambda: note["id"] in node.state.remote_notes)


@pytest.mark.parametrize("form", ["as-sent", "ld-only"])
async def test_we_verify_fedify_signatures_in_the_body(start_node, start_fedify, form):
    """A Fedify activity forwarded without its HTTP signature: the body vouches for it.

    ``as-sent``: the body Fedify POSTs, which carries an FEP-8b32 proof (Ed25519) and an LD
    signature over it (RSA); we check the proof.  ``ld-only``: Fedify's LD signature alone.
    """
    node, inbox_log = await our_node(start_node)
    peer = await start_fedify()
    note = fedify_note(peer, 1, "<p>forwarded</p>")
    create = activity(peer, "Create", "create-1", note)
    if form == "as-sent":
        forwarded = json.loads(await peer.as_sent(create))
        assert {"proof", "signature"} <= forwarded.keys()
    else:
        forwarded = json.loads(await peer.ld_signed(create))
        assert "signature" in forwarded
        assert "proof" not in forwarded

    async with httpx.AsyncClient() as http:
        inbox = node.fed.uri("shared_inbox")
        headers = {"Content-Type": "application/activity+json"}
        tampered = json.loads(json.dumps(forwarded))
        tampered["object"]["content"] = "<p>changed on the way</p>"
        refused = await http.post(inbox, content=json.dumps(tampered), headers=headers)
        assert refused.status_code == 401
        answer = await http.post(inbox, content=json.dumps(forwarded), headers=headers)
        assert answer.status_code == 202, answer.text
    await node.wait_for(lambda: note["id"] in node.state.remote_notes)
    assert node.state.remote_notes[note["id"]]["content"] == "<p>forwarded</p>"
    assert [a.id for a in node.state.handled] == [forwarded["id"]]
    assert [(s, status) for _p, s, status in inbox_log.seen] == [("none", 401), ("none", 202)]


@pytest.mark.parametrize("form", ["proof", "ld"])
async def test_fedify_verifies_our_signatures_in_the_body(start_node, start_fedify, form):
    """Our activity forwarded to Fedify without an HTTP signature: our proof or LD signature."""
    node, _log = await our_node(start_node)
    peer = await start_fedify()
    alice = node.actor("alice")
    note = Note(id=node.note_uri("1"), attributedTo=alice, content="<p>ours</p>", to=[PUBLIC])
    node.state.notes["1"] = note.to_json(context=False)
    create = Create(id=f"{note.id}/activity", actor=alice, object=note.to_json(context=False))
    document = create.to_json(context=True)
    pairs = await node.fed.key_pairs_of("alice")
    if form == "proof":
        # Fedify reads the proof through JSON-LD: create_proof adds the data-integrity
        # context that defines it.
        ed25519 = next(p for p in pairs if not p.is_rsa)
        signed = create_proof(document, ed25519.private_key, ed25519.key_id)  # type: ignore[arg-type]
    else:
        rsa = next(p for p in pairs if p.is_rsa)
        signed = sign_ld_signature(document, rsa.private_key, rsa.key_id)  # type: ignore[arg-type]

    headers = {"Content-Type": "application/activity+json"}
    tampered = json.loads(json.dumps(signed))
    tampered["object"]["content"] = "<p>changed on the way</p>"
    refused = await peer.http.post("/inbox", content=json.dumps(tampered), headers=headers)
    assert refused.status_code == 401
    accepted = await peer.http.post("/inbox", content=json.dumps(signed), headers=headers)
    assert accepted.status_code == 202, accepted.text
    received = await peer.received("Create", id=create.id)
    assert received["object"]["content"] == "<p>ours</p>"
    assert len((await peer.state())["received"]) == 1

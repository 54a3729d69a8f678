"""Two Federation apps on loopback follow each other and exchange every kind of activity.

Real HTTP (uvicorn), real signatures, real queue workers; every side effect is checked on
the receiving node's state.
"""

from __future__ import annotations

import json

import pytest

from activitypub_kit.delivery._planning import Recipient
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
from activitypub_kit.server import PageItems
from activitypub_kit.testing import wait_until

pytestmark = pytest.mark.anyio
AP = {"Accept": "application/activity+json"}


async def follow(src, handle, dst, target_handle):
    target = dst.actor(target_handle)
    activity = Follow(
        id=src.ctx.new_id(src.actor(handle), "follows"), actor=src.actor(handle), object=target
    )
    src.state.outgoing_follows[activity.id] = (handle, target)
    await src.ctx.send(activity, to=[target])
    return activity


async def publish(node, handle, note_id, content):
    note = Note(
        id=node.note_uri(note_id),
        attributedTo=node.actor(handle),
        content=content,
        to=["https://www.w3.org/ns/activitystreams#Public"],
        cc=[node.ctx.followers_uri(handle)],
    )
    node.state.notes[note_id] = note.to_json(context=False)
    create = Create(
        id=f"{note.id}/activity", actor=node.actor(handle), object=note.to_json(context=False)
    )
    await node.ctx.send(create, to=[node.ctx.followers_of(handle)])
    return note


async def test_follow_each_other_and_exchange_everything(start_node):
    a = await start_node("a.test", users={"alice": "Alice"})
    b = await start_node("b.test", users={"bob": "Bob", "carol": "locked Carol"})

    # Follow -> Accept, both ways.
    await follow(a, "alice", b, "bob")
    await b.wait_for(lambda: a.actor("alice") in b.state.followers.get("bob", []))
    await a.wait_for(lambda: a.state.following.get("alice", {}).get(b.actor("bob")) == "accepted")
    await follow(b, "bob", a, "alice")
    await a.wait_for(lambda: b.actor("bob") in a.state.followers.get("alice", []))
    await b.wait_for(lambda: b.state.following.get("bob", {}).get(a.actor("alice")) == "accepted")

    # Follow of a locked account -> Reject; no follower recorded.
    await follow(a, "alice", b, "carol")
    await a.wait_for(lambda: a.state.following["alice"].get(b.actor("carol")) == "rejected")
    assert a.actor("alice") not in b.state.followers.get("carol", [])

    # Create reaches the follower (fan-out through the followers collection).
    note = await publish(a, "alice", "1", "hello bob")
    await b.wait_for(lambda: note.id in b.state.remote_notes)
    assert b.state.remote_notes[note.id]["content"] == "hello bob"

    # Update changes the stored copy.
    updated = Note(
        id=note.id,
        attributedTo=a.actor("alice"),
        content="hello again",
        updated="2026-01-01T00:00:00Z",
    )
    a.state.notes["1"] = updated.to_json(context=False)
    await a.ctx.send(
        Update(
            id=f"{note.id}#update-1", actor=a.actor("alice"), object=updated.to_json(context=False)
        ),
        to=[a.ctx.followers_of("alice")],
    )
    await b.wait_for(lambda: b.state.remote_notes[note.id]["content"] == "hello again")

    # Like and Announce by bob reach alice's node; Undo removes them.
    like = Like(id=b.ctx.new_id(b.actor("bob"), "likes"), actor=b.actor("bob"), object=note.id)
    announce = Announce(
        id=b.ctx.new_id(b.actor("bob"), "announces"), actor=b.actor("bob"), object=note.id
    )
    await b.ctx.send(like, to=[a.actor("alice")])
    await b.ctx.send(announce, to=[a.actor("alice")])
    await a.wait_for(lambda: b.actor("bob") in a.state.likes.get(note.id, set()))
    await a.wait_for(lambda: b.actor("bob") in a.state.shares.get(note.id, set()))
    await b.ctx.send(
        Undo(id=f"{like.id}/undo", actor=b.actor("bob"), object=like.to_json(context=False)),
        to=[a.actor("alice")],
    )
    await b.ctx.send(
        Undo(
            id=f"{announce.id}/undo", actor=b.actor("bob"), object=announce.to_json(context=False)
        ),
        to=[a.actor("alice")],
    )
    await a.wait_for(lambda: b.actor("bob") not in a.state.likes[note.id])
    await a.wait_for(lambda: b.actor("bob") not in a.state.shares[note.id])

    # Delete: alice's node serves a Tombstone, bob's node forgets the note.
    a.state.notes["1"] = {"type": "Tombstone"}
    await a.ctx.send(
        Delete(id=f"{note.id}#delete", actor=a.actor("alice"), object=note.id),
        to=[a.ctx.followers_of("alice")],
    )
    await b.wait_for(lambda: note.id not in b.state.remote_notes)

    # Undo(Follow): bob stops following alice.
    follow_back = next(
        f for f in a.state.handled if isinstance(f, Follow) and f.actor == b.actor("bob")
    )
    await b.ctx.send(
        Undo(
            id=f"{follow_back.id}/undo",
            actor=b.actor("bob"),
            object=follow_back.to_json(context=False),
        ),
        to=[a.actor("alice")],
    )
    await a.wait_for(lambda: b.actor("bob") not in a.state.followers["alice"])

    # Every activity was handled exactly once on each side.
    for node in (a, b):
        ids = [h.id for h in node.state.handled]
        assert len(ids) == len(set(ids))
    kinds_a = sorted(type(h).__name__ for h in a.state.handled)
    kinds_b = sorted(type(h).__name__ for h in b.state.handled)
    assert kinds_a == ["Accept", "Announce", "Follow", "Like", "Reject", "Undo", "Undo", "Undo"]
    assert kinds_b == ["Accept", "Create", "Delete", "Follow", "Follow", "Update"]


async def test_served_documents(start_node, client):
    a = await start_node("a.test", users={"alice": "Alice"}, worker=False)
    a.state.notes["7"] = {"id": a.note_uri("7"), "type": "Note", "content": "x"}
    a.state.notes["8"] = {"type": "Tombstone"}
    a.state.followers["alice"] = [f"https://f{i}.example/u" for i in range(5)]
    ap = {"Accept": "application/activity+json"}

    actor = (await client.get(a.actor("alice"), headers=ap)).json()
    assert actor["inbox"] == a.fed.uri("inbox", handle="alice")
    assert actor["endpoints"]["sharedInbox"] == a.origin + "/inbox"
    assert actor["followers"] == a.origin + "/users/alice/followers"
    assert actor["publicKey"]["id"] == a.actor("alice") + "#main-key"
    assert actor["publicKey"]["owner"] == a.actor("alice")
    assert {m["id"] for m in actor["assertionMethod"]} == {
        a.actor("alice") + "#main-key",
        a.actor("alice") + "#ed25519-key",
    }
    assert "https://w3id.org/security/v1" in actor["@context"]

    assert (await client.get(a.actor("nobody"), headers=ap)).status_code == 404
    a.state.gone.add("alice")
    gone = await client.get(a.actor("alice"), headers=ap)
    assert gone.status_code == 410
    assert gone.json()["type"] == "Tombstone"
    a.state.gone.clear()

    assert (await client.get(a.note_uri("7"), headers=ap)).json()["content"] == "x"
    assert (await client.get(a.note_uri("8"), headers=ap)).status_code == 410
    assert (await client.get(a.note_uri("9"), headers=ap)).status_code == 404

    # Followers: first page embedded, next pages by cursor, totalItems from the dispatcher.
    collection = (await client.get(a.ctx.followers_uri("alice"), headers=ap)).json()
    assert collection["totalItems"] == 5
    seen = list(collection["first"]["orderedItems"])
    url = collection["first"].get("next")
    while url:
        page = (await client.get(url, headers=ap)).json()
        assert page["type"] == "OrderedCollectionPage"
        assert page["partOf"] == collection["id"]
        seen += page["orderedItems"]
        url = page.get("next")
    assert seen == a.state.followers["alice"]

    # Without an ActivityPub Accept and without a host app: 406.
    html = await client.get(a.actor("alice"), headers={"Accept": "text/html"})
    assert html.status_code == 406

    # WebFinger and NodeInfo come from the actor dispatcher.
    host = a.origin.split("//")[1]
    jrd = (await client.get(f"{a.origin}/.well-known/webfinger?resource=acct:alice@{host}")).json()
    assert {"rel": "self", "type": "application/activity+json", "href": a.actor("alice")} in [
        {k: link.get(k) for k in ("rel", "type", "href")} for link in jrd["links"]
    ]
    missing = await client.get(f"{a.origin}/.well-known/webfinger?resource=acct:zed@{host}")
    assert missing.status_code == 404
    links = (await client.get(f"{a.origin}/.well-known/nodeinfo")).json()["links"]
    info = (await client.get(links[0]["href"])).json()
    assert info["protocols"] == ["activitypub"]

    # The instance actor is an Application with keys.
    instance = (await client.get(a.origin + "/actor", headers=ap)).json()
    assert instance["type"] == "Application"
    assert instance["publicKey"]["owner"] == instance["id"]


async def test_fan_out_uses_the_one_shot_listing_and_counts(start_node, client):
    a = await start_node("a.test", users={"alice": "Alice"})
    b = await start_node("b.test", users={"bob": "Bob"})
    route = a.fed.collections["followers"]
    listed = []

    @route.recipients
    async def everyone(ctx, handle):
        listed.append(handle)
        yield Recipient(id=b.actor("bob"), inbox=b.fed.uri("inbox", handle="bob"))

    @route.counter
    async def count(ctx, handle):
        return 42

    # The page dispatcher knows no follower: only the listing can reach bob.
    assert a.state.followers.get("alice") is None
    note = await publish(a, "alice", "2", "to the listed")
    await b.wait_for(lambda: note.id in b.state.remote_notes)
    assert listed == ["alice"]
    followers = (await client.get(a.ctx.followers_uri("alice"), headers=AP)).json()
    assert followers["totalItems"] == 42


async def test_custom_unordered_collection(start_node, client):
    a = await start_node("a.test", users={"alice": "Alice"}, worker=False)

    @a.fed.collection("tagged", "/tags/{tag}", ordered=False)
    async def tagged(ctx, cursor, tag):
        return PageItems([a.note_uri("1"), a.note_uri("2")]) if tag == "python" else None

    uri = a.ctx.collection_uri("tagged", tag="python")
    assert uri == a.origin + "/tags/python"
    document = (await client.get(uri, headers=AP)).json()
    assert document["type"] == "Collection"
    assert document["items"] == [a.note_uri("1"), a.note_uri("2")]
    assert document["totalItems"] == 2
    assert (await client.get(a.origin + "/tags/rust", headers=AP)).status_code == 404
    actor = (await client.get(a.actor("alice"), headers=AP)).json()
    assert "tagged" not in actor  # only the standard collections are linked from actors
    assert actor["outbox"] == a.ctx.outbox_uri("alice")


async def test_send_adds_a_context_and_an_id(start_node):
    a = await start_node("a.test", users={"alice": "Alice"}, worker=False)
    target = Recipient(id="https://b.example/u/bob", inbox="https://b.example/inbox")
    sent = await a.ctx.send(
        {"type": "Like", "actor": a.actor("alice"), "object": "https://b.example/n/1"}, to=target
    )
    assert sent.startswith(a.actor("alice") + "#activities/")
    body = json.loads(await a.fed.store.get(("delivery", "body", sent)))
    assert body["@context"] == "https://www.w3.org/ns/activitystreams"
    assert body["id"] == sent
    assert (await a.fed.queue.stats()).depth == 1


async def test_local_followers_get_the_activity_in_process(start_node):
    a = await start_node("a.test", users={"alice": "Alice", "dave": "Dave"})
    b = await start_node("b.test", users={"bob": "Bob"})
    a.state.followers["alice"] = [b.actor("bob"), a.actor("dave")]
    note = await publish(a, "alice", "local-1", "<p>for a local and a remote follower</p>")
    create_id = f"{note.id}/activity"
    handled_here = lambda: any(x.id == create_id for x in a.state.handled)  # noqa: E731
    await a.wait_for(handled_here)  # dave's copy: through a's own inbox handlers
    await b.wait_for(lambda: note.id in b.state.remote_notes)  # bob's copy: over HTTP

    async def answered() -> bool:  # b may handle the POST before a has read b's answer
        return a.fed.outbox.stats.sent >= 1

    await wait_until(answered, message="a recording its POST to b")
    assert a.fed.outbox.stats.sent == 1  # one POST (to b); none to ourselves
    assert a.fed.outbox.stats.requests == 1
    assert [x.id for x in a.state.handled].count(create_id) == 1

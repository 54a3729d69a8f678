"""Inbox forwarding with the original bytes, between real nodes on loopback.

Node A (the reply's author) sends an LD-signed reply to a post of bob on node B; B's
handler forwards it to bob's followers; node C (a follower's server) receives the copy
HTTP-signed by B, authenticates it by A's LD signature, and its handler sees A's actor and
A's bytes.  POSTs are counted at the receivers (an ASGI wrapper), so "delivered once" and
"never sent to the origin host" are observed, not inferred.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hostile import post_signed
from social import Node

from activitypub_kit.delivery._messages import body_key
from activitypub_kit.errors import ForwardingError
from activitypub_kit.models import Create, Follow, Note
from activitypub_kit.server import Context, Forwarded, should_forward
from activitypub_kit.signatures import sign_ld_signature
from activitypub_kit.testing import wait_until

pytestmark = pytest.mark.anyio
AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = f"{AS}#Public"


def counting(posts: list[bytes]) -> Any:
    """An ``app=`` for ``start_node``: the node's ASGI app, recording every POST body."""

    def make(node: Node) -> Any:
        inner = node.fed.asgi(run_worker=False)

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http" or scope["method"] != "POST":
                await inner(scope, receive, send)
                return
            chunks: list[bytes] = []

            async def recording() -> dict[str, Any]:
                message: dict[str, Any] = await receive()
                if message["type"] == "http.request":
                    chunks.append(message.get("body", b""))
                    if not message.get("more_body"):
                        posts.append(b"".join(chunks))
                return message

            await inner(scope, recording, send)

        return app

    return make


async def follow(src: Node, handle: str, dst: Node, target_handle: str) -> None:
    target = dst.actor(target_handle)
    activity = Follow(
        id=src.ctx.new_id(src.actor(handle), "follows"), actor=src.actor(handle), object=target
    )
    src.state.outgoing_follows[activity.id] = (handle, target)
    await src.ctx.send(activity, to=[target])
    await dst.wait_for(lambda: src.actor(handle) in dst.state.followers.get(target_handle, []))


def post(node: Node, handle: str, note_id: str) -> str:
    note = Note(
        id=node.note_uri(note_id),
        attributedTo=node.actor(handle),
        content=f"a post by {handle}",
        to=[PUBLIC],
        cc=[node.ctx.followers_uri(handle)],
    )
    node.state.notes[note_id] = note.to_json(context=False)
    return str(note.id)


async def signed_reply(
    a: Node, handle: str, reply_id: str, in_reply_to: str, *, to: list[str] | None = None
) -> dict[str, Any]:
    """A ``Create`` of a reply by ``handle`` on A, LD-signed (RsaSignature2017) by its key."""
    actor = a.actor(handle)
    note = {
        "id": a.note_uri(reply_id),
        "type": "Note",
        "attributedTo": actor,
        "content": f"reply {reply_id}",
        "inReplyTo": in_reply_to,
        "to": to if to is not None else [PUBLIC],
        "cc": [a.ctx.followers_uri(handle)],
    }
    create = {
        "@context": [AS],
        "id": f"{note['id']}/activity",
        "type": "Create",
        "actor": actor,
        "object": note,
        "to": note["to"],
        "cc": note["cc"],
    }
    pair = next(p for p in await a.fed.key_pairs_of(handle) if p.is_rsa)
    return sign_ld_signature(create, pair.private_key, pair.key_id)  # type: ignore[arg-type]


async def drained(*nodes: Node) -> None:
    async def empty() -> bool:
        for node in nodes:
            if (await node.fed.queue.stats()).depth:
                return False
        return True

    await wait_until(empty, within=20.0, message="queues drained")


async def test_a_reply_is_forwarded_byte_for_byte_and_authenticated_by_its_ld_signature(
    start_node,
):
    a_posts: list[bytes] = []
    c_posts: list[bytes] = []
    d_posts: list[bytes] = []
    a = await start_node("a.test", users={"alice": "Alice", "anna": "Anna"}, app=counting(a_posts))
    b = await start_node("b.test", users={"bob": "Bob", "dave": "Dave"})
    c = await start_node("c.test", users={"carol": "Carol"}, app=counting(c_posts))
    # A fourth server (the test resolver knows a.test, b.test, c.test and social.a.test).
    d = await start_node("social.a.test", users={"dan": "Dan"}, app=counting(d_posts))
    await follow(c, "carol", b, "bob")
    await follow(a, "anna", b, "bob")  # a follower on the reply's origin host
    await follow(c, "carol", b, "dave")
    await follow(d, "dan", b, "dave")

    results: list[Forwarded] = []
    decisions: list[str | None] = []

    @b.fed.inbox.on(Create, replace=True)
    async def forward_replies(ctx: Context, create: Create) -> None:
        handle = await should_forward(ctx, create)
        decisions.append(handle)
        if handle is not None:
            results.append(await ctx.forward(create, to=ctx.followers_of(handle), sender=handle))
            # A retried handler, or the same audience twice: nothing is delivered again.
            results.append(await ctx.forward(create, to=ctx.followers_of(handle), sender=handle))
            # Another local author's followers (carol follows both): only the new inbox.
            results.append(await ctx.forward(create, to=ctx.followers_of("dave"), sender="dave"))
        b.changed()

    received: dict[Node, list[tuple[Create, Context]]] = {c: [], d: []}
    for node in (c, d):

        def record(node: Node = node) -> Any:
            async def on_create(ctx: Context, create: Create) -> None:
                received[node].append((create, ctx))
                node.changed()

            return on_create

        node.fed.inbox.on(Create, replace=True)(record())

    bob_post = post(b, "bob", "1")
    reply = await signed_reply(a, "alice", "r1", bob_post)
    await a.ctx.send(reply, to=[b.actor("bob")])
    sent = await a.fed.store.get(body_key(reply["id"]))
    assert isinstance(sent, str)
    sent_bytes = sent.encode()

    await c.wait_for(lambda: bool(received[c]))
    await d.wait_for(lambda: bool(received[d]))
    await drained(a, b, c, d)

    assert decisions == ["bob"]
    first, again, other = results
    shared = {n: n.fed.uri("shared_inbox") for n in (a, c, d)}
    assert first.inboxes == (shared[c],)
    assert first.origin == (shared[a],)  # anna's server is the reply's origin
    assert first.delivery is not None
    assert first.activity == reply["id"]
    assert again.delivery is None
    assert again.inboxes == ()
    assert again.already == (shared[c],)
    assert other.inboxes == (shared[d],)
    assert other.already == (shared[c],)

    for node in (c, d):
        ((create, ctx),) = received[node]
        assert create.id == reply["id"]
        assert str(create.actor) == a.actor("alice")  # the author, not the forwarder
        assert ctx.method == "ld-signature"  # B's HTTP signature is not the actor's
        assert ctx.raw_activity == sent_bytes  # exactly what A sent
    # Delivered once to C (two forwards reached C's server), never back to A.
    assert [p for p in c_posts if reply["id"].encode() in p] == [sent_bytes]
    assert [p for p in d_posts if reply["id"].encode() in p] == [sent_bytes]
    assert not [p for p in a_posts if reply["id"].encode() in p]


async def test_a_tampered_forward_is_refused_and_the_intact_one_accepted(start_node, client):
    a = await start_node("a.test", users={"alice": "Alice"})
    b = await start_node("b.test", users={"bob": "Bob"})
    c = await start_node("c.test", users={"carol": "Carol"})
    seen: list[Context] = []

    @c.fed.inbox.on(Create, replace=True)
    async def on_create(ctx: Context, create: Create) -> None:
        seen.append(ctx)
        c.changed()

    reply = await signed_reply(a, "alice", "r2", b.note_uri("1"))
    original = json.dumps(reply).encode()
    tampered = json.dumps({
        **reply, "object": {**reply["object"], "content": "something alice never said"}
    }).encode()  # fmt: skip
    bob_key = next(p for p in await b.fed.key_pairs_of("bob") if p.is_rsa)
    inbox = c.fed.uri("shared_inbox")

    status, answer = await post_signed(client, inbox, tampered, bob_key.private_key, bob_key.key_id)
    assert status == 401, answer
    status, answer = await post_signed(client, inbox, original, bob_key.private_key, bob_key.key_id)
    assert status == 202, answer
    assert answer["status"] == "accepted"
    await c.wait_for(lambda: bool(seen))
    assert seen[0].method == "ld-signature"
    assert seen[0].raw_activity == original


async def test_forward_needs_the_received_bytes_of_that_activity(start_node):
    a = await start_node("a.test", users={"alice": "Alice"}, worker=False)
    b = await start_node("b.test", users={"bob": "Bob"}, worker=False)
    bob_post = post(b, "bob", "1")
    reply = await signed_reply(a, "alice", "r3", bob_post)
    raw = json.dumps(reply).encode()
    create = Create.model_validate(reply)

    # Not an inbox handler: no bytes to forward.
    with pytest.raises(ForwardingError, match="holds no received bytes"):
        await b.ctx.forward(create, to=b.ctx.followers_of("bob"), sender="bob")
    # An inbox handler of an activity without LD signature or proof keeps no bytes either.
    plain = b.fed.context(method="http-signature")
    with pytest.raises(ForwardingError, match="inbox handler holds no received bytes"):
        await plain.forward(create, to=b.ctx.followers_of("bob"), sender="bob")
    # Only the activity that was received can be forwarded.
    ctx = b.fed.context(method="http-signature", raw_activity=raw)
    with pytest.raises(ForwardingError, match="is not the activity this handler received"):
        await ctx.forward(f"{reply['id']}-other", to=b.ctx.followers_of("bob"), sender="bob")

    # should_forward: a public reply to a local post, with an LD signature: its author.
    assert await should_forward(ctx, create) == "bob"
    assert await should_forward(plain, create) is None  # no bytes
    assert await should_forward(b.ctx, create) is None  # not an inbox handler
    unsigned = {k: v for k, v in reply.items() if k != "signature"}
    bare = b.fed.context(method="http-signature", raw_activity=json.dumps(unsigned).encode())
    assert await should_forward(bare, Create.model_validate(unsigned)) is None
    private = await signed_reply(a, "alice", "r4", bob_post, to=[b.actor("bob")])
    hidden = b.fed.context(method="http-signature", raw_activity=json.dumps(private).encode())
    assert await should_forward(hidden, Create.model_validate(private)) is None
    elsewhere = await signed_reply(a, "alice", "r5", a.note_uri("x"))
    remote = b.fed.context(method="http-signature", raw_activity=json.dumps(elsewhere).encode())
    assert await should_forward(remote, Create.model_validate(elsewhere)) is None
    missing = await signed_reply(a, "alice", "r6", b.note_uri("404"))
    gone = b.fed.context(method="http-signature", raw_activity=json.dumps(missing).encode())
    assert await should_forward(gone, Create.model_validate(missing)) is None

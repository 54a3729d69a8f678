"""Interop with a real Fedify 2.3.6 server (Node.js 22) on loopback.

Our side is a :class:`~activitypub_kit.server.Federation` app served by uvicorn
(``tests/server/social.py``); the other side is ``fedify_peer.mjs``.  Each side verifies
the other's HTTP signatures for real: an inbox answers 2xx and reaches its listeners only
for a verified request, and both sides log which scheme each inbox POST carried.
"""

from __future__ import annotations

from typing import Any

import pytest
from fedify import FedifyPeer, InboxRequests

from activitypub_kit.models import Create, Note

pytestmark = pytest.mark.anyio

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = f"{AS}#Public"


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

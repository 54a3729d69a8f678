"""Account moves both ways between real nodes: ``send_move`` and ``verify_move``.

``a`` holds the moving account (alice), ``c`` the new one (alice2, which may or may not
list alice in ``alsoKnownAs``), ``b`` a follower (bob) whose ``Move`` handler verifies.
"""

from __future__ import annotations

import pytest

from activitypub_kit.errors import InvalidMoveError, MoveError, UnconfirmedMoveError
from activitypub_kit.models import Move, Person
from activitypub_kit.server import Context, send_move, verify_move

pytestmark = pytest.mark.anyio


def aliases(node, also: dict[str, list[str]]) -> None:
    """Serve the node's users with ``alsoKnownAs`` taken from ``also`` (handle -> ids)."""

    @node.fed.actor("/users/{handle}", replace=True)
    async def actor(ctx: Context, handle: str) -> Person | None:
        if handle not in node.state.users:
            return None
        return Person(id=ctx.actor_uri(handle), alsoKnownAs=also.get(handle) or None)


def verifying(node) -> list[object]:
    """A ``Move`` handler on ``node`` recording the verified target (or the error)."""
    outcomes: list[object] = []

    @node.fed.inbox.on(Move)
    async def on_move(ctx: Context, move: Move) -> None:
        try:
            outcomes.append(await verify_move(ctx, move))
        except MoveError as error:
            outcomes.append(error)
        node.changed()

    return outcomes


async def three(start_node):
    a = await start_node("a.test", users={"alice": "Alice"})
    b = await start_node("b.test", users={"bob": "Bob"})
    c = await start_node("c.test", users={"alice2": "Alice"})
    a.state.followers["alice"] = [b.actor("bob")]
    return a, b, c


async def test_a_valid_move_is_sent_and_verified(start_node):
    a, b, c = await three(start_node)
    also: dict[str, list[str]] = {}
    aliases(c, also)
    outcomes = verifying(b)
    with pytest.raises(UnconfirmedMoveError, match="alsoKnownAs"):
        await send_move(a.ctx, "alice", c.actor("alice2"))  # no alias yet: nothing sent
    also["alice2"] = [a.actor("alice")]
    move_id = await send_move(a.ctx, "alice", c.actor("alice2"))
    await b.wait_for(lambda: len(outcomes) == 1)
    [target] = outcomes
    assert isinstance(target, Person)
    assert target.id == c.actor("alice2")
    assert not any(isinstance(x, Move) for x in b.state.handled)  # our handler took it
    assert a.fed.outbox.stats.fanouts == 1  # the refused move was never queued
    assert move_id.startswith(a.actor("alice") + "#moves/")


async def test_a_move_whose_target_does_not_list_the_actor_is_refused(start_node):
    a, b, c = await three(start_node)
    aliases(c, {})  # alice2 names nobody
    outcomes = verifying(b)
    forged = Move(actor=a.actor("alice"), object=a.actor("alice"), target=c.actor("alice2"))
    await a.ctx.send(forged, to=[a.ctx.followers_of("alice")])  # bypasses send_move's check
    await b.wait_for(lambda: len(outcomes) == 1)
    [error] = outcomes
    assert isinstance(error, UnconfirmedMoveError)
    assert a.actor("alice") in str(error)


async def test_moves_that_are_not_account_moves_are_refused_before_any_fetch(start_node):
    a = await start_node("a.test", users={"alice": "Alice", "bob": "Bob"}, worker=False)
    ctx = a.ctx
    alice, bob = a.actor("alice"), a.actor("bob")
    other = "https://c.test/users/x"
    with pytest.raises(InvalidMoveError, match="may move only itself"):
        await verify_move(ctx, Move(actor=alice, object=bob, target=other))
    with pytest.raises(InvalidMoveError, match="names no target"):
        await verify_move(ctx, {"type": "Move", "actor": alice, "object": alice})
    with pytest.raises(InvalidMoveError, match="itself"):
        await verify_move(ctx, Move(actor=alice, object=alice, target=alice))
    with pytest.raises(InvalidMoveError, match="not a Move"):
        await verify_move(ctx, {"type": "Follow", "actor": alice, "object": alice})
    # a local target is read from our own dispatcher: bob does not list alice
    with pytest.raises(UnconfirmedMoveError):
        await verify_move(ctx, Move(actor=alice, object=alice, target=bob))

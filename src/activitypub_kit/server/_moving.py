"""Account moves: sending a ``Move`` and deciding whether to trust one received.

An account moves from an *origin* actor to a *target* actor.  The target vouches for the
move by listing the origin among its ``alsoKnownAs`` aliases; the origin announces it with
``Move{actor: origin, object: origin, target: target}`` to its followers, who then follow
the target instead.  What Mastodon does, which these helpers follow:

* Outgoing, the target is looked up anew and must list the origin's id in ``alsoKnownAs``
  before anything is sent (a move to oneself is refused).  The origin also sets ``movedTo``
  on its own actor and sends a profile ``Update`` (``ctx.send_profile_update``), so
  servers that only see the profile learn where the account went; the ``Move`` itself goes
  to the followers.  A cooldown between moves is the application's rule (Mastodon: 30 days).
* Incoming, a ``Move`` is an account move only when its ``object`` is its ``actor`` (the
  actor is the one the inbox authenticated).  The target is fetched fresh, from its own
  origin, and must list the moving actor in ``alsoKnownAs``.  ``movedTo`` on the origin
  actor is not required: the receiver records the redirect itself.  Mastodon also ignores
  a second ``Move`` of the same account for a week; that (and re-pointing the follows) is
  the handler's business.

>>> @fed.inbox.on(Move)
... async def on_move(ctx, move):
...     target = await verify_move(ctx, move)   # raises a MoveError or a FetchError
...     ...  # re-point local follows of move.actor to target.id
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from activitypub_kit.errors import InvalidMoveError, RouteError, UnconfirmedMoveError
from activitypub_kit.models import Actor, Move, parse
from activitypub_kit.models._helpers import id_of, ids_of

if TYPE_CHECKING:
    from activitypub_kit.server._context import Audience, Context


async def confirmed_target(ctx: Context[Any], origin: str, target: str) -> Actor:
    """The actor ``target``, fetched fresh from its origin, once it lists ``origin``.

    Raises :class:`~activitypub_kit.errors.InvalidMoveError` when ``target`` is
    ``origin``, :class:`~activitypub_kit.errors.UnconfirmedMoveError` when the target's
    ``alsoKnownAs`` does not hold ``origin``, and the fetch's own error
    (:class:`~activitypub_kit.errors.FetchError` and subclasses, ``WrongTypeError`` for
    something not an actor) when it cannot be read.
    """
    if target == origin:
        raise InvalidMoveError(f"{origin} cannot move to itself")
    actor = await ctx.lookup_actor(target, refresh=True)
    if actor.id == origin:
        raise InvalidMoveError(f"{origin} cannot move to itself (the target {target} is it)")
    if origin not in ids_of(actor.also_known_as):
        raise UnconfirmedMoveError(
            f"the move target {actor.id or target} does not list {origin} in alsoKnownAs"
        )
    return actor


async def send_move(
    ctx: Context[Any], handle: str, target: str, *, also: Sequence[Audience] = ()
) -> str:
    """Move the local actor ``handle`` to ``target``: check the alias, send, return the id.

    The target is fetched fresh and must list our actor in ``alsoKnownAs``
    (:func:`confirmed_target`; nothing is sent otherwise).  The ``Move`` goes to the
    actor's followers and to ``also`` (more audiences, e.g. ``ctx.known_inboxes()``),
    signed by the actor's key.  Set ``movedTo`` in the actor dispatcher and call
    ``ctx.send_profile_update(handle)`` as well, as Mastodon does.
    """
    origin = ctx.actor_uri(handle)
    if ctx.parse_actor_uri(origin) != handle:
        raise RouteError(f"{handle!r} is not a handle of a local actor")
    confirmed = await confirmed_target(ctx, origin, target)
    move = Move(
        id=ctx.new_id(origin, "moves"),
        actor=origin,
        object=origin,
        target=confirmed.id or target,
    )
    return await ctx.send(move, to=[ctx.followers_of(handle), *also])


async def verify_move(ctx: Context[Any], move: Move | Mapping[str, Any]) -> Actor:
    """Check a received ``Move`` and return the target actor the account moved to.

    ``object`` must be the ``actor`` (the account moves itself) and ``target`` another
    actor, else :class:`~activitypub_kit.errors.InvalidMoveError`; the target is fetched
    fresh from its own origin and must list the actor in ``alsoKnownAs``, else
    :class:`~activitypub_kit.errors.UnconfirmedMoveError` (a fetch failure raises its
    :class:`~activitypub_kit.errors.FetchError`).  Call it from the ``Move`` inbox handler,
    where ``actor`` is the authenticated sender, before re-pointing any follow.
    """
    model = move if isinstance(move, Move) else parse(dict(move))
    if not isinstance(model, Move):
        raise InvalidMoveError(f"{id_of(model) or 'the activity'} is not a Move")
    actor = id_of(model.actor)
    moved = id_of(model.object)
    target = id_of(model.target)
    if not actor:
        raise InvalidMoveError(f"Move {model.id} names no actor")
    if moved != actor:
        raise InvalidMoveError(
            f"Move {model.id}: {actor} may move only itself, not {moved or 'nothing'}"
        )
    if not target:
        raise InvalidMoveError(f"Move {model.id} names no target")
    return await confirmed_target(ctx, actor, target)


__all__ = ["confirmed_target", "send_move", "verify_move"]

"""Audience references and actor-wide broadcasts on a :class:`~activitypub_kit.server.Context`.

:class:`Broadcasts` holds ``ctx.followers_of`` and ``ctx.known_inboxes`` (audiences the
delivery worker expands at fan-out) and the activities every server holding a copy of a
local actor should hear: ``ctx.send_profile_update``, ``ctx.send_actor_delete``.
``Context`` inherits it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic

from activitypub_kit.errors import RouteError
from activitypub_kit.server._data import D
from activitypub_kit.storage._base import JSONValue

if TYPE_CHECKING:
    from activitypub_kit.models import Actor, ASModel
    from activitypub_kit.server._context import Audience
    from activitypub_kit.server._federation import Federation

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


class Broadcasts(Generic[D]):
    """The audience half of :class:`~activitypub_kit.server.Context` (its base class).

    Every public method here is a public ``Context`` method; see each for its contract.
    """

    federation: Federation[D]

    if TYPE_CHECKING:

        def actor_uri(self, handle: str) -> str: ...

        def new_id(self, actor_uri: str, kind: str = "activities") -> str: ...

        async def lookup_actor(self, uri: str, *, refresh: bool = False) -> Actor: ...

        async def send(
            self,
            activity: ASModel | Mapping[str, Any],
            *,
            to: Audience | Sequence[Audience],
            sender: str | None = None,
        ) -> str: ...

    # -- audiences -------------------------------------------------------------------

    def followers_of(self, handle: str) -> dict[str, JSONValue]:
        """The audience "every follower of ``handle``", expanded by the worker at fan-out."""
        return {"followers": handle}

    # -- actor-wide broadcasts ---------------------------------------------------------

    def known_inboxes(self) -> dict[str, JSONValue]:
        """The audience "every server we know, once", expanded by the worker at fan-out.

        One inbox per host from ``fed.known_inboxes`` (every server we delivered to or got
        a verified request from), hosts blocked by policy left out; a host that another
        recipient of the activity already reaches is not sent it twice.  For what every
        server holding a copy of an actor should hear: its ``Delete``, a profile ``Update``
        (see :meth:`send_actor_delete`, :meth:`send_profile_update`).
        """
        return {"known": True}

    async def send_profile_update(self, handle: str) -> str:
        """Send an ``Update`` of the local actor ``handle``; return the activity id.

        It goes to the actor's followers and to every known server (:meth:`known_inboxes`).

        The actor document is the one fetchers are served (from the actor dispatcher, with
        inbox, endpoints and keys).  A missing or deleted actor raises
        :class:`~activitypub_kit.errors.HttpStatusError` (``404``) or
        :class:`~activitypub_kit.errors.ResourceGoneError`.
        """
        actor_uri = self._own_actor(handle)
        actor = await self.lookup_actor(actor_uri)  # our dispatcher: no HTTP
        update = {
            "id": self.new_id(actor_uri, "updates"),
            "type": "Update",
            "actor": actor_uri,
            "to": [PUBLIC],
            "object": actor.to_json(context=False),
        }
        return await self.send(update, to=[self.followers_of(handle), self.known_inboxes()])

    async def send_actor_delete(self, handle: str) -> str:
        """Send the ``Delete`` of the local actor ``handle``; return the activity id.

        It goes to the actor's followers and to every known server (:meth:`known_inboxes`).

        Call it when the account is gone (the actor dispatcher may already answer with a
        ``Tombstone``): the key-pairs dispatcher must still give the actor's key, which signs
        the deliveries.
        """
        actor_uri = self._own_actor(handle)
        delete = {
            "id": self.new_id(actor_uri, "delete"),
            "type": "Delete",
            "actor": actor_uri,
            "to": [PUBLIC],
            "object": actor_uri,
        }
        return await self.send(delete, to=[self.followers_of(handle), self.known_inboxes()])

    def _own_actor(self, handle: str) -> str:
        actor_uri = self.actor_uri(handle)
        if self.federation.handle_of(actor_uri) != handle:
            raise RouteError(f"{handle!r} is not a handle of a local actor")
        return actor_uri


__all__ = ["Broadcasts", "PUBLIC"]

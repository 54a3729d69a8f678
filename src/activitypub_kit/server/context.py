"""The context handed to every callback: URI builders, sending, and remote lookups."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from activitypub_kit.delivery.planning import Recipient
from activitypub_kit.errors import BlockedError, RouteError
from activitypub_kit.models import Accept as AcceptActivity
from activitypub_kit.models import ASModel, Follow, Reject, parse
from activitypub_kit.models.helpers import PUBLIC_IRIS, id_of
from activitypub_kit.models.jsonld import default_context
from activitypub_kit.server.routes import ParsedUri, RouteKind, UrlTemplate
from activitypub_kit.storage.base import JSONValue

if TYPE_CHECKING:
    from activitypub_kit.server.federation import Federation

Audience = Recipient | str | ASModel | Mapping[str, Any]


class Context:
    """What a dispatcher or handler can do: build our URIs, send, look things up.

    ``inbox`` (the local handle whose inbox received the activity, ``None`` for the shared
    inbox), ``signer`` (the verifying key id) and ``method`` (how it was verified) are set for
    inbox handlers.
    """

    def __init__(
        self,
        federation: Federation,
        *,
        inbox: str | None = None,
        signer: str | None = None,
        method: str | None = None,
    ) -> None:
        self.federation = federation
        self.inbox = inbox
        self.signer = signer
        self.method = method

    # -- URIs ------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        """Our canonical origin (``https://example.com``)."""
        return self.federation.origin

    def actor_uri(self, handle: str) -> str:
        """The id of the local actor ``handle``."""
        return self.federation.uri("actor", handle=handle)

    def inbox_uri(self, handle: str) -> str:
        """The personal inbox of ``handle``."""
        return self.federation.uri("inbox", handle=handle)

    def shared_inbox_uri(self) -> str:
        """The shared inbox."""
        return self.federation.uri("shared_inbox")

    def collection_uri(self, name: str, **params: str) -> str:
        """The URI of a registered collection (``outbox``, ``followers``, custom names)."""
        return self.federation.uri(f"collection:{name}", **params)

    def followers_uri(self, handle: str) -> str:
        """The followers collection of ``handle``."""
        return self.collection_uri("followers", handle=handle)

    def outbox_uri(self, handle: str) -> str:
        """The outbox collection of ``handle``."""
        return self.collection_uri("outbox", handle=handle)

    def object_uri(self, kind: type[ASModel], **params: str) -> str:
        """The URI of a local object of class ``kind`` (``ctx.object_uri(Note, id="1")``)."""
        return self.federation.uri(f"object:{kind.__name__}", **params)

    def instance_actor_uri(self) -> str:
        """The instance (application) actor, which signs fetches and is always fetchable."""
        return self.federation.uri("instance_actor")

    def new_id(self, actor_uri: str, kind: str = "activities") -> str:
        """A fresh id on an actor's URI for an activity nobody needs to fetch (Accept...)."""
        return f"{actor_uri}#{kind}/{uuid.uuid4().hex}"

    def parse_actor_uri(self, uri: str) -> str | None:
        """The handle of a local actor URI, ``None`` if ``uri`` is not one."""
        return self.federation.handle_of(uri)

    def parse_uri(self, uri: str) -> ParsedUri | None:
        """Which of our routes serves ``uri``, with its parameters; ``None`` if none does.

        ``ctx.parse_uri(ctx.object_uri(Article, slug="hello"))`` is
        ``ParsedUri(kind="object", name="Article", params={"slug": "hello"}, model=Article)``;
        the kinds are ``actor``, ``object``, ``collection`` (``name`` is the collection's),
        ``inbox``, ``shared_inbox`` and ``instance_actor``, and
        ``fed.uri(parsed.route, **parsed.params)`` builds ``uri`` back.  The URI must be on
        one of our origins; its query is ignored, but a fragment (``#main-key``) names
        something else than the document and gives ``None``.
        """
        fed = self.federation
        try:
            parts = urlsplit(uri)
        except ValueError:
            return None
        if parts.fragment or "#" in uri or not fed.is_local(uri):
            return None
        path = parts.path or "/"
        templates = fed.templates
        routes: list[tuple[RouteKind, str, UrlTemplate, type[ASModel] | None]] = [
            ("instance_actor", "", templates["instance_actor"], None)
        ]
        if fed.actor_dispatcher is not None and "actor" in templates:
            routes.append(("actor", "", templates["actor"], None))
        routes += [("collection", n, route.template, None) for n, route in fed.collections.items()]
        routes += [("object", n, templates[f"object:{n}"], m) for n, (m, _) in fed.objects.items()]
        routes.append(("inbox", "", templates["inbox"], None))
        routes.append(("shared_inbox", "", templates["shared_inbox"], None))
        for kind, name, template, model in routes:
            values = template.match(path)
            if values is not None:
                return ParsedUri(kind, name, values, model)
        return None

    def is_local(self, uri: str) -> bool:
        """Whether ``uri`` is on one of our origins."""
        return self.federation.is_local(uri)

    # -- audience --------------------------------------------------------------------

    def followers_of(self, handle: str) -> dict[str, JSONValue]:
        """The audience "every follower of ``handle``", expanded by the worker at fan-out."""
        return {"followers": handle}

    # -- remote objects --------------------------------------------------------------

    async def lookup(self, uri: str) -> ASModel:
        """The remote object ``uri``, fetched under the origin rules (cached)."""
        return parse(await self.federation.resolver.fetch(uri))

    async def lookup_actor(self, uri: str) -> ASModel:
        """The remote actor ``uri`` (must be an actor type)."""
        return parse(await self.federation.resolver.fetch_actor(uri))

    # -- sending ---------------------------------------------------------------------

    async def send(
        self,
        activity: ASModel | Mapping[str, Any],
        *,
        to: Audience | Sequence[Audience],
        sender: str | None = None,
    ) -> str:
        """Queue ``activity`` for signed delivery to ``to``; return its id.

        ``to`` holds actor ids (looked up now), actor models or documents,
        :class:`~activitypub_kit.delivery.planning.Recipient` values, inbox URLs given as
        ``Recipient(id, inbox)``, and :meth:`followers_of` audiences.  ``sender`` is the
        local handle whose key signs; by default the handle of the activity's ``actor``.
        The activity gets an id (:meth:`new_id`) when it has none.
        """
        if isinstance(activity, ASModel):
            document = activity.to_json(context=True)
        else:
            document = dict(activity)
            if "@context" not in document:
                document = {"@context": default_context(document), **document}
        actor = id_of(document.get("actor"))
        if sender is None:
            sender = self.federation.handle_of(actor) if actor else None
            if sender is None:
                raise RouteError(f"the activity's actor {actor!r} is not a local actor")
        if not document.get("id"):
            document["id"] = self.new_id(actor or self.actor_uri(sender))
        entries = [to] if isinstance(to, Recipient | str | ASModel | Mapping) else list(to)
        audience: list[Recipient | str | Mapping[str, JSONValue]] = [
            await self._recipient(entry) for entry in entries
        ]
        return await self.federation.outbox.send(
            document, key_ref=sender, to=audience, sender=actor
        )

    async def _recipient(self, entry: Audience) -> Recipient | Mapping[str, JSONValue]:
        if isinstance(entry, Recipient):
            return entry
        if isinstance(entry, ASModel):
            return Recipient.from_actor(entry.to_json(context=False))
        if isinstance(entry, Mapping):
            if "followers" in entry:
                return dict(entry)
            return Recipient.from_actor(entry)
        if entry in PUBLIC_IRIS:
            raise RouteError("the public collection is an audience, not a recipient")
        try:
            return Recipient.from_actor(await self.federation.resolver.fetch_actor(entry))
        except BlockedError:
            return Recipient(id=entry)  # no inbox: the outbox reports it as blocked

    async def accept(self, follow: Follow) -> str:
        """Send an ``Accept`` of ``follow`` (addressed to a local actor) to its follower."""
        return await self._answer(AcceptActivity, follow)

    async def reject(self, follow: Follow) -> str:
        """Send a ``Reject`` of ``follow`` to its follower."""
        return await self._answer(Reject, follow)

    async def _answer(self, kind: type[ASModel], follow: Follow) -> str:
        local = id_of(follow.object)
        follower = id_of(follow.actor)
        if not local or self.federation.handle_of(local) is None:
            raise RouteError(f"{follow.id} does not follow a local actor")
        if not follower:
            raise RouteError(f"{follow.id} names no follower")
        answer = kind(
            id=self.new_id(local, kind.__name__.lower() + "s"),
            actor=local,
            object=follow.to_json(context=False),
            to=[follower],
        )
        return await self.send(answer, to=[follower])


__all__ = ["Context", "Audience"]

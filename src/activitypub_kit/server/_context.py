"""The context handed to every callback: URI builders, sending, and remote lookups."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from activitypub_kit.delivery._planning import Recipient
from activitypub_kit.errors import RouteError
from activitypub_kit.models import Accept as AcceptActivity
from activitypub_kit.models import ASModel, Follow, Reject
from activitypub_kit.models._helpers import PUBLIC_IRIS, id_of
from activitypub_kit.models._jsonld import default_context
from activitypub_kit.server import _documents as documents
from activitypub_kit.server import _forwarding as forwarding
from activitypub_kit.server._broadcast import Broadcasts
from activitypub_kit.server._data import D
from activitypub_kit.server._lookups import MAX_ITEMS, MAX_PAGES, Lookups
from activitypub_kit.server._routes import ParsedUri, RouteKind, UrlTemplate
from activitypub_kit.storage._base import JSONValue

if TYPE_CHECKING:
    from activitypub_kit.server._federation import Federation
    from activitypub_kit.server._forwarding import Forwarded

Audience = Recipient | str | ASModel | Mapping[str, Any]

_UNREAD: Any = object()

#: How many addressed actor documents the delivery worker fetches at once (per fan-out).
MAX_CONCURRENT_LOOKUPS = 8
#: Most actor ids in one ``{"actors": [...]}`` audience entry made by :meth:`Context.send`.
ACTORS_PER_ENTRY = 64
#: The keys of audience references the delivery worker expands (``Federation.expand``).
AUDIENCE_KEYS = frozenset({"followers", "actors", "known"})


class Context(Lookups[D], Broadcasts[D]):
    """What a dispatcher or handler can do: build our URIs, send, look things up.

    ``data`` is the app's own state, typed ``D`` (``Context[AppState]``): the
    ``context_data`` the :class:`~activitypub_kit.server.Federation` was built with, or what
    its ``context_data_factory`` made for this context (called on the first read, once per
    context).

    ``signer`` is who signed the request being answered, a
    :class:`~activitypub_kit.server._documents.Signer` (a ``str``: the key id, with the key's
    owner as ``.actor``), or ``None``: in actor, object and collection dispatchers (and
    their ``authorize`` predicates) the verified signer of the ``GET``, ``None`` when it was
    unsigned; in inbox handlers the key that vouched for the activity.  ``inbox`` (the local
    handle whose inbox received the activity, ``None`` for the shared inbox) and ``method``
    (how it was verified) are set for inbox handlers.  ``raw_activity`` is the body the
    activity arrived with, byte for byte, in an inbox handler for an activity carrying an LD
    signature or a proof (``None`` anywhere else): what :meth:`forward` passes on.
    """

    def __init__(
        self,
        federation: Federation[D],
        *,
        inbox: str | None = None,
        signer: str | None = None,
        method: str | None = None,
        raw_activity: bytes | None = None,
    ) -> None:
        self.federation = federation
        #: The received body of the activity being handled (see the class docstring).
        self.raw_activity = raw_activity
        self.inbox = inbox
        #: Who signed the request being answered (a plain key id given here is wrapped).
        self.signer: documents.Signer | None = (
            signer
            if signer is None or isinstance(signer, documents.Signer)
            else documents.Signer(signer)
        )
        self.method = method
        self._data: D = _UNREAD

    @property
    def data(self) -> D:
        """The app's context data (``Federation(..., context_data=...)``), typed ``D``.

        With a ``context_data_factory`` the factory is called on the first read, and its
        result kept for this context.  A Federation built with neither raises
        :class:`~activitypub_kit.errors.NoContextDataError`.
        """
        if self._data is _UNREAD:
            self._data = self.federation.new_context_data()
        return self._data

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

    # -- sending ---------------------------------------------------------------------

    async def send(
        self,
        activity: ASModel | Mapping[str, Any],
        *,
        to: Audience | Sequence[Audience],
        sender: str | None = None,
    ) -> str:
        """Queue ``activity`` for signed delivery to ``to``; return its id.

        ``to`` holds actor ids, actor models or documents,
        :class:`~activitypub_kit.delivery._planning.Recipient` values, inbox URLs given as
        ``Recipient(id, inbox)``, and audiences (:meth:`followers_of`,
        :meth:`known_inboxes`).  ``sender`` is the local handle whose key signs; by default
        the handle of the activity's ``actor``.  The activity gets an id (:meth:`new_id`)
        when it has none.

        Nothing is fetched here: remote actor ids are resolved by the delivery worker (at
        most :data:`MAX_CONCURRENT_LOOKUPS` at a time), so ``send`` costs a store write and
        an enqueue whatever the audience.  An actor that cannot be fetched, or that the
        block policy refuses, does not make ``send`` fail: ``on_delivery_failed`` hears of
        it (``DeliveryFailure.UNRESOLVED`` with the error, or ``BLOCKED``).  The public
        collection as a recipient, or an activity whose actor is not local, is refused
        here with :class:`~activitypub_kit.errors.RouteError`.
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
        audience: list[Recipient | str | Mapping[str, JSONValue]] = list(
            await self._recipients(entries)
        )
        return await self.federation.outbox.send(
            document, key_ref=sender, to=audience, sender=actor
        )

    async def _recipients(
        self, entries: Sequence[Audience]
    ) -> list[Recipient | Mapping[str, JSONValue]]:
        """Turn ``entries`` into outbox audience entries, without any I/O.

        Remote actor ids become ``{"actors": [ids]}`` references (at most
        :data:`ACTORS_PER_ENTRY` ids each, so a huge audience is still stored in chunks),
        which :meth:`Federation.expand` resolves in the delivery worker.
        """
        found: list[Recipient | Mapping[str, JSONValue] | None] = []
        remote: list[str] = []
        for entry in entries:
            if not isinstance(entry, str):
                found.append(self._recipient(entry))
            elif entry in PUBLIC_IRIS:
                raise RouteError("the public collection is an audience, not a recipient")
            elif self.federation.is_local(entry):
                found.append(Recipient(id=entry))  # handed over in-process, no fetch
            else:
                if not remote:
                    found.append(None)  # the references go where the first id was
                remote.append(entry)
        result: list[Recipient | Mapping[str, JSONValue]] = []
        for item in found:
            if item is not None:
                result.append(item)
                continue
            chunks = range(0, len(remote), ACTORS_PER_ENTRY)
            result.extend({"actors": list(remote[i : i + ACTORS_PER_ENTRY])} for i in chunks)
        return result

    def _recipient(self, entry: Recipient | ASModel | Mapping[str, Any]) -> (
        Recipient | Mapping[str, JSONValue]
    ):  # fmt: skip
        if isinstance(entry, Recipient):
            return entry
        if isinstance(entry, ASModel):
            return Recipient.from_actor(entry.to_json(context=False))
        if AUDIENCE_KEYS.intersection(entry):
            return dict(entry)
        return Recipient.from_actor(entry)

    # -- answering the activity being handled --------------------------------------------

    async def forward(
        self, activity: ASModel | Mapping[str, Any] | str, *, to: Audience | Sequence[Audience],
        sender: str,
    ) -> Forwarded:  # fmt: skip
        """Forward the activity being handled, byte for byte, to ``to``, signed by ``sender``.

        Inbox forwarding (see :mod:`activitypub_kit.server._forwarding`, and
        :func:`~activitypub_kit.server._forwarding.should_forward` for when to): the body
        :attr:`raw_activity` is queued unchanged, HTTP-signed by the local ``sender``'s key;
        ``to`` takes what :meth:`send` takes.  Inboxes on the activity's origin host and
        inboxes it was already forwarded to are left out.  Raises
        :class:`~activitypub_kit.errors.ForwardingError` outside an inbox handler that holds
        the raw bytes, or for another activity than the one being handled.
        """
        return await forwarding.forward(self, activity, to=to, sender=sender)

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


__all__ = ["Context", "Audience", "D", "MAX_PAGES", "MAX_ITEMS"]

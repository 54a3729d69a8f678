"""The context handed to every callback: URI builders, sending, and remote lookups."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload
from urllib.parse import parse_qs, urldefrag, urlsplit

from typing_extensions import TypeVar as DefaultTypeVar

from activitypub_kit._origin import origin_of as _origin_of
from activitypub_kit.delivery._planning import Recipient
from activitypub_kit.errors import (
    HttpStatusError,
    OriginMismatchError,
    ResourceGoneError,
    RouteError,
    WrongTypeError,
)
from activitypub_kit.http._resolver import ACTOR_TYPES, strip_foreign_embeds
from activitypub_kit.models import Accept as AcceptActivity
from activitypub_kit.models import (
    Actor,
    ASModel,
    Collection,
    CollectionPage,
    Follow,
    Reject,
    parse,
)
from activitypub_kit.models._helpers import PUBLIC_IRIS, id_of, type_names
from activitypub_kit.models._jsonld import default_context
from activitypub_kit.server import _documents as documents
from activitypub_kit.server import _forwarding as forwarding
from activitypub_kit.server import _objects as objects
from activitypub_kit.server._routes import ParsedUri, RouteKind, UrlTemplate
from activitypub_kit.storage._base import JSONValue

if TYPE_CHECKING:
    from activitypub_kit.server._federation import Federation
    from activitypub_kit.server._forwarding import Forwarded

Audience = Recipient | str | ASModel | Mapping[str, Any]
M = TypeVar("M", bound=ASModel)
#: The app's context data type: ``Context[AppState]``; a bare ``Context`` is ``Context[Any]``.
D = DefaultTypeVar("D", default=Any)

_UNREAD: Any = object()

#: How many addressed actor documents the delivery worker fetches at once (per fan-out).
MAX_CONCURRENT_LOOKUPS = 8
#: Most actor ids in one ``{"actors": [...]}`` audience entry made by :meth:`Context.send`.
ACTORS_PER_ENTRY = 64
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
#: The keys of audience references the delivery worker expands (``Federation.expand``).
AUDIENCE_KEYS = frozenset({"followers", "actors", "known"})
#: How many pages :meth:`Context.traverse_collection` reads by default.
MAX_PAGES = 20
#: How many items :meth:`Context.traverse_collection` yields by default.
MAX_ITEMS = 1000


class Context(Generic[D]):
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

    # -- audience --------------------------------------------------------------------

    def followers_of(self, handle: str) -> dict[str, JSONValue]:
        """The audience "every follower of ``handle``", expanded by the worker at fan-out."""
        return {"followers": handle}

    # -- looking objects up ----------------------------------------------------------

    @overload
    async def lookup(self, uri: str, *, refresh: bool = False) -> ASModel: ...

    @overload
    async def lookup(self, uri: str, kind: type[M], *, refresh: bool = False) -> M: ...

    async def lookup(
        self, uri: str, kind: type[ASModel] | None = None, *, refresh: bool = False
    ) -> ASModel:
        """The object ``uri``, as a model of class ``kind`` (``ctx.lookup(uri, Note)``).

        A URI on one of our origins is answered by our own dispatchers, without HTTP: the
        document a fetcher would be served (actor completed with inbox and keys, collection
        or page, ``@context``).  Any other URI is read from the Federation's
        ``object_store`` (the app's database, :mod:`~activitypub_kit.server._objects`) when
        it holds a copy younger than ``refresh_after``; otherwise it is fetched through
        ``fed.resolver`` (SSRF guard, origin rules, fetch budget, cache) and the fresh copy
        handed to the store.  A URI that moderation blocks (its host, or ``block_actor``)
        raises :class:`~activitypub_kit.errors.BlockedError`, stored copy or not.
        ``refresh=True`` skips the stored and cached copies.  Either way, embedded objects
        on another origin than the document become references (their ids).

        A subclass of ``kind`` is accepted (``lookup(uri, Object)`` gives a ``Note``); any
        other type raises :class:`~activitypub_kit.errors.WrongTypeError`.  Not found is
        :class:`~activitypub_kit.errors.HttpStatusError` (``404``), deleted
        :class:`~activitypub_kit.errors.ResourceGoneError` (``410``, or a ``Tombstone``
        served in its place; the store's copy is deleted), locally as remotely.
        """
        model = await self._model(uri, refresh=refresh)
        if kind is not None and not isinstance(model, kind):
            raise _wrong_type(uri, kind.__name__, model)
        return model

    async def lookup_actor(self, uri: str, *, refresh: bool = False) -> Actor:
        """The actor ``uri``, local or remote (:meth:`lookup` with ``Actor``).

        Its ``type`` must name an actor type (``Person``, ``Service``, ``Group``,
        ``Organization``, ``Application``), else :class:`~activitypub_kit.errors.WrongTypeError`.
        """
        actor = await self.lookup(uri, Actor, refresh=refresh)
        if not ACTOR_TYPES.intersection(type_names(actor)):
            raise _wrong_type(uri, "Actor", actor)
        return actor

    async def traverse_collection(
        self,
        collection: str | Collection,
        *,
        max_pages: int = MAX_PAGES,
        max_items: int = MAX_ITEMS,
    ) -> AsyncIterator[ASModel | str]:
        """Every item of a collection, page after page: ids (``str``) or embedded models.

        ``collection`` is a URI (looked up with :meth:`lookup`, so local collections are read
        from their dispatchers) or a collection model.  Items come from ``orderedItems`` (or
        ``items``) of the collection, then of its ``first`` page and each ``next`` one,
        embedded or by URI, each page read through :meth:`lookup`.  The walk stops quietly
        after ``max_pages`` pages or ``max_items`` items, and at a page it has already read
        (a loop).  A page on another origin than the collection is refused with
        :class:`~activitypub_kit.errors.OriginMismatchError` before any request is made to
        it (a server vouches for its own collections only).
        """
        if isinstance(collection, str):
            collection = await self.lookup(collection, Collection)
        home = _origin_of(collection.id) if isinstance(collection.id, str) else None
        seen: set[str] = {collection.id} if isinstance(collection.id, str) else set()
        count = 0
        for item in _items_of(collection):
            if count >= max_items:
                return
            count += 1
            yield item
        link: Any = collection.first
        pages = 0
        while link is not None and pages < max_pages and count < max_items:
            page_id = id_of(link)
            if page_id is not None:
                found = _origin_of(page_id)
                home = found if home is None else home
                if found is None or found != home:
                    raise OriginMismatchError(
                        f"collection {collection.id} links page {page_id} on another origin"
                    )
                if page_id in seen:
                    return  # a loop: every page was read once
                seen.add(page_id)
            if isinstance(link, Collection):
                page: Collection = link
            elif page_id is not None:
                page = await self.lookup(page_id, Collection)
            else:
                return
            pages += 1
            for item in _items_of(page):
                if count >= max_items:
                    return
                count += 1
                yield item
            link = page.next if isinstance(page, CollectionPage) else None

    async def _model(self, uri: str, *, refresh: bool) -> ASModel:
        """A local URI from our dispatchers, a remote one through the object store."""
        if not self.federation.is_local(uri):
            return await objects.lookup_remote(self.federation, uri, refresh=refresh)
        return parse(await self._document(uri, refresh=refresh))

    async def _document(self, uri: str, *, refresh: bool) -> dict[str, Any]:
        """The document of ``uri``: ours from the dispatchers, else from ``fed.resolver``."""
        fed = self.federation
        if not fed.is_local(uri):
            return await fed.resolver.fetch(uri, refresh=refresh)
        document = await self._local_document(urldefrag(uri).url)
        return strip_foreign_embeds(document)

    async def _local_document(self, uri: str) -> dict[str, Any]:
        fed = self.federation
        parsed = self.parse_uri(uri)
        if parsed is None or parsed.kind in ("inbox", "shared_inbox"):
            raise HttpStatusError(f"GET {uri} answered 404: no document here", status_code=404)
        ctx = fed.context()  # as for an outside fetcher: no inbox, no signer
        if parsed.kind == "instance_actor":
            status, document = await documents.instance_actor_document(fed)
        elif parsed.kind == "actor":
            status, document = await documents.actor_document(fed, ctx, parsed.params["handle"])
        elif parsed.kind == "collection":
            route = fed.collections[parsed.name]
            query = urlsplit(uri).query
            cursors = parse_qs(query, keep_blank_values=True).get("cursor")
            cursor = cursors[0] if cursors else None
            status, document = await documents.collection_document(
                route, fed, ctx, dict(parsed.params), cursor
            )
        else:
            status, document = await documents.object_document(
                fed, ctx, parsed.name, dict(parsed.params)
            )
        if status == 410:
            raise ResourceGoneError(f"GET {uri} answered 410 Gone", status_code=410)
        if status >= 400:
            reason = document.get("error", "")
            raise HttpStatusError(f"GET {uri} answered {status}: {reason}", status_code=status)
        return document

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


def _wrong_type(uri: str, expected: str, model: ASModel) -> WrongTypeError:
    actual = "/".join(type_names(model))
    shown = actual or "document without a type"
    return WrongTypeError(
        f"{uri} is a {shown}, not {expected}", uri=uri, expected=expected, actual=actual
    )


def _items_of(collection: Collection) -> list[ASModel | str]:
    items = collection.ordered_items
    if items is None:
        items = collection.items
    if items is None:
        return []
    return list(items) if isinstance(items, list) else [items]


__all__ = ["Context", "Audience", "MAX_PAGES", "MAX_ITEMS"]

"""The context handed to every callback: URI builders, sending, and remote lookups."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload
from urllib.parse import parse_qs, urldefrag, urlsplit

import anyio
from typing_extensions import TypeVar as DefaultTypeVar

from activitypub_kit.delivery.planning import Recipient
from activitypub_kit.errors import (
    BlockedError,
    FetchError,
    HttpStatusError,
    OriginMismatchError,
    ResourceGoneError,
    RouteError,
    WrongTypeError,
)
from activitypub_kit.http.resolver import ACTOR_TYPES, strip_foreign_embeds
from activitypub_kit.http.urls import origin
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
from activitypub_kit.models.helpers import PUBLIC_IRIS, id_of, type_names
from activitypub_kit.models.jsonld import default_context
from activitypub_kit.server import documents
from activitypub_kit.server.routes import ParsedUri, RouteKind, UrlTemplate
from activitypub_kit.storage.base import JSONValue

if TYPE_CHECKING:
    from activitypub_kit.server.federation import Federation

Audience = Recipient | str | ASModel | Mapping[str, Any]
M = TypeVar("M", bound=ASModel)
#: The app's context data type: ``Context[AppState]``; a bare ``Context`` is ``Context[Any]``.
D = DefaultTypeVar("D", default=Any)

_UNREAD: Any = object()

#: How many actor documents :meth:`Context.send` fetches at once.
MAX_CONCURRENT_LOOKUPS = 8
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
    :class:`~activitypub_kit.server.documents.Signer` (a ``str``: the key id, with the key's
    owner as ``.actor``), or ``None``: in actor, object and collection dispatchers (and
    their ``authorize`` predicates) the verified signer of the ``GET``, ``None`` when it was
    unsigned; in inbox handlers the key that vouched for the activity.  ``inbox`` (the local
    handle whose inbox received the activity, ``None`` for the shared inbox) and ``method``
    (how it was verified) are set for inbox handlers.
    """

    def __init__(
        self,
        federation: Federation[D],
        *,
        inbox: str | None = None,
        signer: str | None = None,
        method: str | None = None,
    ) -> None:
        self.federation = federation
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
        or page, ``@context``).  Any other URI is fetched through ``fed.resolver`` (SSRF
        guard, block policy, origin rules, fetch budget, cache; ``refresh=True`` skips the
        cached copy).  Either way, embedded objects on another origin than the document
        become references (their ids).

        A subclass of ``kind`` is accepted (``lookup(uri, Object)`` gives a ``Note``); any
        other type raises :class:`~activitypub_kit.errors.WrongTypeError`.  Not found is
        :class:`~activitypub_kit.errors.HttpStatusError` (``404``), deleted
        :class:`~activitypub_kit.errors.ResourceGoneError` (``410``, a ``Tombstone``),
        locally as remotely.
        """
        model = parse(await self._document(uri, refresh=refresh))
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

    async def _document(self, uri: str, *, refresh: bool) -> dict[str, Any]:
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
        audience: list[Recipient | str | Mapping[str, JSONValue]] = list(
            await self._recipients(entries)
        )
        return await self.federation.outbox.send(
            document, key_ref=sender, to=audience, sender=actor
        )

    async def _recipients(
        self, entries: Sequence[Audience]
    ) -> list[Recipient | Mapping[str, JSONValue]]:
        """Resolve ``entries``, keeping their order.

        Actor ids are fetched concurrently, at most :data:`MAX_CONCURRENT_LOOKUPS` at a time.
        A failing fetch cancels the others and the first failure in recipient order is
        raised, so nothing is sent (as when they were fetched one after another).
        """
        found: list[Recipient | Mapping[str, JSONValue] | None] = [None] * len(entries)
        remote = {i for i, entry in enumerate(entries) if isinstance(entry, str)}
        for index, entry in enumerate(entries):
            if index not in remote or len(remote) == 1:
                found[index] = await self._recipient(entry)
        if len(remote) > 1:
            limit = anyio.Semaphore(MAX_CONCURRENT_LOOKUPS)
            failures: dict[int, Exception] = {}

            async def resolve(index: int, scope: anyio.CancelScope) -> None:
                async with limit:
                    try:
                        found[index] = await self._recipient(entries[index])
                    except Exception as exc:  # re-raised below, in recipient order
                        failures[index] = exc
                        scope.cancel()

            async with anyio.create_task_group() as group:
                for index in sorted(remote):
                    group.start_soon(resolve, index, group.cancel_scope)
            if failures:
                raise failures[min(failures)]
        return [entry for entry in found if entry is not None]

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
        if await self.federation.moderation.blocks(entry):
            return Recipient(id=entry)  # never fetched; the outbox reports it as blocked
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


def _origin_of(uri: str) -> tuple[str, str, int] | None:
    try:
        return origin(uri)
    except FetchError:
        return None


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

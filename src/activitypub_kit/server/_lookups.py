"""Remote and local lookups on a :class:`~activitypub_kit.server.Context`.

:class:`Lookups` holds ``ctx.lookup``, ``ctx.lookup_actor`` and ``ctx.traverse_collection``:
a local URI is answered by our own dispatchers without HTTP, a remote one from the
Federation's ``object_store`` or through ``fed.resolver``.  ``Context`` inherits it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload
from urllib.parse import parse_qs, urldefrag, urlsplit

from activitypub_kit._origin import origin_of as _origin_of
from activitypub_kit.errors import (
    HttpStatusError,
    OriginMismatchError,
    ResourceGoneError,
    WrongTypeError,
)
from activitypub_kit.http._resolver import ACTOR_TYPES, strip_foreign_embeds
from activitypub_kit.models import Actor, ASModel, Collection, CollectionPage, parse
from activitypub_kit.models._helpers import id_of, type_names
from activitypub_kit.server import _documents as documents
from activitypub_kit.server import _objects as objects
from activitypub_kit.server._data import D

if TYPE_CHECKING:
    from activitypub_kit.server._federation import Federation
    from activitypub_kit.server._routes import ParsedUri

M = TypeVar("M", bound=ASModel)
#: How many pages :meth:`Lookups.traverse_collection` reads by default.
MAX_PAGES = 20
#: How many items :meth:`Lookups.traverse_collection` yields by default.
MAX_ITEMS = 1000


class Lookups(Generic[D]):
    """The lookup half of :class:`~activitypub_kit.server.Context` (its base class).

    Every public method here is a public ``Context`` method; see each for its contract.
    """

    federation: Federation[D]

    if TYPE_CHECKING:

        def parse_uri(self, uri: str) -> ParsedUri | None: ...

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


__all__ = ["Lookups", "MAX_PAGES", "MAX_ITEMS"]

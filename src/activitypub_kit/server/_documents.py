"""The documents the Federation serves: actors, objects, collections, WebFinger, NodeInfo.

Each builder returns ``(status, document)``; the ASGI layer does the HTTP.  Dispatchers
return models; ``None`` is 404 and a ``Tombstone`` is 410 (served as the tombstone).

Who asked is a :class:`Signer` (``ctx.signer``); an ``authorize`` predicate registered with a
dispatcher decides, with :func:`authorized`, whether that signer may see a document.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from activitypub_kit.errors import InvalidCursorError, InvalidHandleError, RouteError
from activitypub_kit.models import ASModel, Tombstone
from activitypub_kit.models._jsonld import default_context
from activitypub_kit.server._collections import CollectionRoute, render_collection, render_page
from activitypub_kit.server._keys import INSTANCE, key_entries
from activitypub_kit.webfinger import NodeInfo, WebFingerAccount, WebFingerServer, validate_host

if TYPE_CHECKING:
    from activitypub_kit.server._context import Context
    from activitypub_kit.server._federation import Federation

Answer = tuple[int, dict[str, Any]]


class Signer(str):
    """The verified signer of a request: the key id (the string itself) and the key's owner.

    A ``str`` equal to the key id, as ``ctx.signer`` has always been in inbox handlers, with
    :attr:`actor`, the id of the actor that owns the key.  For a signed ``GET`` of a served
    document both are known; in inbox handlers ``actor`` is ``None`` (the owner is the
    activity's actor there, checked before the activity was queued).
    """

    #: The id of the key's owner (``None`` where only the key id was recorded).
    actor: str | None

    def __new__(cls, key_id: str, actor: str | None = None) -> Signer:
        """``Signer(key_id, actor)``."""
        signer = super().__new__(cls, key_id)
        signer.actor = actor
        return signer

    @property
    def key_id(self) -> str:
        """The id of the key that verified the signature."""
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"Signer({self.key_id!r}, actor={self.actor!r})"


#: ``authorize=`` of a dispatcher: ``(ctx, signer, **params) -> bool``, plain or ``async``;
#: ``signer`` is ``ctx.signer`` (``None`` for an unsigned request), ``params`` the route's.
Authorize = Callable[..., bool | Awaitable[bool]]


async def authorized(predicate: Authorize, ctx: Context, params: Mapping[str, str]) -> bool:
    """Whether ``predicate`` lets ``ctx.signer`` see the document at ``params``.

    Only ``True`` allows: any other answer (``False``, ``None``, a forgotten ``return``)
    refuses.  An exception propagates (the server answers ``500``).
    """
    result = predicate(ctx, ctx.signer, **params)
    if inspect.isawaitable(result):
        result = await result
    return result is True


#: Collections linked from the actor document when registered with a ``{handle}`` template.
ACTOR_COLLECTIONS = ("outbox", "followers", "following", "liked", "featured")


def _with_context(document: dict[str, Any]) -> dict[str, Any]:
    if "@context" in document:
        return document
    return {"@context": default_context(document), **document}


def _model_answer(model: ASModel | None, uri: str, what: str) -> Answer | dict[str, Any]:
    if model is None:
        return 404, {"error": f"no such {what}"}
    document = model.to_json(context=False)
    if document.setdefault("id", uri) != uri:
        raise RouteError(f"the {what} dispatcher returned id {document['id']}, served at {uri}")
    if isinstance(model, Tombstone):
        return 410, _with_context(document)
    return document


async def actor_document(fed: Federation, ctx: Context, handle: str) -> Answer:
    """The actor ``handle``, completed with inbox, collections and keys."""
    assert fed.actor_dispatcher is not None
    uri = fed.uri("actor", handle=handle)
    found = _model_answer(await fed.actor_dispatcher(ctx, handle), uri, "actor")
    if isinstance(found, tuple):
        return found
    document = found
    document.setdefault("preferredUsername", handle)
    document.setdefault("inbox", fed.uri("inbox", handle=handle))
    endpoints = document.get("endpoints")
    if not isinstance(endpoints, dict):
        endpoints = {}
    endpoints.setdefault("sharedInbox", fed.uri("shared_inbox"))
    document["endpoints"] = endpoints
    for name in ACTOR_COLLECTIONS:
        route = fed.collections.get(name)
        if route is not None and route.template.names == ("handle",):
            document.setdefault(name, fed.uri(f"collection:{name}", handle=handle))
    for key, value in key_entries(uri, await fed.key_pairs_of(handle)).items():
        document.setdefault(key, value)
    return 200, _with_context(document)


async def instance_actor_document(fed: Federation) -> Answer:
    """The instance actor: an ``Application`` that signs our fetches."""
    uri = fed.uri("instance_actor")
    host = urlsplit(fed.origin).netloc
    document: dict[str, Any] = {
        "id": uri,
        "type": "Application",
        "preferredUsername": host,
        "name": host,
        "inbox": fed.uri("shared_inbox"),
        "endpoints": {"sharedInbox": fed.uri("shared_inbox")},
        "manuallyApprovesFollowers": True,
        **key_entries(uri, await fed.key_pairs_of(INSTANCE)),
    }
    return 200, _with_context(document)


async def object_document(
    fed: Federation, ctx: Context, name: str, params: dict[str, str]
) -> Answer:
    """The local object of class ``name`` at ``params``."""
    _kind, dispatcher = fed.objects[name]
    uri = fed.uri(f"object:{name}", **params)
    found = _model_answer(await dispatcher(ctx, **params), uri, "object")
    if isinstance(found, tuple):
        return found
    return 200, _with_context(found)


async def collection_document(
    route: CollectionRoute,
    fed: Federation,
    ctx: Context,
    params: dict[str, str],
    cursor: str | None,
) -> Answer:
    """The collection (``cursor is None``) or one of its pages.

    A cursor the dispatcher refuses (:class:`~activitypub_kit.errors.InvalidCursorError`,
    e.g. from :func:`~activitypub_kit.server._collections.offset_cursor`) is a ``400``.
    """
    uri = fed.uri(f"collection:{route.name}", **params)
    try:
        page = await route.dispatcher(ctx, cursor or None, **params)
    except InvalidCursorError as exc:
        return exc.http_status, {"error": exc.message}
    if page is None:
        return 404, {"error": "no such collection"}
    if cursor is not None:
        document = render_page(route, uri, cursor, page)
    else:
        total = page.total
        if route.counter_fn is not None:
            total = await route.counter_fn(ctx, **params)
        document = render_collection(route, uri, page, total)
    return 200, _with_context(document)


def webfinger_server(fed: Federation) -> WebFingerServer | None:
    """A WebFinger server answering from the actor dispatcher (and the instance actor).

    Origins whose host is an IP address (or ``localhost``) cannot carry ``acct:`` handles and
    are left out, unless ``fed.allow_local_handles`` (development only); ``None`` when no
    origin is left.
    """
    local = fed.allow_local_handles
    domains: list[str] = []
    for value in fed.origins:
        netloc = urlsplit(value).netloc
        try:
            validate_host(netloc, allow_port=True, allow_local=local)
        except InvalidHandleError:
            continue
        domains.append(netloc)
    if not domains:
        return None
    allow_port = any(":" in d for d in domains)

    async def lookup(username: str) -> WebFingerAccount | None:
        if username in domains:
            return WebFingerAccount(username=username, actor_url=fed.uri("instance_actor"))
        if fed.actor_dispatcher is None:
            return None
        actor = await fed.actor_dispatcher(fed.context(), username)
        if actor is None:
            return None
        uri = fed.uri("actor", handle=username)
        if isinstance(actor, Tombstone):
            return WebFingerAccount(username=username, actor_url=uri, gone=True)
        profile = getattr(actor, "url", None)
        return WebFingerAccount(
            username=username,
            actor_url=uri,
            profile_url=profile if isinstance(profile, str) else None,
        )

    async def lookup_url(url: str) -> WebFingerAccount | None:
        handle = fed.handle_of(url)
        return None if handle is None else await lookup(handle)

    return WebFingerServer(
        domains, lookup, lookup_url=lookup_url, allow_port=allow_port, allow_local=local
    )


async def nodeinfo_document(fed: Federation, ctx: Context) -> dict[str, Any]:
    """The NodeInfo 2.1 document (from the dispatcher, or software and protocol only)."""
    if fed.nodeinfo_dispatcher is not None:
        info = await fed.nodeinfo_dispatcher(ctx)
    else:
        info = NodeInfo(version="2.1", software=fed.software, protocols=["activitypub"])
    return info.to_document("2.1")


__all__ = [
    "ACTOR_COLLECTIONS",
    "Signer",
    "Authorize",
    "authorized",
    "actor_document",
    "instance_actor_document",
    "object_document",
    "collection_document",
    "webfinger_server",
    "nodeinfo_document",
]

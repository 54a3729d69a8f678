"""Resolving ActivityPub documents by id, with origin rules (FEP-fe34) and a cache.

Rules, in the order they apply:

1. Never fetch one of our own origins over HTTP (those are answered locally), nor a host
   the block policy (``block_host``) refuses: :class:`~activitypub_kit.errors.BlockedError`,
   before the cache is read, and never cached.
2. The fetch itself: SSRF guard, limits, Accept header, content type
   (:func:`~activitypub_kit.http.fetch_activitypub`), within the active fetch budget.
3. The document's ``id`` must be on the origin of the final URL (after redirects).  If it
   is not, the document is fetched once more from its ``id``, and that copy must carry the
   same ``id`` on its own origin; otherwise :class:`~activitypub_kit.errors.OriginMismatchError`.
4. Embedded objects whose ``id`` is on another origin than the document are not trusted:
   they are replaced by their ``id`` (a reference), to be fetched from their own origin
   with :meth:`Resolver.dereference` when needed.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from activitypub_kit._deprecated import deprecated_names
from activitypub_kit._limits import DEFAULT_LIMITS, DocumentLimits
from activitypub_kit._limits import MAX_DEPTH as _MAX_DEPTH
from activitypub_kit.errors import (
    BlockedError,
    FetchError,
    InvalidResponseError,
    OriginMismatchError,
    UrlRefusedError,
)
from activitypub_kit.http._activitypub import fetch_activitypub
from activitypub_kit.http._budget import fetch_budget
from activitypub_kit.http._cache import FetchCache
from activitypub_kit.http._client import USE_CLIENT_AUTH, HttpClient, _UseDefault
from activitypub_kit.http._urls import origin, origin_of, origin_text
from activitypub_kit.models._helpers import type_names

#: ActivityStreams actor types.
ACTOR_TYPES: Final = frozenset({"Application", "Group", "Organization", "Person", "Service"})


def strip_foreign_embeds(
    document: dict[str, Any], trusted: str | None = None, *, max_depth: int = _MAX_DEPTH
) -> dict[str, Any]:
    """Replace every embedded object whose ``id`` is on another origin by that ``id``.

    ``trusted`` is the URL whose origin vouches for ``document`` (default: its ``id``).
    Objects without an ``id`` are part of the document and kept.  ``@context`` is left
    alone.  Raises :class:`InvalidResponseError` for arrays and objects nested deeper than
    ``max_depth`` (the top-level object is level 1, as for an inbox body: the same
    :data:`~activitypub_kit._limits.MAX_DEPTH` by default).
    """
    base = trusted if trusted is not None else document.get("id")
    base_origin = origin_of(base) if isinstance(base, str) else None

    def _foreign(inner_id: str) -> bool:
        return base_origin is None or origin_of(inner_id) != base_origin

    def walk(value: Any, depth: int) -> Any:
        is_list = isinstance(value, list)
        if not is_list and not isinstance(value, dict):
            return value
        if depth > max_depth:
            raise InvalidResponseError(f"document {base} nests deeper than {max_depth} levels")
        if is_list:
            return [walk(item, depth + 1) for item in value]
        inner_id = value.get("id")
        if depth > 1 and isinstance(inner_id, str) and _foreign(inner_id):
            return inner_id
        return {
            key: (item if key == "@context" else walk(item, depth + 1))
            for key, item in value.items()
        }

    result: dict[str, Any] = walk(document, 1)
    return result


def types_of(document: dict[str, Any]) -> list[str]:
    """The ``type`` of a document as a list of names (``models.type_names``)."""
    return type_names(document)


class Resolver:
    """Fetch ActivityPub documents by id, verified against their origin, through a cache.

    ``client`` makes the requests; ``cache`` keeps documents and failures (an in-process
    cache by default); ``auth`` signs fetches (authorized fetch; default: the client's
    auth); ``local_origins`` are our own origins (``https://example.com``), never fetched.
    ``block_host(host) -> bool`` (plain or ``async``; the lower-case host name, no port) is
    the block policy: a URL on a host it refuses raises
    :class:`~activitypub_kit.errors.BlockedError` without a request, and so does a
    redirect to one or a document claiming an id on one (those are refused after the hop).
    Each call opens a fetch budget of ``client.settings.fetch_budget`` requests unless one
    is already active, in which case it spends from that one.
    """

    def __init__(
        self,
        client: HttpClient,
        *,
        cache: FetchCache | None = None,
        auth: httpx.Auth | _UseDefault | None = USE_CLIENT_AUTH,
        local_origins: Iterable[str] = (),
        block_host: Callable[[str], bool | Awaitable[bool]] | None = None,
        limits: DocumentLimits = DEFAULT_LIMITS,
    ) -> None:
        self.client = client
        self.cache = cache if cache is not None else FetchCache()
        self.auth = auth
        self.local_origins = frozenset(origin(o) for o in local_origins)
        self.block_host = block_host
        #: Bounds on fetched documents: nesting deeper than ``limits.max_depth`` is refused
        #: (the inbox's limit: a document is never accepted on one path, refused on the other).
        self.limits = limits

    async def fetch(self, url: str, *, refresh: bool = False) -> dict[str, Any]:
        """The document whose id is ``url``, verified (see the module rules).

        ``refresh=True`` skips the cached copy (and a cached failure) and fetches anew.
        """
        await self.refuse_blocked(url)
        with fetch_budget(self.client.settings.fetch_budget):
            if not refresh:
                cached = await self.cache.get("doc", url)
                if cached is not None:
                    return cached.value
            try:
                document = await self._fetch_verified(url)
            except FetchError as error:
                await self.cache.put_failure("doc", url, error)
                raise
            await self.cache.put("doc", url, document)
            if document["id"] != url:
                await self.cache.put("doc", document["id"], document)
            return document

    async def fetch_actor(self, url: str, *, refresh: bool = False) -> dict[str, Any]:
        """Like :meth:`fetch`, and the document must be an actor (Person, Service...)."""
        document = await self.fetch(url, refresh=refresh)
        if not ACTOR_TYPES.intersection(types_of(document)):
            shown_types = "/".join(types_of(document)) or "document without a type"
            raise InvalidResponseError(f"{url} is a {shown_types}, not an actor")
        return document

    async def dereference(
        self, value: Any, *, container: dict[str, Any] | str
    ) -> dict[str, Any] | None:
        """Turn a property value into a trusted object (FEP-fe34).

        ``container`` is the object (or its trusted URL) the value was found in.  A URL is
        fetched; an embedded object with an ``id`` on the container's origin is trusted as
        it is; one on another origin is fetched from its own origin; an object without an
        ``id`` belongs to the container.  Anything else gives ``None``.
        """
        base = container if isinstance(container, str) else container.get("id")
        if isinstance(value, str):
            return await self.fetch(value)
        if not isinstance(value, dict):
            return None
        inner_id = value.get("id")
        if not isinstance(inner_id, str):
            return value
        if isinstance(base, str) and origin_of(base) == origin_of(inner_id):
            return value
        return await self.fetch(inner_id)

    async def _fetch_verified(self, url: str) -> dict[str, Any]:
        self._refuse_local(url)
        fetched = await fetch_activitypub(self.client, url, auth=self.auth)
        document_id = fetched.document.get("id")
        if not isinstance(document_id, str) or not document_id:
            raise InvalidResponseError(f"document at {fetched.final_url} has no id")
        if fetched.final_url != url:
            await self.refuse_blocked(fetched.final_url)
        if origin_of(document_id) == origin(fetched.final_url):
            return strip_foreign_embeds(
                fetched.document, fetched.final_url, max_depth=self.limits.max_depth
            )
        # The document claims to live elsewhere: ask that origin, once.
        self._refuse_local(document_id)
        await self.refuse_blocked(document_id)
        again = await fetch_activitypub(self.client, document_id, auth=self.auth)
        if again.final_url != document_id:
            await self.refuse_blocked(again.final_url)
        again_id = again.document.get("id")
        if again_id != document_id or origin_of(document_id) != origin(again.final_url):
            raise OriginMismatchError(
                f"document fetched from {origin_text(fetched.final_url)} claims id"
                f" {document_id}, which its own origin does not confirm"
            )
        return strip_foreign_embeds(
            again.document, again.final_url, max_depth=self.limits.max_depth
        )

    async def refuse_blocked(self, url: str) -> None:
        """Raise :class:`~activitypub_kit.errors.BlockedError` if ``url``'s host is blocked."""
        if self.block_host is None:
            return
        try:
            host = urlsplit(url).hostname
        except ValueError:
            return  # not a URL: the fetch refuses it
        if not host:
            return
        answer = self.block_host(host)
        if inspect.isawaitable(answer):
            answer = await answer
        if answer:
            raise BlockedError(
                f"refused to fetch {url}: the host {host} is blocked here", host=host
            )

    def _refuse_local(self, url: str) -> None:
        if self.local_origins and origin_of(url) in self.local_origins:
            raise UrlRefusedError(f"refused to fetch {url}: it is on our own origin")


__getattr__ = deprecated_names(
    __name__, {"MAX_DEPTH": ("activitypub_kit.server._parsing.MAX_DEPTH (now 48)", _MAX_DEPTH)}
)

__all__ = ["ACTOR_TYPES", "Resolver", "strip_foreign_embeds", "types_of"]

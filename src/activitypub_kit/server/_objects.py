"""The app's own copies of remote objects, read before fetching: :class:`ObjectStore`.

A server keeps the remote accounts and posts it has seen in its own database.  Given to a
:class:`~activitypub_kit.server.Federation` as ``object_store``, that database answers
``ctx.lookup`` and ``ctx.lookup_actor`` for remote URIs first, and the origin is asked
only when the copy is older than ``refresh_after`` (one day by default):

* **fresh copy**: returned, no request;
* **stale or no copy**: fetched through ``fed.resolver`` (SSRF guard, origin rules, fetch
  budget, its cache in the Federation's store), then handed to :meth:`ObjectStore.save`;
* **gone**: the origin answered ``410 Gone`` or served a ``Tombstone``:
  :meth:`ObjectStore.delete`, then :class:`~activitypub_kit.errors.ResourceGoneError`;
* **the refetch of a stale copy failed** for a reason that may pass (connection refused or
  reset, timeout, ``5xx``, ``408``, ``429``, the fetch budget of the request spent): the
  stale copy is returned (and the failure logged), since a server that is down for an hour
  should not make every post of its users unreadable here.  Any other failure (``404``,
  ``401``/``403``, an origin mismatch, a document that is not ActivityPub) is raised and
  the copy is left as it is: whether a ``404`` means "deleted" is the app's call;
* **blocked** (``block_host`` or ``block_actor``): :class:`~activitypub_kit.errors.BlockedError`
  before the store is read, so a stored copy of a blocked actor is not served either (it is
  not deleted: lifting the block serves it again).

``ctx.lookup(uri, refresh=True)`` skips the stored copy (and the resolver's cache) and
fetches anew.  Our own URIs never reach the store: our dispatchers answer them.

Which types to keep, and in which tables, is the app's business: :meth:`ObjectStore.save`
may ignore a document it does not keep (it is then fetched again on the next lookup,
through the resolver's cache).  A refetch goes through that cache too (``document_ttl``,
one hour by default), so a ``refresh_after`` shorter than that refreshes from the cache.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from activitypub_kit.errors import (
    BlockedError,
    ConnectionFailedError,
    FetchBudgetExhaustedError,
    FetchError,
    FetchTimeoutError,
    HttpStatusError,
    ResourceGoneError,
)
from activitypub_kit.models import ASModel, parse
from activitypub_kit.models._helpers import type_names

if TYPE_CHECKING:
    from activitypub_kit.server._federation import Federation

logger = logging.getLogger("activitypub_kit.server")

#: The default ``Federation(refresh_after=...)``: a stored copy is refetched after a day.
DEFAULT_REFRESH_AFTER: Final = timedelta(days=1)
#: HTTP statuses after which a stale copy is still served (the failure may pass).
TRANSIENT_STATUSES: Final = frozenset({408, 429})


@dataclass(frozen=True)
class StoredObject:
    """A copy of a remote object the app keeps, and when it was last fetched.

    ``document`` is the JSON document :meth:`ObjectStore.save` received (or one rebuilt
    from the app's own rows), or a model; it is trusted as it is, so store what ``save``
    was given.  ``refreshed_at`` is when it was fetched from its origin; a naive datetime
    is read as UTC.
    """

    document: Mapping[str, Any] | ASModel
    refreshed_at: datetime

    def model(self) -> ASModel:
        """The stored copy as a model (a document is parsed)."""
        if isinstance(self.document, ASModel):
            return self.document
        return parse(dict(self.document))

    def age(self, now: datetime | None = None) -> timedelta:
        """How long ago it was fetched (``now`` defaults to the current UTC time)."""
        refreshed = self.refreshed_at
        if refreshed.tzinfo is None:
            refreshed = refreshed.replace(tzinfo=UTC)
        return (now or datetime.now(UTC)) - refreshed


@runtime_checkable
class ObjectStore(Protocol):
    """The app's database of remote objects, read by ``ctx.lookup`` before any fetch.

    Three coroutines; each receives the URI looked up, as given to ``ctx.lookup``:

    * ``read(uri)``: the stored copy with its ``refreshed_at``, or ``None``;
    * ``save(uri, document)``: after a successful fetch, the verified document (its
      ``id`` is on the origin it came from, which may differ from ``uri`` after a
      redirect; objects embedded from another origin are reduced to their ids).  Record
      ``refreshed_at`` as now.  A document the app does not keep may be ignored;
    * ``delete(uri)``: the origin says the object is gone (``410`` or a ``Tombstone``).
      Called whether or not a copy was read, so it must accept a URI it does not hold.

    An exception raised by any of them is not caught: ``ctx.lookup`` raises it.
    """

    async def read(self, uri: str) -> StoredObject | None:
        """The stored copy of ``uri`` with when it was fetched, ``None`` when there is none."""
        ...

    async def save(self, uri: str, document: dict[str, Any]) -> None:
        """Keep (or replace) the copy of ``uri`` just fetched from its origin."""
        ...

    async def delete(self, uri: str) -> None:
        """Forget ``uri``: its origin says it was deleted."""
        ...


def is_transient(error: FetchError) -> bool:
    """Whether a failed fetch may succeed later (a stale copy is served meanwhile)."""
    if isinstance(error, HttpStatusError):
        if isinstance(error, ResourceGoneError):
            return False
        return error.status_code >= 500 or error.status_code in TRANSIENT_STATUSES
    return isinstance(error, ConnectionFailedError | FetchTimeoutError | FetchBudgetExhaustedError)


async def refuse_blocked(fed: Federation[Any], uri: str) -> None:
    """Raise :class:`~activitypub_kit.errors.BlockedError` if moderation refuses ``uri``.

    Its host (``block_host``, the message a blocked fetch gives) or ``uri`` itself
    (``block_actor``, asked with any URI looked up).
    """
    await fed.resolver.refuse_blocked(uri)
    moderation = fed.moderation
    if moderation.block_actor is not None and await moderation.blocks(uri):
        raise BlockedError(f"refused to look up {uri}: it is blocked here")


async def lookup_remote(fed: Federation[Any], uri: str, *, refresh: bool) -> ASModel:
    """The remote object ``uri``: from ``fed.object_store`` when fresh, else fetched.

    The rules are this module's.  Without an object store, every lookup goes through
    ``fed.resolver`` (and its cache).
    """
    await refuse_blocked(fed, uri)
    store = fed.object_store
    stale: StoredObject | None = None
    if store is not None and not refresh:
        stored = await store.read(uri)
        if stored is not None:
            if stored.age() < fed.refresh_after:
                return stored.model()
            stale = stored
    try:
        document = await fed.resolver.fetch(uri, refresh=refresh)
        model = parse(document)
        if "Tombstone" in type_names(model):
            raise ResourceGoneError(f"{uri} is a Tombstone: deleted at its origin", status_code=410)
    except ResourceGoneError:
        if store is not None:
            await store.delete(uri)
        raise
    except FetchError as error:
        if stale is None or not is_transient(error):
            raise
        logger.info("serving the stored copy of %s: refetching it failed: %s", uri, error)
        return stale.model()
    if store is not None:
        await store.save(uri, document)
    return model


__all__ = [
    "DEFAULT_REFRESH_AFTER",
    "ObjectStore",
    "StoredObject",
    "TRANSIENT_STATUSES",
    "is_transient",
    "lookup_remote",
    "refuse_blocked",
]

"""Collection dispatchers: cursor pages, counts, and a one-shot listing for fan-out.

A dispatcher answers ``(ctx, cursor, **params) -> PageItems | None``; ``cursor`` is ``None``
for the first page and the ``next`` of the previous page afterwards.  A collection whose first
page has no ``next`` is served whole (``orderedItems`` inline); otherwise the collection
embeds its first page and links the next ones as ``?cursor=...``.

Cursors come from the query string, so from anyone: a dispatcher whose cursors are offsets
reads them with :func:`offset_cursor`, which refuses anything else with
:class:`~activitypub_kit.errors.InvalidCursorError` (served as ``400``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from activitypub_kit._deprecated import deprecated_names
from activitypub_kit.delivery._planning import Recipient
from activitypub_kit.errors import InvalidCursorError
from activitypub_kit.models import ASModel
from activitypub_kit.server._routes import UrlTemplate, check_parameters


@dataclass(slots=True)
class PageItems:
    """One page of a collection: items, the cursor of the next page, and the total count.

    What a collection dispatcher returns.  Formerly ``server.Page``, renamed because
    :class:`activitypub_kit.Page` is the ActivityStreams ``Page`` document type; the old
    name still works for one release (deprecated).
    """

    items: Sequence[Any]
    next: str | None = None
    #: The number of items of the whole collection (``totalItems``), when known.
    total: int | None = None


PageDispatcher = Callable[..., Awaitable[PageItems | None]]
Counter = Callable[..., Awaitable[int | None]]
Lister = Callable[..., AsyncIterator[Recipient | str | ASModel | dict[str, Any]]]


@dataclass(slots=True)
class CollectionRoute:
    """A registered collection: its template, page dispatcher and optional helpers."""

    name: str
    template: UrlTemplate
    dispatcher: PageDispatcher
    counter_fn: Counter | None = None
    lister: Lister | None = None
    ordered: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def counter(self, fn: Counter) -> Counter:
        """Register ``async (ctx, **params) -> int | None``, the collection's ``totalItems``."""
        self._check(fn, "counter")
        self.counter_fn = fn
        return fn

    def recipients(self, fn: Lister) -> Lister:
        """Register ``async def (ctx, **params)`` yielding every member at once (fan-out).

        Members are :class:`~activitypub_kit.delivery._planning.Recipient` values (best: no
        fetch needed), actor models or documents, or actor ids (fetched when sending).
        Without it, fan-out walks the pages of the dispatcher.
        """
        self._check(fn, "recipients")
        self.lister = fn
        return fn

    def _check(self, fn: Callable[..., Any], what: str) -> None:
        check_parameters(
            fn,
            leading=("ctx",),
            names=self.template.names,
            what=f"{what} of collection {self.name!r}",
            template=self.template.template,
        )


#: The largest offset :func:`offset_cursor` accepts unless told otherwise.
MAX_OFFSET = 1_000_000_000


def offset_cursor(cursor: str | None, *, maximum: int = MAX_OFFSET) -> int:
    """The offset an offset cursor stands for; ``None`` and ``""`` (the first page) are ``0``.

    Only a plain non-negative decimal integer (ASCII digits: no sign, space, underscore,
    exponent or fraction) of at most ``maximum`` is accepted; anything else raises
    :class:`~activitypub_kit.errors.InvalidCursorError`, which the server answers with
    ``400 {"error": ...}``::

        @fed.followers("/users/{handle}/followers")
        async def followers(ctx, cursor, handle):
            start = offset_cursor(cursor)
            ...
            return PageItems(items, next=str(start + 100) if more else None)
    """
    if not cursor:
        return 0
    if not (cursor.isascii() and cursor.isdigit()):
        shown = repr(cursor[:40]) + ("..." if len(cursor) > 40 else "")
        raise InvalidCursorError(
            f"cursor {shown} is not a non-negative decimal integer", cursor=cursor
        )
    digits = cursor.lstrip("0") or "0"
    if len(digits) > len(str(maximum)) or int(digits) > maximum:
        raise InvalidCursorError(f"cursor is over the largest offset, {maximum}", cursor=cursor)
    return int(digits)


def item_json(item: Any) -> Any:
    """An item as it appears in ``orderedItems``."""
    if isinstance(item, ASModel):
        return item.to_json(context=False)
    if isinstance(item, Recipient):
        return item.id
    return item


def page_url(collection_uri: str, cursor: str) -> str:
    """The URL of the page at ``cursor``."""
    return f"{collection_uri}?cursor={quote(cursor, safe='')}"


def render_collection(
    route: CollectionRoute, uri: str, first: PageItems, total: int | None
) -> dict[str, Any]:
    """The collection document whose first page is ``first``."""
    kind = "OrderedCollection" if route.ordered else "Collection"
    items_key = "orderedItems" if route.ordered else "items"
    document: dict[str, Any] = {"id": uri, "type": kind}
    if total is not None:
        document["totalItems"] = total
    items = [item_json(i) for i in first.items]
    if first.next is None:
        document[items_key] = items
        if total is None:
            document["totalItems"] = len(items)
        return document
    document["first"] = {
        "id": page_url(uri, ""),
        "type": f"{kind}Page",
        "partOf": uri,
        items_key: items,
        "next": page_url(uri, first.next),
    }
    return document


def render_page(route: CollectionRoute, uri: str, cursor: str, page: PageItems) -> dict[str, Any]:
    """The page document at ``cursor``."""
    kind = "OrderedCollectionPage" if route.ordered else "CollectionPage"
    document: dict[str, Any] = {
        "id": page_url(uri, cursor),
        "type": kind,
        "partOf": uri,
        ("orderedItems" if route.ordered else "items"): [item_json(i) for i in page.items],
    }
    if page.next is not None:
        document["next"] = page_url(uri, page.next)
    if page.total is not None:
        document["totalItems"] = page.total
    return document


__getattr__ = deprecated_names(
    __name__, {"Page": ("activitypub_kit.server._collections.PageItems", PageItems)}
)

__all__ = ["PageItems", "CollectionRoute", "MAX_OFFSET", "offset_cursor", "item_json", "page_url"]

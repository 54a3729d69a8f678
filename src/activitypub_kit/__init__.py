"""activitypub_kit: build federated software on ActivityPub.

The public surface is re-exported here; everything else is private.  Parts that need
optional extras or I/O live in their sub-packages: :mod:`activitypub_kit.signatures`,
:mod:`activitypub_kit.storage`, :mod:`activitypub_kit.delivery`.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from activitypub_kit import errors
from activitypub_kit._deprecated import install_moved_modules
from activitypub_kit.models import (
    PUBLIC_IRIS,
    Accept,
    Activity,
    Actor,
    Add,
    Announce,
    Application,
    Arrive,
    Article,
    ASModel,
    Audio,
    Block,
    ChatMessage,
    Collection,
    CollectionPage,
    Create,
    DataIntegrityProof,
    Delete,
    Dislike,
    Document,
    Emoji,
    EmojiReact,
    Endpoints,
    Event,
    Flag,
    Follow,
    Group,
    Hashtag,
    Ignore,
    Image,
    IntransitiveActivity,
    Invite,
    Join,
    Key,
    Leave,
    Like,
    Link,
    Listen,
    Mention,
    Move,
    Multikey,
    Note,
    Object,
    Offer,
    OrderedCollection,
    OrderedCollectionPage,
    Organization,
    Page,
    Person,
    Place,
    Profile,
    PropertyValue,
    Question,
    QuoteAuthorization,
    QuoteRequest,
    Read,
    Reject,
    Relationship,
    Remove,
    Service,
    Signature,
    Source,
    TentativeAccept,
    TentativeReject,
    Tombstone,
    Travel,
    Undo,
    Update,
    Video,
    View,
    as_list,
    best_text,
    emojis,
    format_datetime,
    hashtags,
    id_of,
    ids_of,
    is_public,
    lookup_language,
    mentions,
    model_for_type,
    parse,
    public_keys,
    recipients,
    type_names,
)

install_moved_modules()

if TYPE_CHECKING:
    from activitypub_kit.delivery._outbox import Outbox
    from activitypub_kit.http import HttpClient, HttpSettings, Resolver
    from activitypub_kit.server import Context, Federation, FederationMiddleware, KeyPair
    from activitypub_kit.storage import MemoryQueue, MemoryStore, SqliteQueue, SqliteStore
    from activitypub_kit.webfinger import WebFingerClient

# The I/O parts are imported on first use, so that ``import activitypub_kit`` stays cheap
# and needs no event loop (models only): ``activitypub_kit.Federation`` still works.
_LAZY = {
    "Federation": "activitypub_kit.server",
    "Context": "activitypub_kit.server",
    "KeyPair": "activitypub_kit.server",
    "FederationMiddleware": "activitypub_kit.server",
    "HttpClient": "activitypub_kit.http",
    "HttpSettings": "activitypub_kit.http",
    "Resolver": "activitypub_kit.http",
    "WebFingerClient": "activitypub_kit.webfinger",
    "Outbox": "activitypub_kit.delivery._outbox",
    "MemoryStore": "activitypub_kit.storage",
    "MemoryQueue": "activitypub_kit.storage",
    "SqliteStore": "activitypub_kit.storage",
    "SqliteQueue": "activitypub_kit.storage",
}


def __getattr__(name: str) -> Any:
    """Import the server, HTTP, delivery and storage names only when first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)


try:
    __version__ = version("activitypub-kit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "__version__",
    "errors",
    # the I/O parts (imported lazily)
    "Federation",
    "Context",
    "KeyPair",
    "FederationMiddleware",
    "HttpClient",
    "HttpSettings",
    "Resolver",
    "WebFingerClient",
    "Outbox",
    "MemoryStore",
    "MemoryQueue",
    "SqliteStore",
    "SqliteQueue",
    # models
    "parse",
    "model_for_type",
    "format_datetime",
    "ASModel",
    "Object",
    "Link",
    "Activity",
    "IntransitiveActivity",
    "Actor",
    "Collection",
    "OrderedCollection",
    "CollectionPage",
    "OrderedCollectionPage",
    "Accept",
    "TentativeAccept",
    "Add",
    "Announce",
    "Arrive",
    "Create",
    "Delete",
    "Dislike",
    "Flag",
    "Follow",
    "Ignore",
    "Join",
    "Leave",
    "Like",
    "Listen",
    "Move",
    "Offer",
    "Read",
    "Reject",
    "TentativeReject",
    "Remove",
    "Travel",
    "Undo",
    "Update",
    "View",
    "Block",
    "Invite",
    "Question",
    "Application",
    "Group",
    "Organization",
    "Person",
    "Service",
    "Article",
    "Note",
    "Event",
    "Document",
    "Image",
    "Audio",
    "Video",
    "Page",
    "Place",
    "Profile",
    "Relationship",
    "Tombstone",
    "Mention",
    "Hashtag",
    "Key",
    "Multikey",
    "DataIntegrityProof",
    "Signature",
    "Endpoints",
    "Source",
    "Emoji",
    "PropertyValue",
    "ChatMessage",
    "EmojiReact",
    "QuoteRequest",
    "QuoteAuthorization",
    "PUBLIC_IRIS",
    "as_list",
    "id_of",
    "ids_of",
    "type_names",
    "lookup_language",
    "best_text",
    "recipients",
    "is_public",
    "public_keys",
    "mentions",
    "hashtags",
    "emojis",
]

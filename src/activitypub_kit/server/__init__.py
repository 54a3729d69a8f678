"""The server part: a :class:`Federation` object serving ActivityPub over ASGI.

>>> from activitypub_kit.server import Federation
>>> fed = Federation("https://blog.example")

Register an actor dispatcher, key pairs, object and collection dispatchers and inbox
handlers on it; serve ``fed.asgi()``; run ``fed.running()`` (a queue worker) for inbox
handlers and deliveries.  See ``docs/federation.md``.
"""

from activitypub_kit._deprecated import deprecated_names
from activitypub_kit.server._asgi import FederationApp, FederationMiddleware, wants_activitypub
from activitypub_kit.server._authenticate import Authenticated, Authenticator
from activitypub_kit.server._collections import CollectionRoute, PageItems, offset_cursor
from activitypub_kit.server._context import Context
from activitypub_kit.server._documents import Authorize, Signer
from activitypub_kit.server._federation import INSTANCE, Federation
from activitypub_kit.server._forwarding import Forwarded, should_forward
from activitypub_kit.server._inbox import Inbox, InboxAnswer
from activitypub_kit.server._keys import KeyPair
from activitypub_kit.server._moderation import BlockHook, Moderation
from activitypub_kit.server._moving import confirmed_target, send_move, verify_move
from activitypub_kit.server._objects import ObjectStore, StoredObject
from activitypub_kit.server._parsing import DocumentLimits, decode_activity
from activitypub_kit.server._routes import ParsedUri, UrlTemplate

__all__ = [
    "Federation",
    "Context",
    "Signer",
    "Authorize",
    "PageItems",
    "CollectionRoute",
    "offset_cursor",
    "KeyPair",
    "Moderation",
    "BlockHook",
    "send_move",
    "verify_move",
    "confirmed_target",
    "ObjectStore",
    "StoredObject",
    "Forwarded",
    "should_forward",
    "Authenticated",
    "FederationApp",
    "FederationMiddleware",
    "ParsedUri",
    "DocumentLimits",
    "INSTANCE",
    "wants_activitypub",
]

#: Internals that were exported before modules became private: readable one more release.
_INTERNAL = "internal, not part of the public API"
__getattr__ = deprecated_names(
    __name__,
    {
        "Page": ("activitypub_kit.server.PageItems", PageItems),
        "Inbox": (f"fed.inbox ({_INTERNAL})", Inbox),
        "InboxAnswer": (f"nothing ({_INTERNAL})", InboxAnswer),
        "Authenticator": (f"Federation's settings ({_INTERNAL})", Authenticator),
        "UrlTemplate": (f"ctx.parse_uri / Federation.uri ({_INTERNAL})", UrlTemplate),
        "decode_activity": (f"activitypub_kit.models.parse ({_INTERNAL})", decode_activity),
    },
)
del Inbox, InboxAnswer, Authenticator, UrlTemplate, decode_activity

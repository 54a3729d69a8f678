"""The server part: a :class:`Federation` object serving ActivityPub over ASGI.

>>> from activitypub_kit.server import Federation
>>> fed = Federation("https://blog.example")

Register an actor dispatcher, key pairs, object and collection dispatchers and inbox
handlers on it; serve ``fed.asgi()``; run ``fed.running()`` (a queue worker) for inbox
handlers and deliveries.  See ``docs/federation.md``.
"""

from activitypub_kit._deprecated import deprecated_names
from activitypub_kit.server.asgi import FederationApp, FederationMiddleware, wants_activitypub
from activitypub_kit.server.authenticate import Authenticated, Authenticator
from activitypub_kit.server.collections import CollectionRoute, PageItems, offset_cursor
from activitypub_kit.server.context import Context
from activitypub_kit.server.documents import Authorize, Signer
from activitypub_kit.server.federation import INSTANCE, Federation
from activitypub_kit.server.forwarding import Forwarded, should_forward
from activitypub_kit.server.inbox import Inbox, InboxAnswer
from activitypub_kit.server.keys import KeyPair
from activitypub_kit.server.moderation import BlockHook, Moderation
from activitypub_kit.server.moving import confirmed_target, send_move, verify_move
from activitypub_kit.server.objects import ObjectStore, StoredObject
from activitypub_kit.server.parsing import decode_activity
from activitypub_kit.server.routes import ParsedUri, UrlTemplate

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
    "Inbox",
    "InboxAnswer",
    "Forwarded",
    "should_forward",
    "Authenticated",
    "Authenticator",
    "FederationApp",
    "FederationMiddleware",
    "UrlTemplate",
    "ParsedUri",
    "INSTANCE",
    "decode_activity",
    "wants_activitypub",
]

__getattr__ = deprecated_names(__name__, {"Page": ("activitypub_kit.server.PageItems", PageItems)})

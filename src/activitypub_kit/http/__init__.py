"""The one outbound HTTP layer: SSRF guard, limits, ActivityPub fetch, resolution, cache.

Everything in activitypub_kit that talks to the network goes through :class:`HttpClient`,
so each rule exists exactly once (see ``docs/security.md`` for the full list).
"""

from activitypub_kit._deprecated import deprecated_names
from activitypub_kit.http._activitypub import (
    ACCEPT,
    ACTIVITY_JSON,
    FetchedDocument,
    fetch_activitypub,
    is_activitypub_content_type,
)
from activitypub_kit.http._addresses import AddressPolicy, refusal_reason
from activitypub_kit.http._budget import FetchBudget, current_budget, fetch_budget
from activitypub_kit.http._cache import FetchCache
from activitypub_kit.http._client import HttpClient
from activitypub_kit.http._dns import DnsResolver, StaticResolver, SystemResolver
from activitypub_kit.http._keys import KeyResolver, VerifiedKey
from activitypub_kit.http._resolver import Resolver, strip_foreign_embeds
from activitypub_kit.http._settings import HttpSettings
from activitypub_kit.http._urls import origin, origin_of, same_origin

__getattr__ = deprecated_names(
    __name__, {"PublicKey": ("activitypub_kit.http.VerifiedKey", VerifiedKey)}
)

__all__ = [
    "ACCEPT",
    "ACTIVITY_JSON",
    "AddressPolicy",
    "DnsResolver",
    "FetchBudget",
    "FetchCache",
    "FetchedDocument",
    "HttpClient",
    "HttpSettings",
    "KeyResolver",
    "Resolver",
    "StaticResolver",
    "SystemResolver",
    "VerifiedKey",
    "current_budget",
    "fetch_activitypub",
    "fetch_budget",
    "is_activitypub_content_type",
    "origin",
    "origin_of",
    "refusal_reason",
    "same_origin",
    "strip_foreign_embeds",
]

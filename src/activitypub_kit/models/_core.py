"""ActivityStreams 2.0 Core types and the Actor base, with ActivityPub and extension properties.

Object, Link, Activity, IntransitiveActivity, Actor (base of the actor types) and the
collections.

Every property may be absent (reads as ``None``) or ``null``; references (``Refs``) are an
IRI string, a :class:`Link`, an embedded :class:`Object`, or a list of those, exactly as sent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from activitypub_kit.models._base import ASModel
from activitypub_kit.models._fields import (
    AnyValue,
    CollectionRefs,
    Context,
    DateTime,
    EndpointsValue,
    ExtBool,
    ExtCollectionRefs,
    ExtRefs,
    ExtStrs,
    ImageRefs,
    Int,
    KeyRefs,
    LangMap,
    MultikeyRefs,
    Number,
    ProofRefs,
    Refs,
    SignatureValue,
    SourceValue,
    Str,
    Strs,
    Text,
    TypeValue,
)

if TYPE_CHECKING:
    from activitypub_kit.models._extensions import Key


def _to_datetime(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Object(ASModel):
    """``as:Object``: the base of every ActivityStreams object (not of :class:`Link`).

    Declares every Object property of the vocabulary, the ActivityPub ``likes``, ``shares``
    and ``source``, and the extensions real servers put on posts: ``sensitive``, quote
    references (``quoteUrl``, ``_misskey_quote``, Fedibird ``quoteUri``, FEP-044f ``quote``),
    ``proof`` (FEP-8b32 / Data Integrity) and ``signature`` (Linked Data Signatures).
    """

    type_names: ClassVar[tuple[str, ...]] = ("Object",)
    as_vocabulary: ClassVar[bool] = True

    jsonld_context: Context = Field(None, alias="@context")
    id: Str = None
    type: TypeValue = None
    attachment: Refs = None
    attributed_to: Refs = Field(None, alias="attributedTo")
    audience: Refs = None
    bcc: Refs = None
    bto: Refs = None
    cc: Refs = None
    content: Text = None
    content_map: LangMap = Field(None, alias="contentMap")
    context: Refs = None
    duration: Str = None
    end_time: DateTime = Field(None, alias="endTime")
    generator: Refs = None
    icon: ImageRefs = None
    image: ImageRefs = None
    in_reply_to: Refs = Field(None, alias="inReplyTo")
    location: Refs = None
    media_type: Str = Field(None, alias="mediaType")
    name: Text = None
    name_map: LangMap = Field(None, alias="nameMap")
    preview: Refs = None
    published: DateTime = None
    replies: CollectionRefs = None
    start_time: DateTime = Field(None, alias="startTime")
    summary: Text = None
    summary_map: LangMap = Field(None, alias="summaryMap")
    tag: Refs = None
    to: Refs = None
    updated: DateTime = None
    url: Refs = None
    # ActivityPub
    likes: CollectionRefs = None
    shares: CollectionRefs = None
    source: SourceValue = None
    # extensions
    sensitive: ExtBool = None
    quote_url: ExtRefs = Field(None, alias="quoteUrl")
    misskey_quote: ExtRefs = Field(None, alias="_misskey_quote")
    quote_uri: ExtRefs = Field(None, alias="quoteUri")
    quote: ExtRefs = None
    quote_authorization: ExtRefs = Field(None, alias="quoteAuthorization")
    language: AnyValue = None
    proof: ProofRefs = None
    signature: SignatureValue = None

    @property
    def published_at(self) -> datetime | None:
        """``published`` as an aware datetime (a value without zone is taken as UTC)."""
        return _to_datetime(self.published)

    @property
    def updated_at(self) -> datetime | None:
        """``updated`` as an aware datetime (a value without zone is taken as UTC)."""
        return _to_datetime(self.updated)

    @property
    def quote_target(self) -> str | None:
        """The IRI this post quotes, whichever convention carries it.

        FEP-044f ``quote`` first, then ``quoteUrl``, ``_misskey_quote``, ``quoteUri``.
        """
        from activitypub_kit.models._helpers import id_of

        for value in (self.quote, self.quote_url, self.misskey_quote, self.quote_uri):
            found = id_of(value)
            if found:
                return found
        return None

    def best_content(self, lang: str | None = None) -> str | None:
        """The content for ``lang`` (see :func:`~activitypub_kit.models._helpers.best_text`)."""
        from activitypub_kit.models._helpers import best_text

        return best_text(self.content, self.content_map, lang)

    def best_name(self, lang: str | None = None) -> str | None:
        """The name for ``lang`` (see :func:`~activitypub_kit.models._helpers.best_text`)."""
        from activitypub_kit.models._helpers import best_text

        return best_text(self.name, self.name_map, lang)

    def best_summary(self, lang: str | None = None) -> str | None:
        """The summary for ``lang`` (see :func:`~activitypub_kit.models._helpers.best_text`)."""
        from activitypub_kit.models._helpers import best_text

        return best_text(self.summary, self.summary_map, lang)


class Link(ASModel):
    """``as:Link``: a reference with ``href``, ``rel``, ``mediaType``, ``hreflang``, size."""

    type_names: ClassVar[tuple[str, ...]] = ("Link",)
    as_vocabulary: ClassVar[bool] = True

    jsonld_context: Context = Field(None, alias="@context")
    id: Str = None
    type: TypeValue = None
    href: Str = None
    rel: Strs = None
    media_type: Str = Field(None, alias="mediaType")
    name: Text = None
    name_map: LangMap = Field(None, alias="nameMap")
    hreflang: Str = None
    height: Number = None
    width: Number = None
    preview: Refs = None
    attributed_to: Refs = Field(None, alias="attributedTo")


class Activity(Object):
    """``as:Activity``: ``actor`` did something to ``object``, with ``target``, ``result``..."""

    type_names: ClassVar[tuple[str, ...]] = ("Activity",)

    actor: Refs = None
    object: Refs = None
    target: Refs = None
    result: Refs = None
    origin: Refs = None
    instrument: Refs = None


class IntransitiveActivity(Activity):
    """``as:IntransitiveActivity``: an activity with no ``object``."""

    type_names: ClassVar[tuple[str, ...]] = ("IntransitiveActivity",)


class Actor(Object):
    """Base of the actor types (not a type of its own in the vocabulary).

    ActivityPub: ``inbox``, ``outbox``, ``following``, ``followers``, ``liked``, ``streams``,
    ``preferredUsername``, ``endpoints``.  Security: ``publicKey`` (one or several),
    ``assertionMethod`` (FEP-521a Multikeys).  Mastodon: ``manuallyApprovesFollowers``,
    ``discoverable``, ``indexable``, ``memorial``, ``suspended``, ``featured``,
    ``featuredTags``, ``alsoKnownAs``, ``movedTo``, ``attributionDomains``.  Lemmy:
    ``moderators``, ``postingRestrictedToMods``.  Also the class unknown actor-like types
    (with both ``inbox`` and ``outbox``) parse to.
    """

    inbox: Refs = None
    outbox: Refs = None
    following: CollectionRefs = None
    followers: CollectionRefs = None
    liked: CollectionRefs = None
    streams: Refs = None
    preferred_username: Str = Field(None, alias="preferredUsername")
    preferred_username_map: LangMap = Field(None, alias="preferredUsernameMap")
    endpoints: EndpointsValue = None
    public_key: KeyRefs = Field(None, alias="publicKey")
    assertion_method: MultikeyRefs = Field(None, alias="assertionMethod")
    manually_approves_followers: ExtBool = Field(None, alias="manuallyApprovesFollowers")
    discoverable: ExtBool = None
    indexable: ExtBool = None
    memorial: ExtBool = None
    suspended: ExtBool = None
    featured: ExtCollectionRefs = None
    featured_tags: ExtCollectionRefs = Field(None, alias="featuredTags")
    also_known_as: ExtRefs = Field(None, alias="alsoKnownAs")
    moved_to: ExtRefs = Field(None, alias="movedTo")
    attribution_domains: ExtStrs = Field(None, alias="attributionDomains")
    moderators: ExtCollectionRefs = None
    posting_restricted_to_mods: ExtBool = Field(None, alias="postingRestrictedToMods")

    @property
    def inbox_url(self) -> str | None:
        """The inbox URL when it is an absolute http(s) URL, else ``None``."""
        from activitypub_kit.models._helpers import http_url, id_of

        return http_url(id_of(self.inbox))

    @property
    def shared_inbox_url(self) -> str | None:
        """``endpoints.sharedInbox`` when it is an absolute http(s) URL, else ``None``."""
        from activitypub_kit.models._helpers import http_url

        endpoints = self.endpoints
        if endpoints is None or isinstance(endpoints, str):
            return None
        return http_url(endpoints.shared_inbox)

    @property
    def public_keys(self) -> list[Key]:
        """The embedded public keys (``publicKey`` may hold one or a list; IRIs are skipped)."""
        from activitypub_kit.models._helpers import public_keys

        return public_keys(self)


class Collection(Object):
    """``as:Collection``: ``totalItems``, ``items`` (or ``orderedItems``), pages."""

    type_names: ClassVar[tuple[str, ...]] = ("Collection",)

    total_items: Int = Field(None, alias="totalItems")
    current: Refs = None
    first: Refs = None
    last: Refs = None
    items: Refs = None
    ordered_items: Refs = Field(None, alias="orderedItems")


class OrderedCollection(Collection):
    """``as:OrderedCollection``: a collection whose ``orderedItems`` are in order."""

    type_names: ClassVar[tuple[str, ...]] = ("OrderedCollection",)


class CollectionPage(Collection):
    """``as:CollectionPage``: one page, with ``partOf``, ``next`` and ``prev``."""

    type_names: ClassVar[tuple[str, ...]] = ("CollectionPage",)

    part_of: Refs = Field(None, alias="partOf")
    next: Refs = None
    prev: Refs = None


class OrderedCollectionPage(OrderedCollection, CollectionPage):
    """``as:OrderedCollectionPage``: an ordered page, with ``startIndex``."""

    type_names: ClassVar[tuple[str, ...]] = ("OrderedCollectionPage",)

    start_index: Int = Field(None, alias="startIndex")


__all__ = [
    "Object",
    "Link",
    "Activity",
    "IntransitiveActivity",
    "Actor",
    "Collection",
    "OrderedCollection",
    "CollectionPage",
    "OrderedCollectionPage",
]

"""Offline JSON-LD: bundled contexts, a loader that never fetches, and the AS fast path.

pyld is only used on the slow paths (documents that redefine ActivityStreams terms, Linked
Data Signatures); ordinary documents never reach it.  Every context URL pyld asks for is
answered from the files bundled in ``models/contexts/``.  An unknown remote context raises
:class:`~activitypub_kit.errors.JsonLdError`: activitypub_kit never goes to the network for it.

:func:`context_redefines_as` decides, cheaply, whether a document's ``@context`` changes what
an ActivityStreams term means (an inline ``"actor": "as:summary"``, a ``@vocab`` change, a
bundled context such as schema.org that maps ``name`` elsewhere).  Such a document is
:func:`normalise`-d by compaction before any of it is trusted.  A context URL that is not
bundled (Pleroma's per-instance ``litepub-0.1.jsonld``, say) is assumed not to redefine
ActivityStreams terms: the document is read as plain JSON, as Mastodon reads it; only a
document that must be compacted refuses an unknown context.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib.resources import files
from typing import Any

from activitypub_kit._cache import BoundedCache
from activitypub_kit.errors import JsonLdError

#: The ActivityStreams 2.0 context URL.
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
#: The W3ID security vocabulary v1 context URL (``publicKey``, ``RsaSignature2017``).
SECURITY_V1_CONTEXT = "https://w3id.org/security/v1"
#: The data-integrity v1 context URL (``DataIntegrityProof``).
DATA_INTEGRITY_V1_CONTEXT = "https://w3id.org/security/data-integrity/v1"
#: The Multikey v1 context URL (FEP-521a).
MULTIKEY_V1_CONTEXT = "https://w3id.org/security/multikey/v1"

# URLs that name the same document as a bundled one.
_ALIASES = {
    "http://www.w3.org/ns/activitystreams": AS_CONTEXT,
    "https://www.w3.org/ns/activitystreams.jsonld": AS_CONTEXT,
    "http://w3id.org/security/v1": SECURITY_V1_CONTEXT,
    "https://w3id.org/security/v1/": SECURITY_V1_CONTEXT,
    "https://joinmastodon.org/ns": "http://joinmastodon.org/ns",
    "https://schema.org/": "http://schema.org/",
    "https://schema.org": "http://schema.org/",
    "http://schema.org": "http://schema.org/",
}


@cache
def _index() -> dict[str, str]:
    raw = files("activitypub_kit.models").joinpath("contexts/index.json").read_text("utf-8")
    index: dict[str, str] = json.loads(raw)
    return index


def bundled_context_urls() -> frozenset[str]:
    """Every context URL (aliases included) that resolves without the network."""
    return frozenset(_index()) | frozenset(_ALIASES)


def canonical_context_url(url: str) -> str:
    """Map an alias of a bundled context URL to the URL it is bundled under."""
    url = url.split("#", 1)[0]
    return _ALIASES.get(url, url)


@cache
def load_context(url: str) -> dict[str, Any]:
    """Return the bundled context document for ``url``.

    :raises JsonLdError: when ``url`` is not a bundled context.
    """
    name = _index().get(canonical_context_url(url))
    if name is None:
        raise JsonLdError(f"remote JSON-LD context {url!r} is not bundled and is never fetched")
    raw = files("activitypub_kit.models").joinpath(f"contexts/{name}").read_text("utf-8")
    document: dict[str, Any] = json.loads(raw)
    return document


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pyld document loader answering from the bundled contexts only.

    Pass it as ``options={"documentLoader": document_loader}`` to any ``pyld.jsonld`` call.
    """
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": load_context(url),
    }


# --- does a context redefine ActivityStreams terms? ----------------------------------

#: The ActivityStreams namespace.
AS_NS = "https://www.w3.org/ns/activitystreams#"
#: ``@vocab`` values that leave ActivityStreams terms alone.
_HARMLESS_VOCAB = frozenset({"_:", AS_NS})


@cache
def _as_definitions() -> dict[str, Any]:
    context: dict[str, Any] = load_context(AS_CONTEXT)["@context"]
    return context


@cache
def as_terms() -> dict[str, str]:
    """Every term of the ActivityStreams context and the IRI (or keyword) it stands for."""
    context = _as_definitions()
    terms: dict[str, str] = {}
    for term, definition in context.items():
        if not term.startswith("@"):
            iri = _iri(definition, context)
            if iri is not None:
                terms[term] = iri
    return terms


def _expand(value: str, local: dict[str, Any], depth: int = 0) -> str:
    if value.startswith("@") or depth > 8:
        return value
    prefix, colon, rest = value.partition(":")
    if colon and not rest.startswith("//"):
        base = local.get(prefix)
        if base is None:
            base = _as_definitions().get(prefix)
        if isinstance(base, dict):
            base = base.get("@id")
        if isinstance(base, str) and base != value:
            return _expand(base, local, depth + 1) + rest
    return value


def _iri(definition: Any, local: dict[str, Any]) -> str | None:
    """The IRI a term definition maps to, or None when it is not a plain mapping."""
    if isinstance(definition, str):
        return _expand(definition, local)
    if (
        isinstance(definition, dict)
        and "@reverse" not in definition
        and "@context" not in definition
    ):
        iri = definition.get("@id")
        if isinstance(iri, str):
            return _expand(iri, local)
    return None


#: ActivityStreams terms whose redefinition is tolerated on the fast path: nothing in
#: activitypub_kit relies on them for identity, authority, addressing or routing, and
#: Mobilizon maps ``location``/``Place`` to schema.org in every document it sends.
TOLERATED_REDEFINITIONS = frozenset(
    {"location", "Place", "latitude", "longitude", "altitude", "accuracy", "radius", "units"}
)


_GUARDED: dict[str, str] = {}


def _guarded_terms() -> dict[str, str]:
    if not _GUARDED:
        _GUARDED.update(
            (t, iri) for t, iri in as_terms().items() if t not in TOLERATED_REDEFINITIONS
        )
    return _GUARDED


def _aliases_keyword_or_scopes(context: dict[str, Any]) -> bool:
    """Whether an inline context aliases a keyword or reshapes the graph below a term.

    ``"xid": "@id"`` makes ``xid`` an identity; ``{"by": {"@reverse": ...}}`` turns edges
    around; ``{"by": {"@context": {...}}}`` applies a redefining context below ``by``.
    ActivityStreams terms themselves are judged by :func:`_inline_redefines`.
    """
    for term, definition in context.items():
        kind = type(definition)
        if kind is str:
            if definition[:1] == "@" and term[:1] != "@" and term != "id" and term != "type":
                return True
        elif kind is dict:
            iri = definition.get("@id")
            if type(iri) is str and iri[:1] == "@" and term != "id" and term != "type":
                return True
            if "@reverse" in definition:
                return True
            if "@context" in definition and context_redefines_as(definition["@context"]):
                return True
    return False


def context_aliases_keyword(context: Any) -> bool:
    """True when an inline part of ``context`` aliases a keyword or scopes a redefinition.

    The weaker judgement (see :func:`context_redefines_as`) for the context of a
    ``signature`` or ``proof`` block: such a block's context (Fedify sends
    ``https://w3id.org/identity/v1``) applies to the block only, and nothing in the block
    is read as ActivityStreams, so redefined terms there are harmless; an alias of ``@id``
    or ``@reverse`` would still reshape the graph.
    Bundled contexts alias no keyword; unbundled URLs are not fetched.
    """
    items = context if type(context) is list else (context,)
    return any(type(item) is dict and _aliases_keyword_or_scopes(item) for item in items)


#: Verdicts on inline contexts already judged: a server sends the same inline context in
#: every document.  Keyed by the terms, and trusted only for a context equal to a private
#: copy of the one judged (so neither a look-alike nor a later mutation can borrow it).
_INLINE_VERDICTS: BoundedCache[tuple[str, ...], tuple[dict[str, Any], bool]] = BoundedCache(256)


def _inline_redefines(context: dict[str, Any]) -> bool:
    key = tuple(context)
    known = _INLINE_VERDICTS.get(key)
    if known is not None and known[0] == context:
        return known[1]
    verdict = _judge_inline(context)
    _INLINE_VERDICTS.set(key, (copy.deepcopy(context), verdict))
    return verdict


def _judge_inline(context: dict[str, Any]) -> bool:
    if "@vocab" in context and context["@vocab"] not in _HARMLESS_VOCAB:
        return True
    if "@import" in context or _aliases_keyword_or_scopes(context):
        return True
    terms = _GUARDED or _guarded_terms()
    return any(_iri(context[term], context) != terms[term] for term in terms.keys() & context)


def _protected(item: Any) -> bool:
    """Whether a context entry (inline or bundled) protects any term from redefinition."""
    if type(item) is str:
        canonical = canonical_context_url(item)
        return canonical in _index() and _protected_bundle(canonical)
    return "@protected" in json.dumps(item)


@cache
def _protected_bundle(url: str) -> bool:
    return "@protected" in json.dumps(load_context(url)["@context"])


_URL_VERDICTS: dict[str, bool] = {}


def _url_redefines(url: str) -> bool:
    verdict = _URL_VERDICTS.get(url)
    if verdict is None:
        canonical = canonical_context_url(url)
        if canonical == AS_CONTEXT:
            verdict = False
        elif canonical in _index():
            verdict = context_redefines_as(load_context(canonical)["@context"])
        else:
            return False  # not bundled: assumed harmless, and not cached (unbounded input)
        _URL_VERDICTS[url] = verdict
    return verdict


def context_redefines_as(context: Any) -> bool:
    """True when ``context`` changes the meaning of an ActivityStreams term.

    That is: a term of the ActivityStreams context mapped to another IRI (or to ``null``, a
    reverse property, a scoped context), any other term made an alias of a JSON-LD keyword
    (``"xid": "@id"``), a term with a scoped context that does one of these, a ``@vocab``
    other than the ActivityStreams one, an ``@import``, or a bundled context that does one
    of these.  Context URLs that are not
    bundled are assumed harmless (see the module docstring), and so are redefinitions of the
    geographic terms in :data:`TOLERATED_REDEFINITIONS`.
    """
    kind = type(context)
    if kind is str:
        return _URL_VERDICTS.get(context) or _url_redefines(context)
    if kind is list:
        # Contexts apply in order: the ActivityStreams context resets every AS term, so
        # what comes before its last occurrence cannot redefine one (Fedify puts
        # identity/v1 first).  Unless it is protected, which makes a processor refuse.
        start = 0
        for index, item in enumerate(context):
            if type(item) is str and canonical_context_url(item) == AS_CONTEXT:
                start = index + 1
        if start and not any(_protected(item) for item in context[:start]):
            context = context[start:]
        for item in context:
            if type(item) is str:
                if _URL_VERDICTS.get(item) or _url_redefines(item):
                    return True
            elif type(item) is dict and _inline_redefines(item):
                return True
        return False
    if kind is dict:
        return _inline_redefines(context)
    return False


# --- the extension terms we know, the canonical context, the default context --------------

#: Term definitions of the extensions activitypub_kit models (Mastodon, Misskey, Fedibird,
#: FEP-044f quotes, GoToSocial, Lemmy, Pleroma/LitePub, PeerTube), as those projects publish them.
EXTENSION_TERMS: dict[str, Any] = {
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "sensitive": "as:sensitive",
    "Hashtag": "as:Hashtag",
    "movedTo": {"@id": "as:movedTo", "@type": "@id"},
    "quoteUrl": "as:quoteUrl",
    "toot": "http://joinmastodon.org/ns#",
    "Emoji": "toot:Emoji",
    "featured": {"@id": "toot:featured", "@type": "@id"},
    "featuredTags": {"@id": "toot:featuredTags", "@type": "@id"},
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    "memorial": "toot:memorial",
    "suspended": "toot:suspended",
    "votersCount": "toot:votersCount",
    "blurhash": "toot:blurhash",
    "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
    "attributionDomains": {"@id": "toot:attributionDomains", "@type": "@id"},
    "schema": "http://schema.org#",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
    "misskey": "https://misskey-hub.net/ns#",
    "_misskey_quote": "misskey:_misskey_quote",
    "fedibird": "http://fedibird.com/ns#",
    "quoteUri": "fedibird:quoteUri",
    "quote": {"@id": "https://w3id.org/fep/044f#quote", "@type": "@id"},
    "quoteAuthorization": {"@id": "https://w3id.org/fep/044f#quoteAuthorization", "@type": "@id"},
    "QuoteRequest": "https://w3id.org/fep/044f#QuoteRequest",
    "QuoteAuthorization": "https://w3id.org/fep/044f#QuoteAuthorization",
    "gts": "https://gotosocial.org/ns#",
    "interactingObject": {"@id": "gts:interactingObject", "@type": "@id"},
    "interactionTarget": {"@id": "gts:interactionTarget", "@type": "@id"},
    "lemmy": "https://join-lemmy.org/ns#",
    "moderators": {"@id": "lemmy:moderators", "@type": "@id"},
    "postingRestrictedToMods": "lemmy:postingRestrictedToMods",
    "stickied": "lemmy:stickied",
    "litepub": "http://litepub.social/ns#",
    "ChatMessage": "litepub:ChatMessage",
    "EmojiReact": "litepub:EmojiReact",
    "pt": "https://joinpeertube.org/ns#",
    "commentsEnabled": "pt:commentsEnabled",
}
_PREFIXES = frozenset(
    k for k, v in EXTENSION_TERMS.items() if isinstance(v, str) and v.endswith(("#", "/"))
)

#: Terms that pull in a standard context when an object built in Python uses them.
_CONTEXT_FOR_TERM = {
    **dict.fromkeys(
        ("publicKey", "publicKeyPem", "owner", "signature", "signatureValue", "creator"),
        SECURITY_V1_CONTEXT,
    ),
    **dict.fromkeys(
        ("proof", "DataIntegrityProof", "cryptosuite", "proofValue", "proofPurpose"),
        DATA_INTEGRITY_V1_CONTEXT,
    ),
    **dict.fromkeys(("assertionMethod",), "https://www.w3.org/ns/did/v1"),
    **dict.fromkeys(("Multikey", "publicKeyMultibase"), MULTIKEY_V1_CONTEXT),
}
_CONTEXT_ORDER = (
    SECURITY_V1_CONTEXT,
    DATA_INTEGRITY_V1_CONTEXT,
    "https://www.w3.org/ns/did/v1",
    MULTIKEY_V1_CONTEXT,
)

#: What :func:`normalise` compacts against: ActivityStreams, security v1 and every extension term.
CANONICAL_CONTEXT: list[Any] = [AS_CONTEXT, SECURITY_V1_CONTEXT, EXTENSION_TERMS]


def _names_used(value: Any, names: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            names.add(key)
            if key == "type":
                names.update(
                    t for t in (item if isinstance(item, list) else [item]) if isinstance(t, str)
                )
            elif key != "@context":
                _names_used(item, names)
    elif isinstance(value, list):
        for item in value:
            _names_used(item, names)


def default_context(document: dict[str, Any]) -> str | list[Any]:
    """The ``@context`` for a document built in Python: what its terms need, nothing more.

    Always ActivityStreams; then security v1 / data-integrity v1 / DID v1 / Multikey v1 when
    one of their terms is used; then one object defining the extension terms used (with
    their prefixes).  A document that needs only ActivityStreams gets the bare URL string.
    """
    names: set[str] = set()
    _names_used(document, names)
    standard = {_CONTEXT_FOR_TERM[name] for name in names & _CONTEXT_FOR_TERM.keys()}
    extension: dict[str, Any] = {}
    for name in sorted(names & EXTENSION_TERMS.keys()):
        definition = EXTENSION_TERMS[name]
        iri = definition if isinstance(definition, str) else definition.get("@id", "")
        prefix = iri.partition(":")[0]
        if prefix in _PREFIXES:
            extension[prefix] = EXTENSION_TERMS[prefix]
        extension[name] = definition
    context: list[Any] = [AS_CONTEXT, *(url for url in _CONTEXT_ORDER if url in standard)]
    if extension:
        context.append(extension)
    return context if len(context) > 1 else AS_CONTEXT


def normalise(document: dict[str, Any]) -> dict[str, Any]:
    """Compact ``document`` against :data:`CANONICAL_CONTEXT` with the offline loader.

    Used for documents whose ``@context`` redefines ActivityStreams terms or that use JSON-LD
    keywords as properties: afterwards every key means what ActivityStreams (and the
    extensions) say it means.  A document without ``@context`` is read with the
    ActivityStreams context, as on the fast path.

    :raises JsonLdError: when the document cannot be processed offline (an unknown remote
        context, invalid JSON-LD).
    """
    from pyld import jsonld as pyld

    if "@context" not in document:
        document = {"@context": AS_CONTEXT, **document}
    try:
        compacted: dict[str, Any] = pyld.compact(
            document, CANONICAL_CONTEXT, {"documentLoader": document_loader}
        )
    except Exception as exc:  # pyld raises its own error type, wrapping ours
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, JsonLdError):
                raise JsonLdError(f"cannot normalise the redefining @context: {cause}") from None
            cause = getattr(cause, "cause", None) or cause.__cause__
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise JsonLdError(f"cannot normalise the redefining @context: {message}") from None
    return compacted


__all__ = [
    "AS_CONTEXT",
    "SECURITY_V1_CONTEXT",
    "DATA_INTEGRITY_V1_CONTEXT",
    "MULTIKEY_V1_CONTEXT",
    "bundled_context_urls",
    "canonical_context_url",
    "load_context",
    "document_loader",
    "AS_NS",
    "as_terms",
    "context_redefines_as",
    "context_aliases_keyword",
    "TOLERATED_REDEFINITIONS",
    "EXTENSION_TERMS",
    "CANONICAL_CONTEXT",
    "default_context",
    "normalise",
]

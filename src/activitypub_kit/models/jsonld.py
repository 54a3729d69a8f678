"""Offline JSON-LD: bundled well-known contexts and a document loader that never fetches.

pyld is only used on the slow paths (documents that redefine ActivityStreams terms, Linked
Data Signatures); ordinary documents never reach it.  Every context URL pyld asks for is
answered from the files bundled in ``models/contexts/``.  An unknown remote context raises
:class:`~activitypub_kit.errors.JsonLdError`: activitypub_kit never goes to the network for it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

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


__all__ = [
    "AS_CONTEXT",
    "SECURITY_V1_CONTEXT",
    "DATA_INTEGRITY_V1_CONTEXT",
    "MULTIKEY_V1_CONTEXT",
    "bundled_context_urls",
    "canonical_context_url",
    "load_context",
    "document_loader",
]

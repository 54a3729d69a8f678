"""Linked Data Signatures ``RsaSignature2017`` (Mastodon relays, legacy forwarding).

The signature covers the URDNA2015 canonical RDF of the document, not its JSON, so two
JSON documents with different meanings *as plain JSON* can share one signature when their
``@context`` redefines terms (the CVE-2022-24307 class).  :func:`verify_ld_signature`
therefore returns the document **compacted against our own context**: callers must use
that result, never the raw JSON they were given.  Every context comes from the bundled
offline loader; an unknown remote context is refused, never fetched.

Like the other schemes, verification is split: :func:`parse_ld_signature` names the
``creator`` key, the caller looks it up, :func:`verify_ld_signature` checks it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from pyld import jsonld

from activitypub_kit.errors import InvalidSignatureError, MalformedSignatureError, ProofError
from activitypub_kit.models.jsonld import AS_CONTEXT, SECURITY_V1_CONTEXT, document_loader
from activitypub_kit.signatures import algorithms
from activitypub_kit.signatures.encoding import b64decode, b64encode

IDENTITY_V1_CONTEXT = "https://w3id.org/identity/v1"
#: The context a verified document is compacted against.
TRUSTED_CONTEXT: list[Any] = [AS_CONTEXT, SECURITY_V1_CONTEXT]
_MAX_DEPTH = 64


def _depth(value: Any, level: int = 0) -> int:
    if level > _MAX_DEPTH:
        raise ProofError(f"JSON-LD document is nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def _options() -> dict[str, Any]:
    return {"documentLoader": document_loader}


def _canonical_hash(document: dict[str, Any]) -> str:
    _depth(document)
    try:
        nquads = jsonld.normalize(
            document,
            {"algorithm": "URDNA2015", "format": "application/n-quads", **_options()},
        )
    except jsonld.JsonLdError as exc:
        raise ProofError(f"JSON-LD canonicalisation failed: {_cause(exc)}") from None
    except RecursionError:
        raise ProofError("JSON-LD document is too deeply nested to canonicalise") from None
    return hashlib.sha256(nquads.encode("utf-8")).hexdigest()


def _cause(exc: BaseException) -> str:
    while exc.__cause__ is not None or getattr(exc, "cause", None) is not None:
        exc = exc.__cause__ or exc.cause  # type: ignore[attr-defined]
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _to_be_signed(document: dict[str, Any], options: dict[str, Any]) -> bytes:
    # As Mastodon does: every signature option except type/id/signatureValue is signed.
    options = {k: v for k, v in options.items() if k not in ("type", "id", "signatureValue")}
    options["@context"] = IDENTITY_V1_CONTEXT
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    return (_canonical_hash(options) + _canonical_hash(unsigned)).encode("ascii")


def sign_ld_signature(
    document: dict[str, Any],
    key: rsa.RSAPrivateKey,
    creator: str,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """Return ``document`` with an ``RsaSignature2017`` ``signature`` block.

    ``security/v1`` is added to ``@context`` when missing, as Mastodon does.
    """
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ProofError("RsaSignature2017 needs an RSA private key")
    context = document.get("@context", [])
    contexts = context if isinstance(context, list) else [context]
    if SECURITY_V1_CONTEXT not in contexts:
        document = {**document, "@context": [*contexts, SECURITY_V1_CONTEXT]}
    created = datetime.fromtimestamp(int(time.time() if now is None else now), UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    options = {"creator": creator, "created": created}
    value = algorithms.sign("rsa-sha256", key, _to_be_signed(document, options))
    signature = {
        "type": "RsaSignature2017",
        "creator": creator,
        "created": created,
        "signatureValue": b64encode(value),
    }
    return {**document, "signature": signature}


@dataclass(frozen=True, slots=True)
class LdSignature:
    """A parsed ``RsaSignature2017`` block."""

    creator: str
    created: str
    signature: bytes
    #: The whole signature block (its other options are signed too).
    options: dict[str, Any]


def parse_ld_signature(document: dict[str, Any]) -> LdSignature:
    """Parse the document's ``signature`` block (pure).

    :raises ProofError: when it is absent, of another type, or malformed.
    """
    block = document.get("signature")
    if not isinstance(block, dict):
        raise ProofError("document has no signature object")
    if block.get("type") != "RsaSignature2017":
        raise ProofError(f"signature type {block.get('type')!r} is not RsaSignature2017")
    creator, created, value = (
        block.get("creator"),
        block.get("created"),
        block.get("signatureValue"),
    )
    if not isinstance(creator, str) or not isinstance(created, str) or not isinstance(value, str):
        raise ProofError("signature needs string creator, created and signatureValue")
    try:
        raw = b64decode(value, what="signatureValue")
    except MalformedSignatureError as exc:
        raise ProofError(str(exc)) from None
    return LdSignature(creator, created, raw, dict(block))


def verify_ld_signature(
    document: dict[str, Any],
    signature: LdSignature,
    key: rsa.RSAPublicKey,
    *,
    context: list[Any] | None = None,
) -> dict[str, Any]:
    """Verify an ``RsaSignature2017`` and return the **compacted** document to trust.

    The result is the signed document (without ``signature``) compacted against
    ``context`` (default :data:`TRUSTED_CONTEXT`), so its terms mean what *our* context
    says, whatever the sender's ``@context`` redefined.

    :raises ProofError: when canonicalisation fails or a context is not bundled.
    :raises InvalidSignatureError: when the signature does not verify.
    """
    if not isinstance(key, rsa.RSAPublicKey):
        raise ProofError("RsaSignature2017 needs an RSA public key")
    data = _to_be_signed(document, signature.options)
    try:
        algorithms.verify("rsa-sha256", key, data, signature.signature, "RsaSignature2017")
    except InvalidSignatureError:
        raise InvalidSignatureError(
            f"RsaSignature2017 by {signature.creator!r} does not verify over the document"
        ) from None
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    return compact(unsigned, context)


def compact(document: dict[str, Any], context: list[Any] | None = None) -> dict[str, Any]:
    """Compact ``document`` against ``context`` (default: AS2 + security v1), offline.

    :raises ProofError: when a context is not bundled or the document is not JSON-LD.
    """
    _depth(document)
    ctx = TRUSTED_CONTEXT if context is None else context
    try:
        result: dict[str, Any] = jsonld.compact(document, {"@context": ctx}, _options())
    except jsonld.JsonLdError as exc:
        raise ProofError(f"JSON-LD compaction failed: {_cause(exc)}") from None
    except RecursionError:
        raise ProofError("JSON-LD document is too deeply nested to compact") from None
    result["@context"] = ctx if len(ctx) != 1 else ctx[0]
    return result


__all__ = [
    "IDENTITY_V1_CONTEXT",
    "TRUSTED_CONTEXT",
    "sign_ld_signature",
    "LdSignature",
    "parse_ld_signature",
    "verify_ld_signature",
    "compact",
]

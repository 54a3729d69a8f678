"""Linked Data Signatures ``RsaSignature2017`` (Mastodon relays, legacy forwarding).

The signature covers the URDNA2015 canonical RDF of the document, not its JSON, so two
JSON documents with different meanings *as plain JSON* can share one signature when their
``@context`` redefines terms (the CVE-2022-24307 class).  :func:`verify_ld_signature`
therefore returns the document **compacted against our own context**: callers must use
that result, never the raw JSON they were given.  Every context comes from the bundled
offline loader; an unknown remote context is refused, never fetched.

Like the other schemes, verification is split: :func:`parse_ld_signature` names the
``creator`` key, the caller looks it up, :func:`verify_ld_signature` checks it.

Canonicalisation can cost factorial time on small hostile documents, so every entry point
first runs the linear :func:`~activitypub_kit.signatures._ldwork.check_ld_shape`, and
canonicalises within a work budget (see :mod:`activitypub_kit.signatures._ldwork`).  For
untrusted input served from an event loop use :func:`verify_ld_signature_async`: it also
runs the JSON-LD work in a worker process under a hard time limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from activitypub_kit.errors import InvalidSignatureError, MalformedSignatureError, ProofError
from activitypub_kit.models._jsonld import SECURITY_V1_CONTEXT
from activitypub_kit.signatures import _algorithms as algorithms
from activitypub_kit.signatures._encoding import b64decode, b64encode
from activitypub_kit.signatures._ldwork import (
    IDENTITY_V1_CONTEXT,
    TRUSTED_CONTEXT,
    LdWorkerPool,
    check_ld_shape,
    compact_document,
    default_ld_worker_pool,
    to_be_signed,
)


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
    check_ld_shape(document, options)
    value = algorithms.sign("rsa-sha256", key, to_be_signed(document, options))
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


def _check_key(key: Any, signature: LdSignature) -> None:
    """Key type, then the signature's length against the key size (no JSON-LD work)."""
    if not isinstance(key, rsa.RSAPublicKey):
        raise ProofError("RsaSignature2017 needs an RSA public key")
    expected = (key.key_size + 7) // 8
    if len(signature.signature) != expected:
        raise InvalidSignatureError(
            f"RsaSignature2017 by {signature.creator!r} is {len(signature.signature)} bytes "
            f"long, not the {expected} bytes of an RSA-{key.key_size} signature"
        )


def _check_signature(key: rsa.RSAPublicKey, data: bytes, signature: LdSignature) -> None:
    try:
        algorithms.verify("rsa-sha256", key, data, signature.signature, "RsaSignature2017")
    except InvalidSignatureError:
        raise InvalidSignatureError(
            f"RsaSignature2017 by {signature.creator!r} does not verify over the document"
        ) from None


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

    The JSON-LD work runs in this thread, bounded by the structural pre-check and the work
    budget but by no time limit: on an event loop, prefer :func:`verify_ld_signature_async`.

    :raises LdWorkLimitError: when the document is refused as too costly to canonicalise.
    :raises ProofError: when canonicalisation fails or a context is not bundled.
    :raises InvalidSignatureError: when the signature does not verify.
    """
    _check_key(key, signature)
    check_ld_shape(document)
    _check_signature(key, to_be_signed(document, signature.options), signature)
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    return compact_document(unsigned, context)


async def verify_ld_signature_async(
    document: dict[str, Any],
    signature: LdSignature,
    key: rsa.RSAPublicKey,
    *,
    context: list[Any] | None = None,
    time_limit: float | None = None,
    pool: LdWorkerPool | None = None,
) -> dict[str, Any]:
    """:func:`verify_ld_signature` for untrusted input, without blocking the event loop.

    The key, the signature's length and the document's shape
    (:func:`~activitypub_kit.signatures._ldwork.check_ld_shape`) are checked here, cheaply;
    canonicalisation and compaction then run in a worker process of ``pool`` (default:
    :func:`~activitypub_kit.signatures._ldwork.default_ld_worker_pool`), which is killed
    when it takes longer than ``time_limit`` seconds (default: the pool's, 2 s); the RSA
    signature is checked here last.

    :raises LdWorkLimitError: when the document is refused as too costly to canonicalise.
    :raises ProofError: when canonicalisation fails or a context is not bundled.
    :raises InvalidSignatureError: when the signature does not verify.
    """
    _check_key(key, signature)
    check_ld_shape(document)
    request = {
        "op": "verify",
        "document": {k: v for k, v in document.items() if k != "signature"},
        "options": signature.options,
        "context": TRUSTED_CONTEXT if context is None else context,
    }
    result = await (pool or default_ld_worker_pool()).run_async(request, time_limit)
    _check_signature(key, result["data"].encode("ascii"), signature)
    compacted: dict[str, Any] = result["compacted"]
    return compacted


def compact(document: dict[str, Any], context: list[Any] | None = None) -> dict[str, Any]:
    """Compact ``document`` against ``context`` (default: AS2 + security v1), offline.

    :raises LdWorkLimitError: when the document breaks a structural limit.
    :raises ProofError: when a context is not bundled or the document is not JSON-LD.
    """
    check_ld_shape(document)
    return compact_document(document, context)


__all__ = [
    "IDENTITY_V1_CONTEXT",
    "TRUSTED_CONTEXT",
    "sign_ld_signature",
    "LdSignature",
    "parse_ld_signature",
    "verify_ld_signature",
    "verify_ld_signature_async",
    "check_ld_shape",
    "compact",
]

"""Object Integrity Proofs (FEP-8b32): ``DataIntegrityProof`` with ``eddsa-jcs-2022``.

Creating a proof hashes the JCS form of the proof options and of the document (without
``proof``), concatenates ``sha256(options) || sha256(document)`` and signs that with
Ed25519; ``proofValue`` is the signature in multibase base58btc.

Verification is two steps, like HTTP signatures::

    proof = parse_proof(document)                      # pure; names the key
    key = await lookup(proof.verification_method)      # your I/O
    verify_proof(document, proof, key)                 # pure; raises ProofError

:func:`verify_proof` does not look at the time: a proof on an object fetched from its
origin stays good for years.  Where a proof stands in for an HTTP signature (an activity
delivered to an inbox), also call :func:`check_proof_time`, or a captured activity can be
replayed forever.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from activitypub_kit._origin import origin_of
from activitypub_kit.errors import KeyFormatError, ProofError
from activitypub_kit.signatures._clock import DEFAULT_WINDOW, TimeWindow, check_created
from activitypub_kit.signatures._encoding import multibase_decode, multibase_encode
from activitypub_kit.signatures._jcs import canonicalize
from activitypub_kit.signatures._keys import PublicKey

CRYPTOSUITE = "eddsa-jcs-2022"
_AS_CONTEXTS = ("https://www.w3.org/ns/activitystreams", "http://www.w3.org/ns/activitystreams")
_DI_CONTEXTS = (
    "https://w3id.org/security/data-integrity/v1",
    "https://w3id.org/security/data-integrity/v2",
)


def _with_proof_context(document: dict[str, Any]) -> dict[str, Any]:
    """Add the data-integrity context to an ActivityStreams document that lacks it.

    Receivers that read the proof through JSON-LD (Fedify does) ignore a ``proof`` whose
    context does not define it; the ActivityStreams context does not.
    """
    context = document.get("@context")
    contexts = context if isinstance(context, list) else [context]
    if not any(c in _AS_CONTEXTS for c in contexts) or any(c in _DI_CONTEXTS for c in contexts):
        return document
    return {**document, "@context": [*contexts, _DI_CONTEXTS[0]]}


def _timestamp(moment: float) -> str:
    return datetime.fromtimestamp(int(moment), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hash_data(document: dict[str, Any], proof_options: dict[str, Any]) -> bytes:
    """``sha256(JCS(proof options)) || sha256(JCS(document without proof))``."""
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    options = {k: v for k, v in proof_options.items() if k != "proofValue"}
    return (
        hashlib.sha256(canonicalize(options)).digest()
        + hashlib.sha256(canonicalize(unsecured)).digest()
    )


def create_proof(
    document: dict[str, Any],
    key: ed25519.Ed25519PrivateKey,
    verification_method: str,
    *,
    proof_purpose: str = "assertionMethod",
    created: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """Return a copy of ``document`` with an ``eddsa-jcs-2022`` proof added.

    The proof copies the document's ``@context`` (as FEP-8b32 shows); an ActivityStreams
    document whose context defines no ``proof`` gets the data-integrity v1 context added
    first.  ``created`` defaults to ``now`` as an XML Schema dateTime in UTC.

    :raises ProofError: when the document already has a proof or is not JCS-serialisable.
    """
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ProofError("eddsa-jcs-2022 needs an Ed25519 private key")
    if "proof" in document:
        raise ProofError("document already has a proof; proof sets are not created here")
    document = _with_proof_context(document)
    options: dict[str, Any] = {}
    if "@context" in document:
        options["@context"] = document["@context"]
    options.update(
        type="DataIntegrityProof",
        cryptosuite=CRYPTOSUITE,
        verificationMethod=verification_method,
        proofPurpose=proof_purpose,
        created=created or _timestamp(time.time() if now is None else now),
    )
    signature = key.sign(hash_data(document, options))
    return {**document, "proof": {**options, "proofValue": multibase_encode(signature)}}


@dataclass(frozen=True, slots=True)
class DataIntegrityProof:
    """A parsed proof: what the caller needs to find the key."""

    verification_method: str
    proof_purpose: str
    created: str | None
    #: The proof object as found (including ``proofValue``).
    proof: dict[str, Any]
    signature: bytes


def parse_proof(document: dict[str, Any]) -> DataIntegrityProof:
    """Parse the document's single ``eddsa-jcs-2022`` proof (pure).

    :raises ProofError: when there is no proof, several, or a malformed one.
    """
    proof = document.get("proof")
    if isinstance(proof, list):
        if len(proof) != 1:
            raise ProofError(f"document has {len(proof)} proofs; exactly one is supported")
        proof = proof[0]
    if not isinstance(proof, dict):
        raise ProofError("document has no proof object")
    if proof.get("type") != "DataIntegrityProof":
        raise ProofError(f"proof type {proof.get('type')!r} is not DataIntegrityProof")
    if proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(f"proof cryptosuite {proof.get('cryptosuite')!r} is not {CRYPTOSUITE}")
    method, purpose = proof.get("verificationMethod"), proof.get("proofPurpose")
    if not isinstance(method, str) or not method:
        raise ProofError("proof has no verificationMethod string")
    if not isinstance(purpose, str):
        raise ProofError("proof has no proofPurpose string")
    value = proof.get("proofValue")
    if not isinstance(value, str):
        raise ProofError("proof has no proofValue string")
    try:
        signature = multibase_decode(value, what="proofValue")
    except KeyFormatError as exc:
        raise ProofError(str(exc)) from None
    if len(signature) != 64:
        raise ProofError(f"proofValue decodes to {len(signature)} bytes, not 64")
    created = proof.get("created")
    if created is not None and not isinstance(created, str):
        raise ProofError("proof created is not a string")
    return DataIntegrityProof(method, purpose, created, proof, signature)


def verify_proof(
    document: dict[str, Any],
    proof: DataIntegrityProof,
    key: PublicKey,
    *,
    proof_purpose: str = "assertionMethod",
    check_origin: bool = True,
) -> dict[str, Any]:
    """Verify a parsed proof and return the document without it (pure).

    Checks the purpose, that a proof ``@context`` is a prefix of the document's, that the
    verification method has the same origin as the document ``id`` (FEP-8b32; skipped when
    either is not an http(s) URL or ``check_origin`` is off), then the signature.

    :raises ProofError: saying which check failed.
    """
    if proof.proof_purpose != proof_purpose:
        raise ProofError(f"proofPurpose is {proof.proof_purpose!r}, expected {proof_purpose!r}")
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ProofError("eddsa-jcs-2022 needs an Ed25519 verification key")
    if "@context" in proof.proof:
        proof_ctx = proof.proof["@context"]
        doc_ctx = document.get("@context")
        proof_list = proof_ctx if isinstance(proof_ctx, list) else [proof_ctx]
        doc_list = doc_ctx if isinstance(doc_ctx, list) else [doc_ctx]
        if doc_list[: len(proof_list)] != proof_list:
            raise ProofError("proof @context is not a prefix of the document @context")
    doc_id = document.get("id")
    if check_origin and isinstance(doc_id, str):
        doc_origin, key_origin = origin_of(doc_id), origin_of(proof.verification_method)
        if doc_origin and key_origin and doc_origin != key_origin:
            method = proof.verification_method
            raise ProofError(f"verificationMethod {method!r} is not on the origin of {doc_id!r}")
    try:
        key.verify(proof.signature, hash_data(document, proof.proof))
    except InvalidSignature:
        raise ProofError(
            f"proof by {proof.verification_method!r} does not verify over the document"
        ) from None
    return {k: v for k, v in document.items() if k != "proof"}


def check_proof_time(
    proof: DataIntegrityProof, *, now: float, window: TimeWindow = DEFAULT_WINDOW
) -> None:
    """Check that a proof is fresh at ``now`` (pure): for proofs that authenticate delivery.

    The proof's ``created`` is required and must fall inside ``window`` (by default at most
    an hour old and five minutes ahead); an optional ``expires`` replaces the age limit but
    gives at most ``window.max_lifetime`` (12 hours) after ``created``.  See
    :func:`~activitypub_kit.signatures._clock.check_created`.

    :raises ProofError: when ``created`` is missing or either time is not an XML Schema
        dateTime.
    :raises ClockSkewError: when the proof is too old, too far in the future, or expired.
    """
    expires = proof.proof.get("expires")
    check_created(proof.created, now=now, window=window, expires=expires, what="proof")


__all__ = [
    "CRYPTOSUITE",
    "hash_data",
    "create_proof",
    "DataIntegrityProof",
    "parse_proof",
    "verify_proof",
    "check_proof_time",
]

"""Signatures and keys: draft-cavage, RFC 9421, digests, object integrity proofs.

Everything here is pure (no I/O, no event loop).  Verification is split in two so that
the caller fetches the signer's key in between::

    parsed = parse_signature(request)          # draft-cavage or RFC 9421, pure
    key = await lookup(parsed.key_id)          # your I/O (cache, fetch the actor, ...)
    verify_signature(request, parsed, key)     # raises a SignatureError subclass

See ``docs/signatures.md`` for a tour.
"""

from __future__ import annotations

from activitypub_kit.signatures._actor_keys import (
    ActorKey,
    actor_keys,
    find_actor_key,
    key_from_document,
    multikey_entry,
    public_key_entry,
)
from activitypub_kit.signatures._adapters import (
    HttpxSigner,
    request_from_asgi,
    request_from_httpx,
)
from activitypub_kit.signatures._algorithms import RFC9421_ALGORITHMS, algorithm_for_key
from activitypub_kit.signatures._cavage import (
    CavagePolicy,
    CavageSignature,
    VerifiedCavage,
    parse_cavage,
    sign_cavage,
    verify_cavage,
)
from activitypub_kit.signatures._clock import (
    TimeWindow,
    check_created,
    http_date,
    parse_http_date,
)
from activitypub_kit.signatures._digest import (
    content_digest,
    legacy_digest,
    parse_want_digest,
    verify_content_digest,
    verify_legacy_digest,
)
from activitypub_kit.signatures._dispatch import (
    ParsedSignature,
    SignatureScheme,
    VerifiedSignature,
    detect_scheme,
    parse_signature,
    sign_request,
    verify_signature,
)
from activitypub_kit.signatures._jcs import canonicalize
from activitypub_kit.signatures._keys import (
    PrivateKey,
    PublicKey,
    generate_ed25519_key,
    generate_rsa_key,
    jwk_to_key,
    load_private_key_pem,
    load_public_key_pem,
    multibase_to_private_key,
    multibase_to_public_key,
    private_key_to_jwk,
    private_key_to_multibase,
    private_key_to_pem,
    public_key_to_jwk,
    public_key_to_multibase,
    public_key_to_pem,
)
from activitypub_kit.signatures._knock import DoubleKnock
from activitypub_kit.signatures._ldsig import (
    LdSignature,
    compact,
    parse_ld_signature,
    sign_ld_signature,
    verify_ld_signature,
    verify_ld_signature_async,
)
from activitypub_kit.signatures._ldwork import (
    LdWorkerPool,
    check_ld_shape,
    close_ld_workers,
    configure_ld_workers,
)
from activitypub_kit.signatures._message import Headers, HttpRequest, HttpResponse
from activitypub_kit.signatures._proofs import (
    DataIntegrityProof,
    check_proof_time,
    create_proof,
    parse_proof,
    verify_proof,
)
from activitypub_kit.signatures._rfc9421 import (
    MessageSignature,
    Rfc9421Policy,
    SignatureOptions,
    SignatureRequest,
    VerifiedMessageSignature,
    accept_signature,
    parse_accept_signature,
    parse_rfc9421,
    sign_rfc9421,
    verify_rfc9421,
)

__all__ = [
    # both schemes
    "SignatureScheme",
    "ParsedSignature",
    "VerifiedSignature",
    "detect_scheme",
    "parse_signature",
    "verify_signature",
    "sign_request",
    "DoubleKnock",
    # adapters
    "HttpxSigner",
    "request_from_asgi",
    "request_from_httpx",
    # messages
    "Headers",
    "HttpRequest",
    "HttpResponse",
    # keys
    "PrivateKey",
    "PublicKey",
    "generate_rsa_key",
    "generate_ed25519_key",
    "load_public_key_pem",
    "load_private_key_pem",
    "public_key_to_pem",
    "private_key_to_pem",
    "public_key_to_jwk",
    "private_key_to_jwk",
    "jwk_to_key",
    "public_key_to_multibase",
    "multibase_to_public_key",
    "private_key_to_multibase",
    "multibase_to_private_key",
    "ActorKey",
    "actor_keys",
    "find_actor_key",
    "key_from_document",
    "public_key_entry",
    "multikey_entry",
    # digests and time
    "content_digest",
    "verify_content_digest",
    "legacy_digest",
    "verify_legacy_digest",
    "parse_want_digest",
    "TimeWindow",
    "check_created",
    "http_date",
    "parse_http_date",
    # draft-cavage
    "CavageSignature",
    "CavagePolicy",
    "VerifiedCavage",
    "parse_cavage",
    "verify_cavage",
    "sign_cavage",
    # RFC 9421
    "RFC9421_ALGORITHMS",
    "algorithm_for_key",
    "MessageSignature",
    "Rfc9421Policy",
    "SignatureOptions",
    "VerifiedMessageSignature",
    "parse_rfc9421",
    "verify_rfc9421",
    "sign_rfc9421",
    "SignatureRequest",
    "parse_accept_signature",
    "accept_signature",
    # object integrity proofs (FEP-8b32) and LD signatures
    "canonicalize",
    "DataIntegrityProof",
    "create_proof",
    "parse_proof",
    "verify_proof",
    "check_proof_time",
    "LdSignature",
    "sign_ld_signature",
    "parse_ld_signature",
    "verify_ld_signature",
    "verify_ld_signature_async",
    "LdWorkerPool",
    "check_ld_shape",
    "close_ld_workers",
    "configure_ld_workers",
    "compact",
]

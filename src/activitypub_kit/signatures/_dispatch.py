"""One entry point for both HTTP signature schemes.

A request with ``Signature-Input`` is RFC 9421; one with ``Signature`` (or
``Authorization: Signature``) is draft-cavage.  The split stays: parse (pure) -> the caller
looks up ``parsed.key_id`` -> verify (pure).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from activitypub_kit.errors import MalformedSignatureError, MissingSignatureError
from activitypub_kit.signatures._algorithms import SigningKey, VerifyingKey
from activitypub_kit.signatures._cavage import (
    DEFAULT_POLICY as CAVAGE_DEFAULT,
)
from activitypub_kit.signatures._cavage import (
    CavagePolicy,
    CavageSignature,
    parse_cavage,
    sign_cavage,
    verify_cavage,
)
from activitypub_kit.signatures._message import HttpRequest
from activitypub_kit.signatures._rfc9421 import (
    DEFAULT_POLICY as RFC9421_DEFAULT,
)
from activitypub_kit.signatures._rfc9421 import (
    MessageSignature,
    Rfc9421Policy,
    parse_rfc9421,
    sign_rfc9421,
    verify_rfc9421,
)


class SignatureScheme(StrEnum):
    """The two HTTP signature schemes of the fediverse."""

    CAVAGE = "draft-cavage"
    RFC9421 = "rfc9421"

    @property
    def other(self) -> SignatureScheme:
        """The scheme to fall back to."""
        return SignatureScheme.RFC9421 if self is SignatureScheme.CAVAGE else SignatureScheme.CAVAGE


ParsedSignature = CavageSignature | MessageSignature


def detect_scheme(request: HttpRequest) -> SignatureScheme:
    """Which scheme the request is signed with.

    :raises MissingSignatureError: when it carries no signature at all.
    """
    if "signature-input" in request.headers:
        return SignatureScheme.RFC9421
    if "signature" in request.headers:
        return SignatureScheme.CAVAGE
    auth = request.headers.get("authorization")
    if auth is not None and auth[:10].lower() == "signature ":
        return SignatureScheme.CAVAGE
    raise MissingSignatureError("request is not signed (no Signature or Signature-Input header)")


def parse_signature(request: HttpRequest, *, label: str | None = None) -> ParsedSignature:
    """Parse the request's signature, whichever the scheme (pure).

    For RFC 9421 the request must carry exactly one signature, unless ``label`` picks one.

    :raises MissingSignatureError: when the request is not signed.
    :raises MalformedSignatureError: when the signature cannot be parsed.
    """
    if detect_scheme(request) is SignatureScheme.CAVAGE:
        return parse_cavage(request)
    signatures = parse_rfc9421(request)
    if label is not None:
        for sig in signatures:
            if sig.label == label:
                return sig
        raise MissingSignatureError(f"request has no signature labelled {label!r}")
    if len(signatures) != 1:
        raise MalformedSignatureError(
            f"request carries {len(signatures)} RFC 9421 signatures; exactly one is accepted"
        )
    return signatures[0]


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """Who signed, how, and what was covered."""

    key_id: str | None
    scheme: SignatureScheme
    algorithm: str
    covered: tuple[str, ...]


def verify_signature(
    request: HttpRequest,
    parsed: ParsedSignature,
    key: VerifyingKey,
    *,
    now: float | None = None,
    cavage_policy: CavagePolicy = CAVAGE_DEFAULT,
    rfc9421_policy: Rfc9421Policy = RFC9421_DEFAULT,
) -> VerifiedSignature:
    """Verify a parsed signature of either scheme with the signer's key (pure).

    :raises SignatureError: (a subclass) saying exactly which rule failed.
    """
    if isinstance(parsed, CavageSignature):
        done = verify_cavage(request, parsed, key, now=now, policy=cavage_policy)
        return VerifiedSignature(done.key_id, SignatureScheme.CAVAGE, done.algorithm, done.covered)
    result = verify_rfc9421(request, parsed, key, now=now, policy=rfc9421_policy)
    return VerifiedSignature(
        result.key_id, SignatureScheme.RFC9421, result.algorithm, result.covered
    )


def sign_request(
    request: HttpRequest,
    key: SigningKey,
    key_id: str,
    *,
    scheme: SignatureScheme = SignatureScheme.CAVAGE,
    now: float | None = None,
) -> HttpRequest:
    """Sign ``request`` with the default covered components of ``scheme`` (pure)."""
    if scheme is SignatureScheme.CAVAGE:
        return sign_cavage(request, key, key_id, now=now)
    signed = sign_rfc9421(request, key, key_id, now=now)
    assert isinstance(signed, HttpRequest)
    return signed


__all__ = [
    "SignatureScheme",
    "ParsedSignature",
    "detect_scheme",
    "parse_signature",
    "VerifiedSignature",
    "verify_signature",
    "sign_request",
]

"""Steps 3 and 4 of the inbox pipeline: who vouches for the activity, and is it the actor.

Accepted proofs, in order: an HTTP signature (draft-cavage or RFC 9421) whose key owner is
the actor; otherwise (no HTTP signature, or one by another actor, as when a relay or a
thread owner forwards) an FEP-8b32 object integrity proof or an ``RsaSignature2017`` LD
signature by the actor.  A proof is checked over the document with, then (as Fedify signs:
proof first, LD signature over it) without its LD ``signature``.  An LD-signed document is
replaced by its compacted form, so the terms we act on are those that were signed.  Keys are
resolved by :class:`~activitypub_kit.http.KeyResolver` (owner back-link, rotation refetch).

A ``Delete`` of an actor by itself whose key document answers ``410 Gone`` cannot be
verified any more; the origin saying the actor is gone is the proof, and the failure is
cached, so a flood of such deletes costs one fetch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag

from cryptography.hazmat.primitives.asymmetric import rsa

from activitypub_kit._cache import BoundedCache
from activitypub_kit.errors import (
    AlgorithmMismatchError,
    DigestError,
    FetchError,
    HttpStatusError,
    InvalidSignatureError,
    KeyFormatError,
    MissingSignatureError,
    ProofError,
    SignatureError,
    UnauthenticatedActivityError,
)
from activitypub_kit.http import KeyResolver, VerifiedKey
from activitypub_kit.models._helpers import single_id, type_names
from activitypub_kit.server._parsing import origin_of
from activitypub_kit.signatures import (
    HttpRequest,
    check_created,
    check_proof_time,
    load_public_key_pem,
    multibase_to_public_key,
    parse_ld_signature,
    parse_proof,
    parse_signature,
    verify_content_digest,
    verify_legacy_digest,
    verify_proof,
    verify_signature,
)
from activitypub_kit.signatures import PublicKey as CryptoKey
from activitypub_kit.signatures._cavage import CavagePolicy
from activitypub_kit.signatures._clock import DEFAULT_WINDOW, TimeWindow
from activitypub_kit.signatures._ldsig import check_ld_shape, verify_ld_signature_async
from activitypub_kit.signatures._rfc9421 import Rfc9421Policy


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Who vouched for an activity, how, and the document to act on."""

    #: The actor that owns the verifying key (equal to the activity's actor).
    owner: str
    #: The key id, or ``None`` for the ``gone`` case.
    key_id: str | None
    #: ``http-signature``, ``proof``, ``ld-signature`` or ``gone``.
    method: str
    #: The activity (compacted when an LD signature vouched for it; no ``proof``).
    document: dict[str, Any]


def _crypto_key(key: VerifiedKey) -> CryptoKey:
    if key.public_key_pem is not None:
        return load_public_key_pem(key.public_key_pem)
    assert key.public_key_multibase is not None
    return multibase_to_public_key(key.public_key_multibase)


def _is_gone(error: FetchError) -> bool:
    return isinstance(error, HttpStatusError) and error.status_code == 410


class Authenticator:
    """Verify inbox requests against keys resolved through ``keys``.

    A key that verified a signature is reused for ``key_ttl`` seconds without asking the
    key cache again.  With ``origins`` (our own ``scheme://host[:port]`` values), an HTTP
    signature is only accepted on a request addressed to one of them: the signed ``host``
    (draft-cavage) or ``@authority`` / ``@target-uri`` (RFC 9421) is rebuilt from the
    request's own ``Host``, so a request for another server — a replay of a delivery made to
    someone else — is refused before any key is fetched.
    """

    def __init__(
        self,
        keys: KeyResolver,
        *,
        origins: Sequence[str] = (),
        cavage_policy: CavagePolicy | None = None,
        rfc9421_policy: Rfc9421Policy | None = None,
        key_ttl: float = 300.0,
        proof_window: TimeWindow = DEFAULT_WINDOW,
        ld_signature_max_age: float = 7 * 86400.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keys = keys
        #: ``(host, port)`` of every origin requests must be addressed to (empty: any).
        self.hosts = frozenset(
            (found[1], found[2]) for found in map(origin_of, origins) if found is not None
        )
        #: How old (and how far ahead) a proof's ``created`` may be: a proof vouches for a
        #: delivery only while fresh, like an HTTP signature.
        self.proof_window = proof_window
        #: An ``RsaSignature2017`` vouches for a document, not a delivery (Mastodon signs a
        #: post once; relays pass it on later): it is accepted while no older than this,
        #: which the Federation sets to its idempotency TTL so that any replay it accepts
        #: is also one it recognises.
        self.ld_signature_window = TimeWindow(
            max_age=ld_signature_max_age, max_lifetime=ld_signature_max_age
        )
        self.clock = clock
        #: key id -> the key that last verified a signature (for ``key_ttl``); skips the
        #: key cache's (de)serialisation on the hot path.  A key that fails goes through
        #: :meth:`KeyResolver.verify` again (which refetches a rotated key).
        self._recent: BoundedCache[str, VerifiedKey] = BoundedCache(4096, ttl=key_ttl, clock=clock)
        self._decoded: BoundedCache[VerifiedKey, CryptoKey] = BoundedCache(4096)
        self.policies: dict[str, Any] = {}
        if cavage_policy is not None:
            self.policies["cavage_policy"] = cavage_policy
        if rfc9421_policy is not None:
            self.policies["rfc9421_policy"] = rfc9421_policy

    @property
    def key_ttl(self) -> float:
        """Seconds a key that verified a signature is reused without asking ``keys``."""
        return self._recent.ttl or 0.0

    @key_ttl.setter
    def key_ttl(self, seconds: float) -> None:
        self._recent.ttl = seconds
        self._recent.clear()

    async def http_signer(self, request: HttpRequest) -> tuple[VerifiedKey, str] | None:
        """The verified key of the request's HTTP signature; ``None`` when unsigned.

        :raises UnauthenticatedActivityError: for a signature that is present but fails.
        :raises FetchError: when the key cannot be fetched (the caller decides).
        """
        try:
            parsed = parse_signature(request)
        except MissingSignatureError:
            return None
        except SignatureError as exc:
            raise UnauthenticatedActivityError(str(exc)) from None
        key_id = parsed.key_id
        if not key_id:
            raise UnauthenticatedActivityError("signature names no key id")
        if self.hosts:
            self._check_addressed_to_us(request)
        if request.body:
            self._precheck_digest(request)

        def check(key: VerifiedKey) -> bool:
            try:
                verify_signature(request, parsed, self._loaded(key), **self.policies)
            except (InvalidSignatureError, AlgorithmMismatchError, KeyFormatError):
                return False
            return True

        try:
            recent = self._recent.get(key_id)
            if recent is not None and check(recent):
                return recent, key_id
            verified = await self.keys.verify(key_id, check)
        except SignatureError as exc:
            raise UnauthenticatedActivityError(str(exc)) from None
        if verified is None:
            self._recent.pop(key_id)
            raise UnauthenticatedActivityError(f"signature does not verify with key {key_id}")
        self._recent.set(key_id, verified)
        return verified, key_id

    def _check_addressed_to_us(self, request: HttpRequest) -> None:
        target = origin_of(request.url)
        if target is None or (target[1], target[2]) not in self.hosts:
            host = target[1] if target is not None else "?"
            raise UnauthenticatedActivityError(
                f"the signed request is addressed to {host}, not to this server"
            )

    def _loaded(self, key: VerifiedKey) -> CryptoKey:
        loaded = self._decoded.get(key)
        if loaded is None:
            loaded = _crypto_key(key)
            self._decoded.set(key, loaded)
        return loaded

    def _precheck_digest(self, request: HttpRequest) -> None:
        # A wrong digest is refused before any key is fetched (no fetch for garbage).
        try:
            if "digest" in request.headers:
                verify_legacy_digest(request.headers.get("digest"), request.body)
            if "content-digest" in request.headers:
                verify_content_digest(request.headers.get("content-digest"), request.body)
        except DigestError as exc:
            raise UnauthenticatedActivityError(str(exc)) from None

    async def authenticate(self, request: HttpRequest, document: dict[str, Any]) -> Authenticated:
        """Run steps 3 and 4 (see the module docstring).

        :raises UnauthenticatedActivityError: when nothing valid vouches for the actor.
        """
        actor = single_id(document.get("actor"))
        assert actor is not None
        http_owner: str | None = None
        try:
            signed = await self.http_signer(request)
        except FetchError as error:
            key_id = self._key_id(request)
            if _is_gone(error) and self._self_delete(document, actor, key_id):
                return Authenticated(actor, None, "gone", document)
            raise UnauthenticatedActivityError(f"cannot fetch key {key_id}: {error}") from None
        if signed is not None:
            key, key_id = signed
            if key.owner == actor:
                return Authenticated(actor, key_id, "http-signature", document)
            http_owner = key.owner
        if "proof" in document:
            return await self._proof(document, actor)
        if isinstance(document.get("signature"), dict):
            return await self._ld_signature(document, actor)
        if http_owner is not None:
            raise UnauthenticatedActivityError(
                f"the signer {http_owner} is not the activity's actor {actor}"
            )
        raise UnauthenticatedActivityError(
            "request is not signed (no HTTP signature, proof or LD signature)"
        )

    def _key_id(self, request: HttpRequest) -> str:
        try:
            return parse_signature(request).key_id or "?"
        except SignatureError:
            return "?"

    def _self_delete(self, document: dict[str, Any], actor: str, key_id: str) -> bool:
        if "Delete" not in type_names(document) or single_id(document.get("object")) != actor:
            return False
        return urldefrag(key_id)[0] == actor

    async def _owned_key(self, key_id: str, actor: str, what: str) -> VerifiedKey:
        try:
            key = await self.keys.get_key(key_id)
        except FetchError as error:
            raise UnauthenticatedActivityError(
                f"cannot fetch the {what} key {key_id}: {error}"
            ) from None
        if key.owner != actor:
            raise UnauthenticatedActivityError(
                f"the {what} signer {key.owner} is not the activity's actor {actor}"
            )
        return key

    async def _proof(self, document: dict[str, Any], actor: str) -> Authenticated:
        try:
            proof = parse_proof(document)
            check_proof_time(proof, now=time.time(), window=self.proof_window)
            key = await self._owned_key(proof.verification_method, actor, "proof")
            if key.public_key_multibase is None:
                raise UnauthenticatedActivityError(
                    f"key {key.id} has no publicKeyMultibase for the proof"
                )
            public = multibase_to_public_key(key.public_key_multibase)
            try:
                unsigned = verify_proof(document, proof, public)
            except ProofError:
                if "signature" not in document:
                    raise
                # Fedify adds its LD signature after (and over) its proof: the proof covers
                # the rest.  The LD signature is then unauthenticated and dropped.
                bare = {k: v for k, v in document.items() if k != "signature"}
                unsigned = verify_proof(bare, proof, public)
        except SignatureError as exc:
            raise UnauthenticatedActivityError(str(exc)) from None
        return Authenticated(actor, key.id, "proof", unsigned)

    async def _ld_signature(self, document: dict[str, Any], actor: str) -> Authenticated:
        try:
            signature = parse_ld_signature(document)
            check_created(
                signature.created,
                now=time.time(),
                window=self.ld_signature_window,
                what="LD signature",
            )
            # A document too costly to canonicalise is refused before any key is fetched;
            # the JSON-LD work then runs in a worker process under a time limit.
            check_ld_shape(document)
            key = await self._owned_key(signature.creator, actor, "LD signature")
            public = _crypto_key(key)
            if not isinstance(public, rsa.RSAPublicKey):
                raise UnauthenticatedActivityError(f"key {key.id} is not an RSA key")
            compacted = await verify_ld_signature_async(document, signature, public)
        except SignatureError as exc:
            raise UnauthenticatedActivityError(str(exc)) from None
        if single_id(compacted.get("actor")) != actor:
            raise UnauthenticatedActivityError("the LD-signed document names another actor")
        return Authenticated(actor, key.id, "ld-signature", compacted)


__all__ = ["Authenticated", "Authenticator"]

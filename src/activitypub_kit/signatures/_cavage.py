"""draft-cavage-http-signatures-12, as the fediverse (Mastodon) uses it.

Verification is two pure steps so the key lookup (often network I/O) happens in between,
outside this module::

    parsed = parse_cavage(request)             # keyId, algorithm, covered headers
    key = await my_key_lookup(parsed.key_id)   # the caller's I/O
    verify_cavage(request, parsed, key)        # raises a SignatureError or returns

Rules applied by :func:`verify_cavage` (:class:`CavagePolicy` makes them configurable):

- ``algorithm`` absent means ``hs2019``; accepted: ``rsa-sha256`` and ``hs2019`` (the key's
  type decides: RSA -> RSASSA-PKCS1-v1_5/SHA-256, Ed25519 -> Ed25519); the key type must fit;
- duplicate parameters are rejected; ``(created)``/``(expires)`` only with ``hs2019``;
- the signature must cover ``(request-target)``, ``host``, ``date`` or ``(created)``, and
  ``digest`` for a request with a body (or any POST/PUT/PATCH); a covered ``Digest`` must
  match the body (SHA-256/512, constant-time);
- ``Date`` / ``(created)`` within the :class:`~activitypub_kit.signatures._clock.TimeWindow`
  at ``now`` (injectable), or before a signed ``(expires)`` that is itself capped at
  ``created`` (or ``Date``) plus the window's ``max_lifetime`` (12 hours).
"""

from __future__ import annotations

import binascii
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from activitypub_kit.errors import (
    InvalidSignatureError,
    MalformedSignatureError,
    MissingComponentError,
    MissingSignatureError,
    UncoveredComponentError,
    UnsupportedAlgorithmError,
)
from activitypub_kit.signatures import _algorithms as algorithms
from activitypub_kit.signatures._algorithms import SigningKey, VerifyingKey, key_kind
from activitypub_kit.signatures._clock import DEFAULT_WINDOW, TimeWindow, http_date, parse_http_date
from activitypub_kit.signatures._digest import legacy_digest, verify_legacy_digest
from activitypub_kit.signatures._encoding import b64encode
from activitypub_kit.signatures._message import HttpRequest

_PARAM = re.compile(r'[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]*=[ \t]*(?:"([^"]*)"|([^",\s]*))[ \t]*')
_NEXT_PARAM = re.compile(f",{_PARAM.pattern}")
_PARAM_SHAPE = r'[ \t]*[A-Za-z][A-Za-z0-9_-]*[ \t]*=[ \t]*(?:"[^"]*"|[^",\s]*)[ \t]*'
_PARAM_LIST = re.compile(f"{_PARAM_SHAPE}(?:,{_PARAM_SHAPE})*")
_MASTODON_LAYOUT = re.compile(
    r'keyId="([^"]*)",algorithm="([^"]*)",headers="([^"]*)",signature="([^"]*)"'
)
_KNOWN_PARAMS = frozenset({"keyId", "algorithm", "headers", "signature", "created", "expires"})
_CAVAGE_ALGORITHMS = ("rsa-sha256", "hs2019")
_HS2019_BY_KIND = {"rsa": "rsa-sha256", "ed25519": "ed25519"}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_new = tuple.__new__
_WHAT = "draft-cavage signature"


class CavageSignature(NamedTuple):
    """A parsed draft-cavage signature: what the caller needs to look up the key."""

    #: The ``keyId`` parameter: usually ``https://host/users/name#main-key``.
    key_id: str
    #: The ``algorithm`` parameter as sent, lower-case (``None`` when absent).
    algorithm: str | None
    #: The covered headers, lower-case, in signing order.
    headers: tuple[str, ...]
    #: The raw signature bytes.
    signature: bytes
    #: The ``created`` parameter, if sent.
    created: int | None = None
    #: The ``expires`` parameter, if sent.
    expires: int | None = None

    @property
    def covered(self) -> tuple[str, ...]:
        """The covered components (same as :attr:`headers`)."""
        return self.headers


@dataclass(frozen=True, slots=True)
class CavagePolicy:
    """What :func:`verify_cavage` demands beyond a valid signature."""

    #: Accepted signature age and clock skew.
    window: TimeWindow = DEFAULT_WINDOW
    #: Demand ``(request-target)`` be covered.
    require_request_target: bool = True
    #: Demand ``host`` be covered.
    require_host: bool = True
    #: Demand a covered, matching ``digest`` for requests with a body and POST/PUT/PATCH.
    require_digest: bool = True
    #: Also accept a ``(request-target)`` signed without the query string (old Mastodon).
    #: Off by default: it lets the query string be changed.
    allow_request_target_without_query: bool = False


DEFAULT_POLICY = CavagePolicy()


def _header_value(request: HttpRequest) -> str:
    lines = request.headers.index.get("signature")
    if lines is not None:
        value = lines[0] if len(lines) == 1 else ", ".join(lines)
        # Tolerate a literal "Signature " prefix (an old node-http-signature bug).
        return value[10:] if value[:10].lower() == "signature " else value
    auth = request.headers.get("authorization")
    if auth is not None and auth[:10].lower() == "signature ":
        return auth[10:]
    raise MissingSignatureError("request has no Signature header (nor Authorization: Signature)")


def parse_signature_params(value: str) -> dict[str, str]:
    """Split a cavage ``Signature`` value into its parameters; duplicates are refused.

    :raises MalformedSignatureError: on a malformed list or a repeated parameter.
    """
    # Mastodon's exact layout: one regex match.
    mastodon = _MASTODON_LAYOUT.fullmatch(value)
    if mastodon is not None:
        key_id, algorithm, headers, signature = mastodon.groups()
        return {"keyId": key_id, "algorithm": algorithm, "headers": headers, "signature": signature}
    # The usual shape, all values quoted with no spaces around (keyId="…",headers="…"):
    # values hold no '"', so '",' only ever ends one; names must be known ones.
    if value[-1:] == '"':
        parts = value[:-1].split('",')
        params: dict[str, str] = {}
        for part in parts:
            name, sep, quoted = part.partition('="')
            if not sep or name not in _KNOWN_PARAMS or '"' in quoted:
                break
            params[name] = quoted
        else:
            if len(params) == len(parts):
                return params
    # Otherwise a well-formed value is one regex match, its parameters one findall.
    if _PARAM_LIST.fullmatch(value) is not None:
        found = _PARAM.findall(value)
        params = {name: quoted or bare for name, quoted, bare in found}
        if len(params) == len(found):
            return params
    return _parse_signature_params_general(value)


def _parse_signature_params_general(value: str) -> dict[str, str]:
    # The general path: says where a malformed value goes wrong, and which name repeats.
    # Each parameter is matched where the previous one ended (a scan from every offset,
    # as findall does, takes quadratic time on a long malformed value).
    found: list[tuple[str, str, str]] = []
    pos, pattern = 0, _PARAM
    while pos < len(value) or not found:
        match = pattern.match(value, pos)
        if match is None:
            raise MalformedSignatureError(f"Signature header is malformed at offset {pos}")
        found.append(match.groups(""))  # type: ignore[arg-type]
        pos, pattern = match.end(), _NEXT_PARAM
    params = {name: quoted or bare for name, quoted, bare in found}
    if len(params) != len(found):
        seen: set[str] = set()
        for name, _, _ in found:
            if name in seen:
                raise MalformedSignatureError(f"Signature header repeats the parameter {name!r}")
            seen.add(name)
    return params


@lru_cache(maxsize=256)
def _covered_headers(listed: str) -> tuple[str, ...]:
    # The ``headers`` parameter is the same on every request from one implementation.
    headers = tuple(listed.lower().split())
    if not headers:
        raise MalformedSignatureError("Signature headers parameter is empty")
    if len(set(headers)) != len(headers):
        raise MalformedSignatureError("Signature headers parameter lists a header twice")
    return headers


def _unix_time(name: str, raw: str) -> int:
    if raw.isdigit():
        return int(raw)
    if re.fullmatch(r"\d+\.\d+", raw):
        return int(raw.split(".", 1)[0])
    raise MalformedSignatureError(f"Signature {name} {raw!r} is not a Unix time")


def parse_cavage(request: HttpRequest) -> CavageSignature:
    """Parse the request's draft-cavage signature (pure; no key needed).

    :raises MissingSignatureError: when there is no ``Signature`` header.
    :raises MalformedSignatureError: when it is malformed or lacks keyId/signature.
    """
    value = _header_value(request)
    mastodon = _MASTODON_LAYOUT.fullmatch(value)
    if mastodon is not None:  # what parse_signature_params would answer, without the dict
        key_id, algorithm, listed, encoded = mastodon.groups()
        created = expires = None
    else:
        params = parse_signature_params(value)
        get = params.get
        key_id, encoded, algorithm = get("keyId"), get("signature"), get("algorithm")
        listed, created, expires = get("headers"), get("created"), get("expires")
    if not key_id:
        raise MalformedSignatureError("Signature header has no keyId parameter")
    if not encoded:
        raise MalformedSignatureError("Signature header has no signature parameter")
    if algorithm is not None:
        algorithm = algorithm.lower()
    if listed is not None:
        headers = _covered_headers(listed)
    else:
        headers = ("date",) if algorithm == "rsa-sha256" else ("(created)",)
    try:
        signature = binascii.a2b_base64(encoded, strict_mode=True)
    except (binascii.Error, ValueError):
        raise MalformedSignatureError(
            "Signature signature parameter is not valid padded base64"
        ) from None
    # tuple.__new__ skips the NamedTuple's Python-level __new__ (this runs per request).
    return _new(
        CavageSignature,
        (
            key_id,
            algorithm,
            headers,
            signature,
            None if created is None else _unix_time("created", created),
            None if expires is None else _unix_time("expires", expires),
        ),
    )


def signing_string(
    request: HttpRequest,
    headers: Sequence[str],
    *,
    created: int | None = None,
    expires: int | None = None,
    with_query: bool = True,
) -> str:
    """The draft-cavage signing string for ``headers`` of ``request``.

    :raises MissingComponentError: when a covered header or parameter is absent.
    """
    lines = []
    index = request.headers.index
    for name in headers:
        values = index.get(name)
        if values is not None and name[0] != "(":
            if len(values) == 1:
                lines.append(f"{name}: {values[0].strip()}")
            else:
                lines.append(f"{name}: {', '.join(v.strip() for v in values)}")
        elif name == "(request-target)":
            target = request.target if with_query else request.path
            lines.append(f"(request-target): {request.method.lower()} {target}")
        elif name == "(created)":
            if created is None:
                raise MissingComponentError("(created) is covered but no created parameter")
            lines.append(f"(created): {created}")
        elif name == "(expires)":
            if expires is None:
                raise MissingComponentError("(expires) is covered but no expires parameter")
            lines.append(f"(expires): {expires}")
        elif name == "host":
            lines.append(f"host: {request.authority}")
        else:
            raise MissingComponentError(f"covered header {name!r} is missing")
    return "\n".join(lines)


def _resolve_algorithm(declared: str | None, key: SigningKey | VerifyingKey) -> str:
    name = declared or "hs2019"
    if name not in _CAVAGE_ALGORITHMS:
        raise UnsupportedAlgorithmError(
            f"draft-cavage algorithm {name!r} is not accepted (use rsa-sha256 or hs2019)"
        )
    if name == "hs2019":
        return _HS2019_BY_KIND.get(key_kind(key), "hs2019")
    return name


@lru_cache(maxsize=256)
def _covered_set(headers: tuple[str, ...]) -> frozenset[str]:
    # Membership tests on the covered list, about ten per request, without tuple scans.
    return frozenset(headers)


def _check_coverage(
    sig: CavageSignature, request: HttpRequest, policy: CavagePolicy, covered: frozenset[str]
) -> None:
    if "date" not in covered and "(created)" not in covered:
        raise UncoveredComponentError("signature covers neither date nor (created)")
    if policy.require_request_target and "(request-target)" not in covered:
        raise UncoveredComponentError("signature does not cover (request-target)")
    if policy.require_host and "host" not in covered:
        raise UncoveredComponentError("signature does not cover host")
    if (
        policy.require_digest
        and "digest" not in covered
        and (request.body or request.method.upper() in _BODY_METHODS)
    ):
        raise UncoveredComponentError(
            f"signature of a {request.method.upper()} with a body does not cover digest"
        )
    if ("(created)" in covered or "(expires)" in covered) and sig.algorithm not in (None, "hs2019"):
        raise MalformedSignatureError(
            f"(created)/(expires) are only allowed with hs2019, not {sig.algorithm}"
        )


class VerifiedCavage(NamedTuple):
    """The result of a successful :func:`verify_cavage`."""

    key_id: str
    #: The algorithm actually used (``rsa-sha256`` or ``ed25519``).
    algorithm: str
    covered: tuple[str, ...]


def verify_cavage(
    request: HttpRequest,
    signature: CavageSignature,
    key: VerifyingKey,
    *,
    now: float | None = None,
    policy: CavagePolicy = DEFAULT_POLICY,
) -> VerifiedCavage:
    """Verify a parsed draft-cavage signature with the signer's public key (pure).

    :raises SignatureError: (a subclass) saying exactly which rule failed.
    """
    declared, kind = signature.algorithm, key_kind(key)
    if declared == "rsa-sha256" and kind == "rsa":
        algorithm = declared  # the usual case; the general code below says what is wrong
    else:
        algorithm = _resolve_algorithm(declared, key)
        algorithms.check_key(algorithm, key)
    listed = signature.headers
    names = _covered_set(listed) if type(listed) is tuple else frozenset(listed)
    _check_coverage(signature, request, policy, names)
    moment = time.time() if now is None else now
    expires = signature.expires if "(expires)" in names else None
    window = policy.window
    if "(created)" in names or expires is not None:
        # An uncovered created parameter is unsigned: it must not move the lifetime cap.
        created = signature.created if "(created)" in names else None
        if "(created)" in names and created is None:
            raise MissingComponentError("(created) is covered but no created parameter")
        window.check(created=created, expires=expires, now=moment, what="created")
    if "date" in names:
        date = request.headers.get("date")
        if date is None:
            raise MissingComponentError("covered header 'date' is missing")
        sent = parse_http_date(date)
        if not window.allows(created=sent, expires=expires, now=moment):
            window.check(created=sent, expires=expires, now=moment, what="Date header")
    if "digest" in names:
        verify_legacy_digest(request.headers.get("digest"), request.body)
    covered = signature.headers
    text = signing_string(request, covered, created=signature.created, expires=signature.expires)
    try:
        data = text.encode()
        if not algorithms.verifies(algorithm, key, data, signature.signature):
            if not _may_be_pss(algorithm, signature):
                raise algorithms.mismatch(algorithm, key, _WHAT)
            algorithms.verify("rsa-pss-sha512", key, data, signature.signature, _WHAT)
    except InvalidSignatureError:
        if not (policy.allow_request_target_without_query and request.query):
            raise
        text = signing_string(
            request, covered, created=signature.created, expires=signature.expires,
            with_query=False,
        )  # fmt: skip
        _verify_bytes(algorithm, signature, key, text.encode())
    return _new(VerifiedCavage, (signature.key_id, algorithm, covered))


def _may_be_pss(algorithm: str, sig: CavageSignature) -> bool:
    # hs2019 with an RSA key: some signers use RSASSA-PSS/SHA-512 as the draft suggests.
    return sig.algorithm in (None, "hs2019") and algorithm == "rsa-sha256"


def _verify_bytes(algorithm: str, sig: CavageSignature, key: VerifyingKey, data: bytes) -> None:
    try:
        algorithms.verify_checked(algorithm, key, data, sig.signature, _WHAT)
    except InvalidSignatureError:
        if not _may_be_pss(algorithm, sig):
            raise
        algorithms.verify("rsa-pss-sha512", key, data, sig.signature, _WHAT)


def sign_cavage(
    request: HttpRequest,
    key: SigningKey,
    key_id: str,
    *,
    headers: Sequence[str] | None = None,
    algorithm: str | None = None,
    now: float | None = None,
    expires_in: float | None = None,
    headers_param: bool = True,
    authorization: bool = False,
) -> HttpRequest:
    """Sign ``request`` and return a copy carrying ``Signature`` (and Date/Host/Digest).

    By default it covers ``(request-target) host date`` plus ``digest`` and
    ``content-type`` when the request has a body (or is a POST), with ``algorithm`` =
    ``rsa-sha256`` for RSA keys (what Mastodon expects) and ``hs2019`` otherwise.  Missing
    ``Date``, ``Host`` and ``Digest`` headers are added.  ``expires_in`` adds
    ``(created)``/``(expires)`` (and forces ``hs2019``).  ``headers_param=False`` omits the
    ``headers`` parameter (only valid when ``headers`` is the algorithm's default).
    ``authorization=True`` sends ``Authorization: Signature ...`` instead.
    """
    if '"' in key_id or "\n" in key_id:
        raise MalformedSignatureError(f"keyId {key_id!r} cannot hold quotes or newlines")
    moment = time.time() if now is None else now
    has_body = bool(request.body) or request.method.upper() in _BODY_METHODS
    if algorithm is None:
        algorithm = "rsa-sha256" if key_kind(key) == "rsa" and expires_in is None else "hs2019"
    if headers is None:
        headers = ["(request-target)", "host", "date"]
        if expires_in is not None:
            headers[2:2] = ["(created)", "(expires)"]
        if has_body:
            headers.append("digest")
            if "content-type" in request.headers:
                headers.append("content-type")
    covered = tuple(h.lower() for h in headers)
    added: dict[str, str] = {}
    if "date" in covered and "date" not in request.headers:
        added["Date"] = http_date(moment)
    if "host" in covered and "host" not in request.headers:
        added["Host"] = request.authority
    if "digest" in covered and "digest" not in request.headers:
        added["Digest"] = legacy_digest(request.body)
    signed = request.with_headers(added) if added else request
    created = int(moment) if "(created)" in covered else None
    expires = int(moment + expires_in) if expires_in is not None else None
    text = signing_string(signed, covered, created=created, expires=expires)
    resolved = _resolve_algorithm(algorithm, key)
    raw = algorithms.sign(resolved, key, text.encode())
    parts = [f'keyId="{key_id}"', f'algorithm="{algorithm}"']
    if created is not None:
        parts.append(f"created={created}")
    if expires is not None:
        parts.append(f"expires={expires}")
    if headers_param:
        parts.append(f'headers="{" ".join(covered)}"')
    parts.append(f'signature="{b64encode(raw)}"')
    value = ",".join(parts)
    if authorization:
        return signed.with_headers({"Authorization": f"Signature {value}"})
    return signed.with_headers({"Signature": value})


__all__ = [
    "CavageSignature",
    "CavagePolicy",
    "DEFAULT_POLICY",
    "VerifiedCavage",
    "parse_signature_params",
    "parse_cavage",
    "signing_string",
    "verify_cavage",
    "sign_cavage",
]

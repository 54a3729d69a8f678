"""Body digests: RFC 9530 ``Content-Digest`` / ``Repr-Digest`` and the legacy ``Digest``.

Only SHA-256 and SHA-512 are accepted for verification; the other registered algorithms
(md5, sha, unixsum, unixcksum, adler, crc32c) are recognised and ignored, as RFC 9530
marks them insecure.  Every accepted algorithm present in a field must match (a field
with one right and one wrong digest is rejected), and at least one must be present.
Digests are compared in constant time.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable

from activitypub_kit.errors import (
    DigestError,
    DigestMismatchError,
    MalformedSignatureError,
    UnsupportedAlgorithmError,
)
from activitypub_kit.signatures._encoding import b64decode, b64encode
from activitypub_kit.signatures._sfv import Item, parse_dictionary, serialize_dictionary

#: RFC 9530 algorithm name -> hashlib constructor name, for the accepted algorithms.
DIGEST_ALGORITHMS = {"sha-256": "sha256", "sha-512": "sha512"}
#: Registered but insecure algorithms: parsed, never trusted.
INSECURE_DIGEST_ALGORITHMS = frozenset({"md5", "sha", "unixsum", "unixcksum", "adler", "crc32c"})
_FAST_MEMBER = re.compile(r"([a-z][a-z0-9_\-.*]*)=:([A-Za-z0-9+/]*={0,2}):")


_CONSTRUCTORS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def _hash(algorithm: str, body: bytes) -> bytes:
    return _CONSTRUCTORS[algorithm](body).digest()


def _check_one(field: str, algorithm: str, encoded: str, body: bytes) -> str:
    try:
        expected = binascii.a2b_base64(encoded, strict_mode=True)
    except binascii.Error:
        raise DigestError(f"{field} {algorithm} value is not valid padded base64") from None
    actual = _CONSTRUCTORS[algorithm](body).digest()
    if not hmac.compare_digest(actual, expected):
        raise DigestMismatchError(
            f"{field} {algorithm} does not match the body (body digest is {b64encode(actual)})"
        )
    return algorithm


def _check_sha256_member(value: str, body: bytes, field: str) -> bool:
    # The usual field, one SHA-256 member, with str operations: True when it matches,
    # DigestMismatchError when it does not, False when the general code must read it.
    if len(value) < 10 or value[:9] != "sha-256=:" or value[-1] != ":":
        return False
    try:
        expected = binascii.a2b_base64(value[9:-1], strict_mode=True)
    except binascii.Error:
        return False  # not valid base64, or a second member
    actual = hashlib.sha256(body).digest()
    if hmac.compare_digest(actual, expected):
        return True
    raise DigestMismatchError(
        f"{field} sha-256 does not match the body (body digest is {b64encode(actual)})"
    )


def content_digest(body: bytes, algorithms: Iterable[str] = ("sha-256",)) -> str:
    """The ``Content-Digest`` (or ``Repr-Digest``) value of ``body``.

    :raises UnsupportedAlgorithmError: for an algorithm other than sha-256 / sha-512.
    """
    if algorithms == ("sha-256",):  # the default: one member, serialised directly
        return f"sha-256=:{b64encode(hashlib.sha256(body).digest())}:"
    members: dict[str, Item | object] = {}
    for algorithm in algorithms:
        if algorithm not in DIGEST_ALGORITHMS:
            raise UnsupportedAlgorithmError(f"digest algorithm {algorithm!r} is not supported")
        members[algorithm] = Item(_hash(algorithm, body))
    return serialize_dictionary(members)  # type: ignore[arg-type]


def parse_digest_field(value: str, field: str = "Content-Digest") -> dict[str, bytes]:
    """Parse a ``Content-Digest`` / ``Repr-Digest`` value into ``{algorithm: digest}``.

    :raises DigestError: when the value is not a dictionary of byte sequences.
    """
    fast = _FAST_MEMBER.fullmatch(value.strip(" "))
    if fast is not None:
        try:
            return {fast.group(1): binascii.a2b_base64(fast.group(2), strict_mode=True)}
        except binascii.Error:
            pass  # the full parser reports it
    try:
        members = parse_dictionary(value, field, unique=True)
    except MalformedSignatureError as exc:
        raise DigestError(str(exc)) from None
    result: dict[str, bytes] = {}
    for name, member in members.items():
        if not isinstance(member, Item) or not isinstance(member.value, bytes):
            raise DigestError(f"{field} member {name!r} is not a byte sequence")
        result[name] = member.value
    return result


def verify_content_digest(value: str | None, body: bytes, field: str = "Content-Digest") -> str:
    """Check a ``Content-Digest`` / ``Repr-Digest`` value against ``body``.

    Returns the strongest algorithm that matched.

    :raises DigestError: when the field is absent or malformed.
    :raises UnsupportedAlgorithmError: when it holds no sha-256 or sha-512 member.
    :raises DigestMismatchError: when an accepted member does not match the body.
    """
    if value is None:
        raise DigestError(f"{field} header is missing")
    if _check_sha256_member(value, body, field):
        return "sha-256"
    fast = _FAST_MEMBER.fullmatch(value.strip(" "))
    if fast is not None and fast.group(1) in _CONSTRUCTORS:
        return _check_one(field, fast.group(1), fast.group(2), body)
    return _check(parse_digest_field(value, field), body, field)


def _check(digests: dict[str, bytes], body: bytes, field: str) -> str:
    checked = ""
    for algorithm, expected in digests.items():
        if algorithm not in DIGEST_ALGORITHMS:
            continue
        actual = _hash(algorithm, body)
        if not hmac.compare_digest(actual, expected):
            raise DigestMismatchError(
                f"{field} {algorithm} does not match the body (body digest is {b64encode(actual)})"
            )
        checked = algorithm
    if not checked:
        names = ", ".join(digests) or "nothing"
        raise UnsupportedAlgorithmError(f"{field} holds {names}; sha-256 or sha-512 is required")
    return checked


# --- legacy Digest (RFC 3230 / RFC 5843) -------------------------------------------------

_LEGACY_NAMES = {"sha-256": "SHA-256", "sha-512": "SHA-512"}


def legacy_digest(body: bytes, algorithm: str = "sha-256") -> str:
    """The legacy ``Digest`` value (``SHA-256=<base64>``) Mastodon signs."""
    name = _LEGACY_NAMES.get(algorithm.lower())
    if name is None:
        raise UnsupportedAlgorithmError(f"digest algorithm {algorithm!r} is not supported")
    return f"{name}={b64encode(_hash(algorithm.lower(), body))}"


def parse_legacy_digest(value: str) -> dict[str, str]:
    """Parse a legacy ``Digest`` value into ``{lower-case algorithm: encoded value}``.

    :raises DigestError: on an entry without ``=`` or a repeated algorithm.
    """
    result: dict[str, str] = {}
    for raw in value.split(","):
        entry = raw.strip()
        name, sep, encoded = entry.partition("=")
        if not sep or not name.strip():
            raise DigestError(f"Digest entry {entry!r} is not algorithm=value")
        key = name.strip().lower()
        if key in result:
            raise DigestError(f"Digest repeats the algorithm {key!r}")
        result[key] = encoded.strip()
    return result


def verify_legacy_digest(value: str | None, body: bytes) -> str:
    """Check a legacy ``Digest`` value against ``body``; return the algorithm that matched.

    :raises DigestError: when the header is missing or malformed.
    :raises UnsupportedAlgorithmError: when it holds no SHA-256 or SHA-512 entry.
    :raises DigestMismatchError: when an accepted entry does not match.
    """
    if value is None:
        raise DigestError("Digest header is missing")
    # Fast path for the overwhelmingly common single SHA-256 entry.
    if value[:8].upper() == "SHA-256=" and "," not in value:
        return _check_one("Digest", "sha-256", value[8:].strip(), body)
    digests = parse_legacy_digest(value)
    decoded = {}
    for algorithm, encoded in digests.items():
        if algorithm in DIGEST_ALGORITHMS:
            try:
                decoded[algorithm] = b64decode(encoded, what=f"Digest {algorithm} value")
            except MalformedSignatureError as exc:
                raise DigestError(str(exc)) from None
        else:
            decoded[algorithm] = b""
    return _check(decoded, body, "Digest")


# --- Want-* --------------------------------------------------------------------------


def parse_want_digest(value: str, field: str = "Want-Content-Digest") -> dict[str, int]:
    """Parse ``Want-Content-Digest`` / ``Want-Repr-Digest`` into ``{algorithm: preference}``.

    :raises DigestError: when a member is not an integer from 0 to 10.
    """
    try:
        members = parse_dictionary(value, field)
    except MalformedSignatureError as exc:
        raise DigestError(str(exc)) from None
    result: dict[str, int] = {}
    for name, member in members.items():
        weight = member.value if isinstance(member, Item) else None
        if type(weight) is not int or not 0 <= weight <= 10:
            raise DigestError(f"{field} preference for {name!r} must be an integer 0-10")
        result[name] = weight
    return result


def choose_digest_algorithm(preferences: dict[str, int]) -> str | None:
    """The accepted algorithm the peer prefers most (0 means "not acceptable")."""
    ranked = sorted(
        ((w, a) for a, w in preferences.items() if a in DIGEST_ALGORITHMS and w > 0),
        reverse=True,
    )
    return ranked[0][1] if ranked else None


__all__ = [
    "DIGEST_ALGORITHMS",
    "INSECURE_DIGEST_ALGORITHMS",
    "content_digest",
    "parse_digest_field",
    "verify_content_digest",
    "legacy_digest",
    "parse_legacy_digest",
    "verify_legacy_digest",
    "parse_want_digest",
    "choose_digest_algorithm",
]

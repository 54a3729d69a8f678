"""Signature algorithms by name, each bound to the key type it needs.

RFC 9421 names: ``rsa-pss-sha512``, ``rsa-v1_5-sha256``, ``hmac-sha256``,
``ecdsa-p256-sha256``, ``ecdsa-p384-sha384``, ``ed25519``.  draft-cavage adds
``rsa-sha256`` (RSASSA-PKCS1-v1_5 / SHA-256) and ``hs2019`` (algorithm taken from the key).
A key of the wrong type for the named algorithm raises
:class:`~activitypub_kit.errors.AlgorithmMismatchError` before any cryptography runs.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from activitypub_kit.errors import (
    AlgorithmMismatchError,
    InvalidSignatureError,
    UnsupportedAlgorithmError,
)
from activitypub_kit.signatures._keys import PrivateKey, PublicKey

SigningKey = PrivateKey | bytes
VerifyingKey = PublicKey | bytes

_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
_SHA384 = hashes.SHA384()
_SHA512 = hashes.SHA512()
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
_PSS_VERIFY = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=padding.PSS.AUTO)

#: The algorithms RFC 9421 registers, all supported.
RFC9421_ALGORITHMS = (
    "rsa-pss-sha512",
    "rsa-v1_5-sha256",
    "hmac-sha256",
    "ecdsa-p256-sha256",
    "ecdsa-p384-sha384",
    "ed25519",
)


_KIND_BY_TYPE: dict[type, str] = {}


def _compute_kind(key: object) -> str:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return "rsa"
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, bytes):
        return "hmac"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return "ec"
    return type(key).__name__


def key_kind(key: object) -> str:
    """A short name of the key's type: ``rsa``, ``ed25519``, ``p256``, ``p384``, ``hmac``."""
    kind = _KIND_BY_TYPE.get(type(key))
    if kind is None:
        kind = _KIND_BY_TYPE[type(key)] = _compute_kind(key)
    if kind == "ec":
        name: str = key.curve.name  # type: ignore[attr-defined]
        return {"secp256r1": "p256", "secp384r1": "p384"}.get(name, name)
    return kind


_KIND_OF = {
    "rsa-pss-sha512": "rsa",
    "rsa-v1_5-sha256": "rsa",
    "rsa-sha256": "rsa",
    "hmac-sha256": "hmac",
    "ecdsa-p256-sha256": "p256",
    "ecdsa-p384-sha384": "p384",
    "ed25519": "ed25519",
}
_DEFAULT_FOR_KIND = {
    "rsa": "rsa-v1_5-sha256",
    "ed25519": "ed25519",
    "p256": "ecdsa-p256-sha256",
    "p384": "ecdsa-p384-sha384",
    "hmac": "hmac-sha256",
}


def algorithm_for_key(key: SigningKey | VerifyingKey) -> str:
    """The RFC 9421 algorithm a key of this type signs with by default."""
    kind = key_kind(key)
    try:
        return _DEFAULT_FOR_KIND[kind]
    except KeyError:
        raise AlgorithmMismatchError(f"no signature algorithm for a {kind} key") from None


def check_key(algorithm: str, key: SigningKey | VerifyingKey) -> None:
    """Raise unless ``key`` has the type ``algorithm`` needs.

    :raises UnsupportedAlgorithmError: for an unknown algorithm name.
    :raises AlgorithmMismatchError: for a key of another type.
    """
    wanted = _KIND_OF.get(algorithm)
    if wanted is None:
        raise UnsupportedAlgorithmError(f"signature algorithm {algorithm!r} is not supported")
    kind = key_kind(key)
    if kind != wanted:
        raise AlgorithmMismatchError(f"algorithm {algorithm!r} needs a {wanted} key, not {kind}")


def sign(algorithm: str, key: SigningKey, data: bytes) -> bytes:
    """Sign ``data`` with ``key`` using the named algorithm."""
    check_key(algorithm, key)
    if algorithm in ("rsa-v1_5-sha256", "rsa-sha256"):
        return key.sign(data, _PKCS1, _SHA256)  # type: ignore[union-attr, call-arg, arg-type]
    if algorithm == "rsa-pss-sha512":
        return key.sign(data, _PSS, _SHA512)  # type: ignore[union-attr, call-arg, arg-type]
    if algorithm == "ed25519":
        return key.sign(data)  # type: ignore[union-attr, call-arg]
    if algorithm == "hmac-sha256":
        return hmac.new(key, data, hashlib.sha256).digest()  # type: ignore[arg-type]
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    size, digest = (32, _SHA256) if algorithm == "ecdsa-p256-sha256" else (48, _SHA384)
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _rsa_pkcs1(key: rsa.RSAPublicKey, sig: bytes, data: bytes) -> None:
    key.verify(sig, data, _PKCS1, _SHA256)


def _rsa_pss(key: rsa.RSAPublicKey, sig: bytes, data: bytes) -> None:
    key.verify(sig, data, _PSS_VERIFY, _SHA512)


def _ecdsa(size: int, digest: hashes.HashAlgorithm) -> Callable[..., None]:
    def verify(key: ec.EllipticCurvePublicKey, sig: bytes, data: bytes) -> None:
        if len(sig) != 2 * size:
            raise InvalidSignature
        r, s = int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big")
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(digest))

    return verify


def _hmac(key: bytes, sig: bytes, data: bytes) -> None:
    if not hmac.compare_digest(hmac.new(key, data, hashlib.sha256).digest(), sig):
        raise InvalidSignature


_VERIFIERS: dict[str, Callable[..., None]] = {
    "rsa-v1_5-sha256": _rsa_pkcs1,
    "rsa-sha256": _rsa_pkcs1,
    "rsa-pss-sha512": _rsa_pss,
    "ed25519": lambda key, sig, data: key.verify(sig, data),
    "hmac-sha256": _hmac,
    "ecdsa-p256-sha256": _ecdsa(32, _SHA256),
    "ecdsa-p384-sha384": _ecdsa(48, _SHA384),
}


def verify(algorithm: str, key: VerifyingKey, data: bytes, signature: bytes, what: str) -> None:
    """Verify ``signature`` over ``data``; ``what`` names the signature in the error.

    :raises InvalidSignatureError: when it does not verify.
    """
    check_key(algorithm, key)
    verify_checked(algorithm, key, data, signature, what)


def verify_checked(
    algorithm: str, key: VerifyingKey, data: bytes, signature: bytes, what: str
) -> None:
    """:func:`verify` for a key already passed through :func:`check_key`."""
    if not verifies(algorithm, key, data, signature):
        raise mismatch(algorithm, key, what)


def verifies(algorithm: str, key: VerifyingKey, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` verifies (the key already passed :func:`check_key`)."""
    try:
        _VERIFIERS[algorithm](key, signature, data)
    except InvalidSignature:
        return False
    return True


def mismatch(algorithm: str, key: VerifyingKey, what: str) -> InvalidSignatureError:
    """The error for a signature (``what`` names it) that does not verify."""
    return InvalidSignatureError(
        f"{what} does not verify with the {key_kind(key)} key ({algorithm})"
    )


__all__ = [
    "SigningKey",
    "VerifyingKey",
    "RFC9421_ALGORITHMS",
    "key_kind",
    "algorithm_for_key",
    "check_key",
    "sign",
    "verify",
    "verify_checked",
    "verifies",
    "mismatch",
]

"""Key generation and loading: PEM, JWK and Multikey (FEP-521a).

Keys are ``cryptography`` key objects; the signing and verifying functions accept them
directly so nothing is re-parsed per request.  PEM loading is memoised
(:func:`load_public_key_pem` / :func:`load_private_key_pem`), so code that only has the PEM
string from an actor document pays the parsing cost once per key.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeAlias

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from activitypub_kit.errors import KeyFormatError
from activitypub_kit.signatures._encoding import (
    b64url_decode,
    b64url_encode,
    multibase_decode,
    multibase_encode,
    varint_decode,
    varint_encode,
)

#: A private key usable for signing.
PrivateKey: TypeAlias = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
#: A public key usable for verifying.
PublicKey: TypeAlias = rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey

# multicodec codes (https://github.com/multiformats/multicodec table)
_ED25519_PUB = 0xED
_ED25519_PRIV = 0x1300
_RSA_PUB = 0x1205
_P256_PUB = 0x1200
_P384_PUB = 0x1201
_CURVES: dict[str, type[ec.EllipticCurve]] = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1}
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384"}


def generate_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """Generate an RSA private key (2048 bits by default; 4096 for long-lived keys)."""
    if bits not in (2048, 3072, 4096):
        raise KeyFormatError(f"RSA key size must be 2048, 3072 or 4096 bits, not {bits}")
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def generate_ed25519_key() -> ed25519.Ed25519PrivateKey:
    """Generate an Ed25519 private key."""
    return ed25519.Ed25519PrivateKey.generate()


# --- PEM -------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _load_public_pem(data: bytes) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError(f"public key PEM cannot be loaded: {_first_line(exc)}") from None
    return _check_public(key)


@lru_cache(maxsize=256)
def _load_private_pem(data: bytes, password: bytes | None) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError(f"private key PEM cannot be loaded: {_first_line(exc)}") from None
    if not isinstance(
        key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    ):
        raise KeyFormatError(f"private key type {type(key).__name__} is not supported")
    return key


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _check_public(key: object) -> PublicKey:
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise KeyFormatError(f"public key type {type(key).__name__} is not supported")
    return key


def load_public_key_pem(pem: str | bytes) -> PublicKey:
    """Load a PEM public key (SPKI ``PUBLIC KEY`` or PKCS#1 ``RSA PUBLIC KEY``); memoised.

    :raises KeyFormatError: when the PEM is malformed or of an unsupported key type.
    """
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    return _load_public_pem(data.strip())


def load_private_key_pem(pem: str | bytes, password: bytes | None = None) -> PrivateKey:
    """Load a PEM private key (PKCS#8 or PKCS#1); memoised.

    :raises KeyFormatError: when the PEM is malformed or of an unsupported key type.
    """
    data = pem.encode("ascii", "replace") if isinstance(pem, str) else pem
    return _load_private_pem(data.strip(), password)


def public_key_to_pem(key: PublicKey | PrivateKey) -> str:
    """Serialise the public half of ``key`` as SPKI PEM (what ``publicKeyPem`` holds)."""
    public = public_key_of(key)
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def private_key_to_pem(key: PrivateKey) -> str:
    """Serialise ``key`` as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def public_key_of(key: PublicKey | PrivateKey) -> PublicKey:
    """Return the public key of ``key`` (itself if already public)."""
    if isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        return key.public_key()
    return key


def _is_private(key: object) -> bool:
    return isinstance(
        key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    )


# --- JWK -------------------------------------------------------------------------------


def _int_b64(value: int) -> str:
    return b64url_encode(value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def _b64_int(jwk: dict[str, Any], name: str) -> int:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise KeyFormatError(f"JWK member {name!r} is missing or not a string")
    return int.from_bytes(b64url_decode(value, what=f"JWK member {name!r}"), "big")


def public_key_to_jwk(key: PublicKey | PrivateKey) -> dict[str, str]:
    """Encode the public half of ``key`` as a JWK (RFC 7517/8037)."""
    public = public_key_of(key)
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        return {"kty": "RSA", "n": _int_b64(numbers.n), "e": _int_b64(numbers.e)}
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    crv = _CURVE_NAMES.get(public.curve.name)
    if crv is None:
        raise KeyFormatError(f"elliptic curve {public.curve.name} is not supported")
    size = (public.curve.key_size + 7) // 8
    ec_numbers = public.public_numbers()
    return {
        "kty": "EC",
        "crv": crv,
        "x": b64url_encode(ec_numbers.x.to_bytes(size, "big")),
        "y": b64url_encode(ec_numbers.y.to_bytes(size, "big")),
    }


def private_key_to_jwk(key: PrivateKey) -> dict[str, str]:
    """Encode ``key`` (private members included) as a JWK."""
    jwk = public_key_to_jwk(key)
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        jwk.update(
            d=_int_b64(n.d), p=_int_b64(n.p), q=_int_b64(n.q),
            dp=_int_b64(n.dmp1), dq=_int_b64(n.dmq1), qi=_int_b64(n.iqmp),
        )  # fmt: skip
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        jwk["d"] = b64url_encode(raw)
    else:
        size = (key.curve.key_size + 7) // 8
        jwk["d"] = b64url_encode(key.private_numbers().private_value.to_bytes(size, "big"))
    return jwk


def jwk_to_key(jwk: dict[str, Any]) -> PublicKey | PrivateKey | bytes:
    """Decode a JWK: a private key when it has ``d``, else a public key; ``oct`` gives bytes.

    :raises KeyFormatError: on an unknown ``kty``/``crv`` or a malformed member.
    """
    if not isinstance(jwk, dict):
        raise KeyFormatError("JWK must be a JSON object")
    kty = jwk.get("kty")
    try:
        if kty == "RSA":
            public = rsa.RSAPublicNumbers(_b64_int(jwk, "e"), _b64_int(jwk, "n"))
            if "d" not in jwk:
                return public.public_key()
            return rsa.RSAPrivateNumbers(
                p=_b64_int(jwk, "p"), q=_b64_int(jwk, "q"), d=_b64_int(jwk, "d"),
                dmp1=_b64_int(jwk, "dp"), dmq1=_b64_int(jwk, "dq"), iqmp=_b64_int(jwk, "qi"),
                public_numbers=public,
            ).private_key()  # fmt: skip
        if kty == "OKP":
            if jwk.get("crv") != "Ed25519":
                raise KeyFormatError(f"JWK OKP curve {jwk.get('crv')!r} is not supported")
            if "d" in jwk:
                seed = b64url_decode(jwk["d"], what="JWK member 'd'")
                return ed25519.Ed25519PrivateKey.from_private_bytes(seed)
            x = b64url_decode(jwk.get("x", ""), what="JWK member 'x'")
            return ed25519.Ed25519PublicKey.from_public_bytes(x)
        if kty == "EC":
            curve = _CURVES.get(str(jwk.get("crv")))
            if curve is None:
                raise KeyFormatError(f"JWK EC curve {jwk.get('crv')!r} is not supported")
            point = ec.EllipticCurvePublicNumbers(_b64_int(jwk, "x"), _b64_int(jwk, "y"), curve())
            if "d" in jwk:
                return ec.EllipticCurvePrivateNumbers(_b64_int(jwk, "d"), point).private_key()
            return point.public_key()
        if kty == "oct":
            return b64url_decode(jwk.get("k", ""), what="JWK member 'k'")
    except ValueError as exc:
        raise KeyFormatError(f"JWK of kty {kty!r} is invalid: {_first_line(exc)}") from None
    raise KeyFormatError(f"JWK kty {kty!r} is not supported")


# --- Multikey (FEP-521a) ---------------------------------------------------------------


def public_key_to_multibase(key: PublicKey | PrivateKey) -> str:
    """Encode the public half of ``key`` as a Multikey ``publicKeyMultibase`` value."""
    public = public_key_of(key)
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return multibase_encode(varint_encode(_ED25519_PUB) + raw)
    if isinstance(public, rsa.RSAPublicKey):
        der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        return multibase_encode(varint_encode(_RSA_PUB) + der)
    code = {"secp256r1": _P256_PUB, "secp384r1": _P384_PUB}.get(public.curve.name)
    if code is None:
        raise KeyFormatError(f"elliptic curve {public.curve.name} has no Multikey encoding")
    point = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    return multibase_encode(varint_encode(code) + point)


def multibase_to_public_key(value: str) -> PublicKey:
    """Decode a Multikey ``publicKeyMultibase`` value (Ed25519, RSA, P-256, P-384).

    :raises KeyFormatError: on a bad multibase string, an unknown codec or bad key bytes.
    """
    data = multibase_decode(value, what="publicKeyMultibase")
    code, offset = varint_decode(data, what="publicKeyMultibase multicodec prefix")
    body = data[offset:]
    try:
        if code == _ED25519_PUB:
            if len(body) != 32:
                raise KeyFormatError(f"Ed25519 Multikey must hold 32 bytes, not {len(body)}")
            return ed25519.Ed25519PublicKey.from_public_bytes(body)
        if code == _RSA_PUB:
            return _check_public(serialization.load_der_public_key(_pkcs1_to_spki(body)))
        if code in (_P256_PUB, _P384_PUB):
            curve = ec.SECP256R1() if code == _P256_PUB else ec.SECP384R1()
            return ec.EllipticCurvePublicKey.from_encoded_point(curve, body)
    except ValueError as exc:
        raise KeyFormatError(f"Multikey bytes are invalid: {_first_line(exc)}") from None
    raise KeyFormatError(f"Multikey codec 0x{code:x} is not a supported public key type")


def _pkcs1_to_spki(der: bytes) -> bytes:
    # Wrap a PKCS#1 RSAPublicKey in SubjectPublicKeyInfo (rsaEncryption, NULL params).
    def length(n: int) -> bytes:
        if n < 0x80:
            return bytes([n])
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return bytes([0x80 | len(raw)]) + raw

    algorithm = bytes.fromhex("300d06092a864886f70d0101010500")
    bit_string = b"\x03" + length(len(der) + 1) + b"\x00" + der
    body = algorithm + bit_string
    return b"\x30" + length(len(body)) + body


def private_key_to_multibase(key: ed25519.Ed25519PrivateKey) -> str:
    """Encode an Ed25519 private key as ``secretKeyMultibase`` (multicodec ed25519-priv)."""
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return multibase_encode(varint_encode(_ED25519_PRIV) + raw)


def multibase_to_private_key(value: str) -> ed25519.Ed25519PrivateKey:
    """Decode an Ed25519 ``secretKeyMultibase`` value.

    :raises KeyFormatError: on a bad string, another codec, or a wrong length.
    """
    data = multibase_decode(value, what="secretKeyMultibase")
    code, offset = varint_decode(data, what="secretKeyMultibase multicodec prefix")
    if code != _ED25519_PRIV or len(data) - offset != 32:
        raise KeyFormatError("secretKeyMultibase is not a 32-byte Ed25519 private key")
    return ed25519.Ed25519PrivateKey.from_private_bytes(data[offset:])


__all__ = [
    "PrivateKey",
    "PublicKey",
    "generate_rsa_key",
    "generate_ed25519_key",
    "load_public_key_pem",
    "load_private_key_pem",
    "public_key_to_pem",
    "private_key_to_pem",
    "public_key_of",
    "public_key_to_jwk",
    "private_key_to_jwk",
    "jwk_to_key",
    "public_key_to_multibase",
    "multibase_to_public_key",
    "private_key_to_multibase",
    "multibase_to_private_key",
]

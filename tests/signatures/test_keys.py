"""Keys: generation, PEM/JWK/Multikey round trips, FEP-521a vectors, actor entries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from activitypub_kit.errors import KeyFormatError
from activitypub_kit.signatures import (
    actor_keys,
    find_actor_key,
    generate_ed25519_key,
    generate_rsa_key,
    jwk_to_key,
    load_private_key_pem,
    load_public_key_pem,
    multibase_to_private_key,
    multibase_to_public_key,
    multikey_entry,
    private_key_to_jwk,
    private_key_to_multibase,
    private_key_to_pem,
    public_key_entry,
    public_key_to_jwk,
    public_key_to_multibase,
    public_key_to_pem,
)
from activitypub_kit.signatures._encoding import multibase_encode


def _raw(key: Any) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def fep521a(corpus: Path) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(
        (corpus / "integrity-proofs/fep/fep-521a_vectors.json").read_text()
    )["cases"]
    return cases


def test_fep_521a_ed25519(fep521a: list[dict[str, Any]]) -> None:
    case = fep521a[0]
    key = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(case["public_key_hex"]))
    entry = multikey_entry(
        key, key_id=f"{case['actor_id']}#ed25519-key", controller=case["actor_id"]
    )
    assert entry == case["expected_multikey"]
    decoded = multibase_to_public_key(entry["publicKeyMultibase"])
    assert _raw(decoded) == _raw(key)


def test_fep_521a_rsa(fep521a: list[dict[str, Any]]) -> None:
    case = fep521a[1]
    key = serialization.load_der_public_key(
        _spki_from_pkcs1(bytes.fromhex(case["public_key_pkcs1_der_hex"]))
    )
    assert isinstance(key, rsa.RSAPublicKey)
    entry = multikey_entry(key, key_id=f"{case['actor_id']}#rsa-key", controller=case["actor_id"])
    assert entry == case["expected_multikey"]
    assert _raw(multibase_to_public_key(entry["publicKeyMultibase"])) == _raw(key)


def _spki_from_pkcs1(der: bytes) -> bytes:
    pem = b"-----BEGIN RSA PUBLIC KEY-----\n"
    import base64

    pem += base64.encodebytes(der) + b"-----END RSA PUBLIC KEY-----\n"
    return load_public_key_pem(pem).public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize("kind", ["rsa", "rsa4096", "ed25519", "p256", "p384"])
def test_round_trips(kind: str, rsa_key: Any) -> None:
    key: Any = {
        "rsa": lambda: rsa_key,
        "rsa4096": lambda: generate_rsa_key(4096),
        "ed25519": generate_ed25519_key,
        "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    }[kind]()
    public = key.public_key()
    assert _raw(load_public_key_pem(public_key_to_pem(key))) == _raw(public)
    assert _raw(load_private_key_pem(private_key_to_pem(key)).public_key()) == _raw(public)
    assert _raw(jwk_to_key(public_key_to_jwk(key))) == _raw(public)  # type: ignore[arg-type]
    private_again = jwk_to_key(private_key_to_jwk(key))
    assert private_key_to_pem(private_again) == private_key_to_pem(key)  # type: ignore[arg-type]
    assert _raw(multibase_to_public_key(public_key_to_multibase(key))) == _raw(public)
    if kind == "rsa4096":
        assert key.key_size == 4096


def test_ed25519_secret_multibase_round_trip() -> None:
    key = generate_ed25519_key()
    again = multibase_to_private_key(private_key_to_multibase(key))
    assert _raw(again.public_key()) == _raw(key.public_key())


def test_pem_loading_is_memoised(rsa_key: Any) -> None:
    pem = public_key_to_pem(rsa_key)
    assert load_public_key_pem(pem) is load_public_key_pem(pem.encode())


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: load_public_key_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"),
         "public key PEM cannot be loaded"),
        (lambda: load_private_key_pem("nonsense"), "private key PEM cannot be loaded"),
        (lambda: jwk_to_key({"kty": "XYZ"}), "kty 'XYZ' is not supported"),
        (lambda: jwk_to_key({"kty": "RSA", "n": "AQAB"}), "'e' is missing"),
        (lambda: jwk_to_key({"kty": "OKP", "crv": "X25519", "x": "AA"}), "curve 'X25519'"),
        (lambda: jwk_to_key({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}), "invalid"),
        (lambda: multibase_to_public_key("uABC"), "must be multibase base58btc"),
        (lambda: multibase_to_public_key("z0OIl"), "not base58btc"),
        (lambda: multibase_to_public_key(multibase_encode(b"\xed\x01" + bytes(31))), "32 bytes"),
        (lambda: multibase_to_public_key("z" + "2" * 10), "not a supported public key type"),
        (lambda: multibase_to_private_key("z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"),
         "not a 32-byte Ed25519 private key"),
        (lambda: generate_rsa_key(1024), "2048, 3072 or 4096"),
    ],
)  # fmt: skip
def test_key_format_errors(call: Any, message: str) -> None:
    with pytest.raises(KeyFormatError, match=message):
        call()


def test_actor_entries_and_lookup(rsa_key: Any, ed_key: Any) -> None:
    actor_id = "https://example.com/users/alice"
    actor: dict[str, Any] = {
        "id": actor_id,
        "publicKey": public_key_entry(rsa_key, key_id=f"{actor_id}#main-key", owner=actor_id),
        "assertionMethod": [
            multikey_entry(ed_key, key_id=f"{actor_id}#ed25519-key", controller=actor_id),
            # someone else's key listed here proves nothing about alice
            multikey_entry(
                ed_key, key_id="https://evil.example/k", controller="https://evil.example/u"
            ),
        ],
    }
    keys = actor_keys(actor)
    assert [(k.id, k.source) for k in keys] == [
        (f"{actor_id}#main-key", "publicKey"),
        (f"{actor_id}#ed25519-key", "assertionMethod"),
    ]
    assert _raw(find_actor_key(actor, f"{actor_id}#main-key").key) == _raw(rsa_key.public_key())
    with pytest.raises(KeyFormatError, match=r"lists no key 'https://evil\.example/k' of its own"):
        find_actor_key(actor, "https://evil.example/k")
    # several publicKey entries (a list) are supported
    second = generate_ed25519_key()
    actor["publicKey"] = [
        actor["publicKey"],
        public_key_entry(second, key_id=f"{actor_id}#k2", owner=actor_id),
    ]
    assert _raw(find_actor_key(actor, f"{actor_id}#k2").key) == _raw(second.public_key())
    with pytest.raises(KeyFormatError, match="no string id"):
        actor_keys({"publicKey": actor["publicKey"]})


def test_key_document_errors(ed_key: Any) -> None:
    from activitypub_kit.signatures import key_from_document

    entry = multikey_entry(ed_key, key_id="https://a.example/k", controller="https://a.example/u")
    assert key_from_document(entry).owner == "https://a.example/u"
    with pytest.raises(KeyFormatError, match="no string id"):
        key_from_document({"publicKeyPem": "x"})
    with pytest.raises(KeyFormatError, match="names no owner or controller"):
        key_from_document({"id": "https://a.example/k", "publicKeyPem": "x"})
    with pytest.raises(KeyFormatError, match="neither publicKeyPem nor publicKeyMultibase"):
        key_from_document({"id": "https://a.example/k", "owner": "https://a.example/u"})

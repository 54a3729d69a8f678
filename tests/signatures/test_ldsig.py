"""RsaSignature2017: sign/verify through URDNA2015, compaction before trust (CVE-2022-24307)."""

from __future__ import annotations

import copy
import socket
from typing import Any

import pytest

from activitypub_kit.errors import InvalidSignatureError, ProofError
from activitypub_kit.signatures import (
    compact,
    parse_ld_signature,
    sign_ld_signature,
    verify_ld_signature,
)

ALICE = "https://victim.test/users/alice"


def _create(summary: str = "a post") -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/activitystreams"],
        "id": f"{ALICE}/statuses/1/activity",
        "type": "Create",
        "actor": ALICE,
        "summary": summary,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": f"{ALICE}/statuses/1",
            "type": "Note",
            "attributedTo": ALICE,
            "content": "<p>hello</p>",
        },
    }


@pytest.fixture(scope="module")
def signed(rsa_key: Any) -> dict[str, Any]:
    return sign_ld_signature(
        _create("https://evil.test/users/mallory"), rsa_key, f"{ALICE}#main-key", now=1_700_000_000
    )


def test_sign_then_verify_returns_compacted_document(signed: dict[str, Any], rsa_key: Any) -> None:
    assert "https://w3id.org/security/v1" in signed["@context"]
    assert signed["signature"]["created"] == "2023-11-14T22:13:20Z"
    parsed = parse_ld_signature(signed)
    assert parsed.creator == f"{ALICE}#main-key"
    trusted = verify_ld_signature(signed, parsed, rsa_key.public_key())
    assert "signature" not in trusted
    assert trusted["actor"] == ALICE
    assert trusted["object"]["content"] == "<p>hello</p>"


def test_tampering_breaks_the_signature(signed: dict[str, Any], rsa_key: Any) -> None:
    forged = copy.deepcopy(signed)
    forged["object"]["content"] = "<p>send me your money</p>"
    with pytest.raises(InvalidSignatureError, match="does not verify"):
        verify_ld_signature(forged, parse_ld_signature(forged), rsa_key.public_key())


def test_reinterpreting_context_is_neutralised_by_compaction(
    signed: dict[str, Any], rsa_key: Any
) -> None:
    """CVE-2022-24307: a context that swaps term meanings keeps the RDF (and signature)
    but changes what the raw JSON says; the compacted result says what was signed."""
    forged = copy.deepcopy(signed)
    forged["@context"] = [
        *signed["@context"],
        {"actor": "as:summary", "summary": {"@id": "as:actor", "@type": "@id"}},
    ]
    forged["actor"], forged["summary"] = signed["summary"], signed["actor"]
    assert forged["actor"] == "https://evil.test/users/mallory"  # what raw JSON would claim
    trusted = verify_ld_signature(forged, parse_ld_signature(forged), rsa_key.public_key())
    assert trusted["actor"] == ALICE
    assert trusted["summary"] == "https://evil.test/users/mallory"


def test_remote_context_is_never_fetched(rsa_key: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown @context URL is refused without any connection attempt."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        attempts.append(args)
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    document = _create()
    document["@context"] = [*document["@context"], "https://evil.test/ctx.jsonld"]
    with pytest.raises(ProofError, match=r"evil\.test/ctx\.jsonld.*never fetched"):
        sign_ld_signature(document, rsa_key, f"{ALICE}#main-key")
    forged = sign_ld_signature(_create(), rsa_key, f"{ALICE}#main-key")
    forged["@context"] = [*forged["@context"], "https://evil.test/ctx.jsonld"]
    with pytest.raises(ProofError, match="never fetched"):
        verify_ld_signature(forged, parse_ld_signature(forged), rsa_key.public_key())
    assert attempts == []


def test_deep_nesting_is_bounded(rsa_key: Any) -> None:
    document: dict[str, Any] = _create()
    inner = document["object"]
    for _ in range(256):
        inner["inReplyTo"] = {"type": "Note"}
        inner = inner["inReplyTo"]
    with pytest.raises(ProofError, match="nested deeper than 64"):
        sign_ld_signature(document, rsa_key, f"{ALICE}#main-key")
    with pytest.raises(ProofError, match="nested deeper than 64"):
        compact(document)


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (None, "no signature object"),
        ({"type": "Ed25519Signature2018"}, "not RsaSignature2017"),
        ({"type": "RsaSignature2017", "creator": "k"}, "string creator, created and"),
        ({"type": "RsaSignature2017", "creator": "k", "created": "x", "signatureValue": "@@"},
         "not valid padded base64"),
    ],
)  # fmt: skip
def test_malformed_signature_blocks(signature: Any, message: str) -> None:
    document = _create()
    if signature is not None:
        document["signature"] = signature
    with pytest.raises(ProofError, match=message):
        parse_ld_signature(document)


def test_key_types_are_checked(signed: dict[str, Any], ed_key: Any) -> None:
    with pytest.raises(ProofError, match="RSA private key"):
        sign_ld_signature(_create(), ed_key, "k")
    with pytest.raises(ProofError, match="RSA public key"):
        verify_ld_signature(signed, parse_ld_signature(signed), ed_key.public_key())


def test_real_mastodon_ld_signature_verifies(corpus: Any) -> None:
    """A Mastodon-made RsaSignature2017 (Pleroma's fixture) verifies with the actor's key."""
    import json

    from activitypub_kit.signatures import load_public_key_pem

    documents = corpus / "activitypub-real-world/documents"
    actor = json.loads(
        (
            documents / "mastodon__Person__rebased-tesla_mock_admin-mastdon.example.org.json"
        ).read_text()
    )
    key = load_public_key_pem(actor["publicKey"]["publicKeyPem"])
    accept = json.loads(
        (documents / "mastodon__Accept-Follow__rebased-mastodon-accept-activity.json").read_text()
    )
    parsed = parse_ld_signature(accept)
    assert parsed.creator == actor["publicKey"]["id"]
    trusted = verify_ld_signature(accept, parsed, key)
    assert trusted["type"] == "Accept"
    assert trusted["actor"] == actor["id"]
    forged = copy.deepcopy(accept)
    forged["actor"] = "http://mastodon.example.org/users/someone-else"
    with pytest.raises(InvalidSignatureError):
        verify_ld_signature(forged, parse_ld_signature(forged), key)
    # the extra options of a signature block are signed as well
    extended = copy.deepcopy(accept)
    extended["signature"]["nonce"] = "abc"
    with pytest.raises(InvalidSignatureError):
        verify_ld_signature(extended, parse_ld_signature(extended), key)

"""Cross-implementation tests against the PyPI ``http-message-signatures`` package:
each signs, the other verifies, both directions, for every algorithm both support."""

from __future__ import annotations

import datetime
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)
from http_message_signatures.structures import CaseInsensitiveDict

from activitypub_kit.errors import InvalidSignatureError
from activitypub_kit.signatures import (
    HttpRequest,
    Rfc9421Policy,
    SignatureOptions,
    generate_ed25519_key,
    parse_rfc9421,
    sign_rfc9421,
    verify_rfc9421,
)

ALGORITHMS = {
    "rsa-pss-sha512": algorithms.RSA_PSS_SHA512,
    "rsa-v1_5-sha256": algorithms.RSA_V1_5_SHA256,
    "hmac-sha256": algorithms.HMAC_SHA256,
    "ecdsa-p256-sha256": algorithms.ECDSA_P256_SHA256,
    "ecdsa-p384-sha384": algorithms.ECDSA_P384_SHA384,
    "ed25519": algorithms.ED25519,
}
COMPONENTS = ["@method", "@target-uri", "@authority", "@path", "@query", "content-type",
              "content-digest", '"@query-param";name="page"', "date"]  # fmt: skip
URL = "https://inbox.example/users/bob/inbox?page=2&q=a%20b"
BODY = b'{"type": "Create", "object": {"content": "caf\xc3\xa9"}}'
NOW = 1_732_000_000


class Message:
    """The duck-typed request pyauth signs and verifies."""

    def __init__(self, method: str, url: str, headers: dict[str, str]) -> None:
        self.method = method
        self.url = url
        self.headers = CaseInsensitiveDict(headers)


@pytest.fixture(scope="module")
def keys(rsa_key: Any) -> dict[str, tuple[Any, Any]]:
    secret = os.urandom(64)
    p256 = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    ed = generate_ed25519_key()
    return {
        "rsa-pss-sha512": (rsa_key, rsa_key.public_key()),
        "rsa-v1_5-sha256": (rsa_key, rsa_key.public_key()),
        "hmac-sha256": (secret, secret),
        "ecdsa-p256-sha256": (p256, p256.public_key()),
        "ecdsa-p384-sha384": (p384, p384.public_key()),
        "ed25519": (ed, ed.public_key()),
    }


def _ours(headers: dict[str, str]) -> HttpRequest:
    return HttpRequest("POST", URL, list(headers.items()), BODY)


def _base_headers() -> dict[str, str]:
    return {
        "Host": "inbox.example",
        "Date": "Tue, 19 Nov 2024 07:06:40 GMT",
        "Content-Type": "application/activity+json",
    }


@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_pyauth_signs_we_verify(alg: str, keys: dict[str, tuple[Any, Any]]) -> None:
    private, public = keys[alg]
    message = Message("POST", URL, _base_headers())
    signer = HTTPMessageSigner(
        signature_algorithm=ALGORITHMS[alg],
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={"k1": private}),
    )
    signer.sign(
        message, key_id="k1", label="sig1", body=BODY,
        created=datetime.datetime.fromtimestamp(NOW, datetime.UTC),
        covered_component_ids=[c for c in COMPONENTS if c != "content-digest"],
    )  # fmt: skip
    request = _ours(dict(message.headers.items()))
    (sig,) = parse_rfc9421(request)
    assert sig.algorithm == alg
    assert sig.key_id == "k1"
    result = verify_rfc9421(request, sig, public, now=NOW)
    assert result.algorithm == alg
    assert '"content-digest"' in result.covered
    # and a changed body or query string is caught
    tampered = HttpRequest("POST", URL, list(message.headers.items()), BODY + b" ")
    with pytest.raises(Exception, match="does not match the body"):
        verify_rfc9421(tampered, sig, public, now=NOW)
    moved = HttpRequest(
        "POST", URL.replace("page=2", "page=3"), list(message.headers.items()), BODY
    )
    with pytest.raises(InvalidSignatureError):
        verify_rfc9421(moved, parse_rfc9421(moved)[0], public, now=NOW)


@pytest.mark.parametrize("alg", list(ALGORITHMS))
@pytest.mark.parametrize("include_alg", [True, False])
def test_we_sign_pyauth_verifies(
    alg: str, include_alg: bool, keys: dict[str, tuple[Any, Any]]
) -> None:
    private, public = keys[alg]
    signed = sign_rfc9421(
        _ours(_base_headers()), private, "k1", algorithm=alg,
        components=[c if c.startswith('"') else f'"{c}"' for c in COMPONENTS],
        options=SignatureOptions(created=NOW, nonce="n-123", tag="activitypub",
                                 include_alg=include_alg),
    )  # fmt: skip
    message = Message("POST", URL, dict(signed.headers.items()))
    verifier = HTTPMessageVerifier(
        signature_algorithm=ALGORITHMS[alg],
        key_resolver=MappingKeyResolver(public_keys={"k1": public}, private_keys={}),
    )
    (result,) = verifier.verify(
        message, max_age=None, body=BODY, expect_tag="activitypub",
        require_components=["@method", "@target-uri", "content-digest"],
    )  # fmt: skip
    assert result.label == "sig1"
    assert result.parameters["keyid"] == "k1"
    # pyauth refuses our signature once the body changes
    with pytest.raises(InvalidSignature):
        verifier.verify(message, max_age=None, body=BODY + b"x", expect_tag="activitypub")


def test_both_verify_a_message_with_two_signatures(keys: dict[str, tuple[Any, Any]]) -> None:
    """We add a second signature next to pyauth's; each side verifies both."""
    ed_private, ed_public = keys["ed25519"]
    rsa_private, rsa_public = keys["rsa-pss-sha512"]
    message = Message("POST", URL, _base_headers())
    HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={"ed": ed_private}),
    ).sign(message, key_id="ed", label="client", tag="t1", body=BODY,
           created=datetime.datetime.fromtimestamp(NOW, datetime.UTC))  # fmt: skip
    ours = sign_rfc9421(
        _ours(dict(message.headers.items())), rsa_private, "rsa", label="proxy",
        algorithm="rsa-pss-sha512", options=SignatureOptions(created=NOW, tag="t2"),
    )  # fmt: skip
    assert isinstance(ours, HttpRequest)
    first, second = parse_rfc9421(ours)
    lenient = Rfc9421Policy(required_components=())
    verify_rfc9421(ours, first, ed_public, now=NOW, policy=lenient)
    verify_rfc9421(ours, second, rsa_public, now=NOW, policy=lenient)
    both = Message("POST", URL, dict(ours.headers.items()))
    for alg, key, tag in (
        (algorithms.ED25519, ed_public, "t1"),
        (algorithms.RSA_PSS_SHA512, rsa_public, "t2"),
    ):
        verifier = HTTPMessageVerifier(
            signature_algorithm=alg,
            key_resolver=MappingKeyResolver(public_keys={"ed": key, "rsa": key}, private_keys={}),
        )
        assert len(verifier.verify(both, max_age=None, expect_tag=tag)) == 1

"""RFC 9421 vectors from the corpus: every signature verifies, bases match, and the
deterministic algorithms are reproduced byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from activitypub_kit.errors import DigestMismatchError, InvalidSignatureError
from activitypub_kit.signatures import (
    SignatureOptions,
    parse_rfc9421,
    sign_rfc9421,
    verify_rfc9421,
)
from activitypub_kit.signatures._components import signature_base
from activitypub_kit.signatures._message import HttpRequest, HttpResponse
from activitypub_kit.signatures._rfc9421 import LENIENT_POLICY, MessageSignature

from .helpers import parse_message, parse_request

CASE_IDS = [
    "B.2.1", "B.2.2", "B.2.3", "B.2.4", "B.2.5", "B.2.6", "2.4-reqres-1", "2.4-reqres-2",
    "2.4-sig1-request", "3.2-sig1", "4.3-sig1-client", "4.3-proxy_sig", "B.3-ttrp",
    "B.4-transform",
]  # fmt: skip


def _case(rfc9421: dict[str, Any], case_id: str) -> dict[str, Any]:
    return next(c for c in rfc9421["cases"] if c["id"] == case_id)


def _signed_message(case: dict[str, Any]) -> HttpRequest | HttpResponse:
    raw = case.get("message_raw_corrected") or case["message_raw"]
    related = (
        parse_request(case["related_request_raw"]) if case.get("related_request_raw") else None
    )
    message = parse_message(raw, related)
    if "signature-input" not in message.headers:
        message = message.with_headers(
            {
                "Signature-Input": case["signature_input_header"],
                "Signature": case["signature_header"],
            }
        )
    return message


def _signature(message: HttpRequest | HttpResponse, label: str) -> MessageSignature:
    return next(s for s in parse_rfc9421(message) if s.label == label)


def test_corpus_has_fourteen_cases(rfc9421: dict[str, Any]) -> None:
    assert sorted(c["id"] for c in rfc9421["cases"]) == sorted(CASE_IDS)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_signature_verifies(rfc9421: dict[str, Any], rfc9421_keys: Any, case_id: str) -> None:
    case = _case(rfc9421, case_id)
    message = _signed_message(case)
    sig = _signature(message, case["label"])
    assert sig.key_id == case["keyid"]
    result = verify_rfc9421(
        message, sig, rfc9421_keys[case["keyid"]][1], algorithm=case["algorithm"],
        policy=LENIENT_POLICY,
    )  # fmt: skip
    assert result.algorithm == case["algorithm"]
    assert result.covered == tuple(case["covered_components"])


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_signature_base_reproduced(rfc9421: dict[str, Any], case_id: str) -> None:
    case = _case(rfc9421, case_id)
    message = _signed_message(case)
    sig = _signature(message, case["label"])
    assert sig.params_value == case["signature_params_serialized"]
    assert signature_base(message, sig.components, sig.params_value) == case["signature_base"]


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_signature_verifies_with_time_checks(
    rfc9421: dict[str, Any], rfc9421_keys: Any, case_id: str
) -> None:
    """With the clock set to the signature's creation the default window accepts it."""
    case = _case(rfc9421, case_id)
    message = _signed_message(case)
    sig = _signature(message, case["label"])
    policy = LENIENT_POLICY.__class__(
        required_components=(), require_created=True, require_digest=False, check_time=True
    )
    key = rfc9421_keys[case["keyid"]][1]
    verify_rfc9421(message, sig, key, algorithm=case["algorithm"], now=sig.created, policy=policy)


@pytest.mark.parametrize("case_id", ["B.2.5", "B.2.6", "4.3-proxy_sig", "B.4-transform"])
def test_deterministic_signature_reproduced(
    rfc9421: dict[str, Any], rfc9421_keys: Any, case_id: str
) -> None:
    case = _case(rfc9421, case_id)
    assert case["deterministic_signature"]
    signed = _signed_message(case)
    bare = signed.with_headers({})
    unsigned_headers = [
        (k, v)
        for k, v in signed.headers.items()
        if k.lower() not in ("signature", "signature-input")
    ]
    if isinstance(signed, HttpRequest):
        unsigned: HttpRequest | HttpResponse = HttpRequest(
            bare.method,
            bare.url,
            unsigned_headers,
            bare.body,  # type: ignore[union-attr]
        )
    else:
        unsigned = HttpResponse(signed.status, unsigned_headers, signed.body, signed.request)
    private = rfc9421_keys[case["keyid"]][0]
    result = sign_rfc9421(
        unsigned,
        private,
        case["keyid"],
        label=case["label"],
        components=case["covered_components"],
        algorithm=case["algorithm"],
        options=SignatureOptions(params=[tuple(p) for p in case["signature_params"]]),
    )
    assert result.headers.get("signature-input") == case["signature_input_header"]
    assert result.headers.get("signature") == case["signature_header"]


def test_b4_transformations(rfc9421: dict[str, Any], rfc9421_keys: Any) -> None:
    """B.4: messages transformed in transit keep or lose validity exactly as listed."""
    case = _case(rfc9421, "B.4-transform")
    key = rfc9421_keys[case["keyid"]][1]
    outcomes = []
    for variant in case["message_variants"]:
        message = parse_request(variant["message"])
        sig = _signature(message, "transform")
        try:
            verify_rfc9421(message, sig, key, policy=LENIENT_POLICY)
            outcomes.append(True)
        except InvalidSignatureError:
            outcomes.append(False)
    assert outcomes == [v["signature_still_valid"] for v in case["message_variants"]]
    assert outcomes.count(False) == 2


def test_printed_test_response_digest_is_the_documented_erratum(
    rfc9421: dict[str, Any], rfc9421_keys: Any
) -> None:
    """B.2.4 as printed carries a Content-Digest that is not its body's: it must fail."""
    case = _case(rfc9421, "B.2.4")
    message = parse_message(case["message_raw"]).with_headers(
        {"Signature-Input": case["signature_input_header"], "Signature": case["signature_header"]}
    )
    sig = _signature(message, case["label"])
    with pytest.raises(DigestMismatchError, match=r"[Cc]ontent-[Dd]igest"):
        verify_rfc9421(message, sig, rfc9421_keys[case["keyid"]][1], policy=LENIENT_POLICY)


def test_proxy_message_carries_two_signatures(rfc9421: dict[str, Any], rfc9421_keys: Any) -> None:
    """4.3: both the client's and the proxy's signature on one message verify."""
    case = _case(rfc9421, "4.3-proxy_sig")
    message = parse_message(case["message_raw"])
    signatures = parse_rfc9421(message)
    assert [s.label for s in signatures] == ["sig1", "proxy_sig"]
    proxy = signatures[1]
    verify_rfc9421(message, proxy, rfc9421_keys["test-key-rsa"][1], policy=LENIENT_POLICY)
    # The client's signature covered the original authority; on the proxied message it fails.
    with pytest.raises(InvalidSignatureError):
        verify_rfc9421(
            message, signatures[0], rfc9421_keys["test-key-ecc-p256"][1], policy=LENIENT_POLICY
        )


def test_keys_match_their_files(corpus: Path, rfc9421: dict[str, Any], rfc9421_keys: Any) -> None:
    from activitypub_kit.signatures import jwk_to_key, public_key_to_jwk

    for kid in ("test-key-rsa", "test-key-rsa-pss", "test-key-ecc-p256", "test-key-ed25519"):
        jwk = json.loads((corpus / f"http-signatures/rfc9421/keys/{kid}.jwk.json").read_text())
        decoded = jwk_to_key(jwk)
        public = rfc9421_keys[kid][1]
        assert public_key_to_jwk(decoded) == public_key_to_jwk(public)  # type: ignore[arg-type]

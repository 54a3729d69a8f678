"""draft-cavage-12 Appendix C vectors and the real-world ActivityPub signatures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from activitypub_kit.errors import InvalidSignatureError, MalformedSignatureError
from activitypub_kit.signatures import (
    CavagePolicy,
    HttpRequest,
    TimeWindow,
    load_private_key_pem,
    load_public_key_pem,
    parse_cavage,
    parse_http_date,
    sign_cavage,
    verify_cavage,
)
from activitypub_kit.signatures._cavage import signing_string
from activitypub_kit.signatures._encoding import b64encode

from .helpers import parse_request

# Appendix C signs only "date" (Default Test) or omits digest: relax the coverage rules,
# never the signature check itself.
APPENDIX_C_POLICY = CavagePolicy(
    require_request_target=False, require_host=False, require_digest=False
)


@pytest.fixture(scope="module")
def cavage(corpus: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (corpus / "http-signatures/draft-cavage-12/cavage12_vectors.json").read_text()
    )
    return data


def _case(cavage: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in cavage["cases"] if c["name"] == name)


def _now(cavage: dict[str, Any]) -> int:
    return parse_http_date("Sun, 05 Jan 2014 21:31:40 GMT")


@pytest.mark.parametrize("name", ["Default Test", "Basic Test"])
@pytest.mark.parametrize("header", ["Signature", "Authorization"])
def test_appendix_c_verifies(cavage: dict[str, Any], name: str, header: str) -> None:
    case = _case(cavage, name)
    request = parse_request(cavage["request"])
    if header == "Signature" and "signature_header_value_single_line" in case:
        signed = request.with_headers({"Signature": case["signature_header_value_single_line"]})
    else:
        signed = request.with_headers(
            {"Authorization": case["authorization_header_value_single_line"]}
        )
    parsed = parse_cavage(signed)
    assert parsed.key_id == "Test"
    expected_headers = (case["headers_param"] or "date").split()
    assert parsed.headers == tuple(expected_headers)
    assert signing_string(request, parsed.headers) == case["signing_string"]
    key = load_public_key_pem(cavage["key"]["public_pem"])
    verify_cavage(signed, parsed, key, now=_now(cavage), policy=APPENDIX_C_POLICY)


@pytest.mark.parametrize("name", ["Default Test", "Basic Test"])
def test_appendix_c_resigned_exactly(cavage: dict[str, Any], name: str) -> None:
    case = _case(cavage, name)
    request = parse_request(cavage["request"])
    key = load_private_key_pem(cavage["key"]["private_pem"])
    signed = sign_cavage(
        request, key, "Test",
        headers=(case["headers_param"] or "date").split(),
        headers_param=case["headers_param"] is not None,
        now=_now(cavage),
    )  # fmt: skip
    assert signed.headers.get("signature") == case.get(
        "signature_header_value_single_line",
        case["authorization_header_value_single_line"].removeprefix("Signature "),
    )
    signed_auth = sign_cavage(
        request, key, "Test",
        headers=(case["headers_param"] or "date").split(),
        headers_param=case["headers_param"] is not None,
        now=_now(cavage), authorization=True,
    )  # fmt: skip
    assert (
        signed_auth.headers.get("authorization") == case["authorization_header_value_single_line"]
    )


def test_all_headers_erratum(cavage: dict[str, Any]) -> None:
    """C.3 lists (created) (expires) but its signature is draft-10's, over the rest."""
    case = _case(cavage, "All Headers Test")
    request = parse_request(cavage["request"])
    public = load_public_key_pem(cavage["key"]["public_pem"])
    private = load_private_key_pem(cavage["key"]["private_pem"])
    implied = signing_string(
        request, case["headers_param"].split(), created=case["created"], expires=case["expires"]
    )
    assert implied == case["signing_string_implied_by_headers_param"]
    printed = signing_string(request, case["draft10_headers_param"].split())
    assert printed == case["signing_string"]

    # As printed, the header is rejected: (created) with rsa-sha256, and the bytes are wrong.
    as_printed = request.with_headers({"Signature": case["signature_header_value_single_line"]})
    with pytest.raises(MalformedSignatureError, match=r"only allowed with hs2019"):
        verify_cavage(as_printed, parse_cavage(as_printed), public, now=case["created"])
    # The printed signature value does verify over the draft-10 header list ...
    draft10 = request.with_headers({
        "Signature": f'keyId="Test",algorithm="rsa-sha256",'
        f'headers="{case["draft10_headers_param"]}",signature="{case["signature_b64"]}"'
    })  # fmt: skip
    verify_cavage(draft10, parse_cavage(draft10), public, now=_now(cavage))
    # ... and re-signing that list reproduces it byte for byte.
    resigned = sign_cavage(
        request, private, "Test", headers=case["draft10_headers_param"].split(), now=_now(cavage)
    )
    assert parse_cavage(resigned).signature == parse_cavage(draft10).signature
    # Under hs2019 the implied string (with created/expires) does not match that signature.
    hs2019 = request.with_headers({
        "Signature": f'keyId="Test",algorithm="hs2019",created={case["created"]},'
        f'expires={case["expires"]},headers="{case["headers_param"]}",'
        f'signature="{case["signature_b64"]}"'
    })  # fmt: skip
    lenient = CavagePolicy(window=TimeWindow(max_age=10**10, max_future=10**10))
    with pytest.raises(InvalidSignatureError):
        verify_cavage(hs2019, parse_cavage(hs2019), public, now=case["created"], policy=lenient)


@pytest.fixture(scope="module")
def real_world(corpus: Path) -> list[dict[str, Any]]:
    path = corpus / "http-signatures/activitypub-real-world/ap_cavage_vectors.json"
    cases: list[dict[str, Any]] = json.loads(path.read_text())["cases"]
    return cases


def _ap_request(case: dict[str, Any]) -> HttpRequest:
    raw = case["request"]
    return HttpRequest(raw["method"], raw["url"], raw["headers"], raw["body"].encode())


@pytest.mark.parametrize("index", [0, 1])
def test_real_world_signature_verifies(real_world: list[dict[str, Any]], index: int) -> None:
    case = real_world[index]
    request = _ap_request(case)
    parsed = parse_cavage(request)
    assert (
        signing_string(request, parsed.headers, created=parsed.created, expires=parsed.expires)
        == case["signing_string"]
    )
    assert b64encode(parsed.signature) == case["signature_b64"]
    now = parse_http_date(request.headers.get("date") or "")
    result = verify_cavage(request, parsed, load_public_key_pem(case["public_key_pem"]), now=now)
    assert result.algorithm == "rsa-sha256"
    assert result.key_id == case["key_document"].get("publicKey", case["key_document"])["id"]


def test_oeee_cafe_expires_is_honoured(real_world: list[dict[str, Any]]) -> None:
    """The capture carries (expires); an hour and a bit later it is refused."""
    from activitypub_kit.errors import ClockSkewError

    case = real_world[1]
    request = _ap_request(case)
    parsed = parse_cavage(request)
    assert parsed.algorithm == "hs2019"
    assert parsed.expires is not None
    key = load_public_key_pem(case["public_key_pem"])
    with pytest.raises(ClockSkewError, match=r"expired \d+s ago") as info:
        verify_cavage(request, parsed, key, now=parsed.expires + 301)
    assert info.value.skew == -301


def test_real_world_vector_with_wrong_clock_is_refused(real_world: list[dict[str, Any]]) -> None:
    from activitypub_kit.errors import ClockSkewError

    case = real_world[0]
    request = _ap_request(case)
    date = parse_http_date(request.headers.get("date") or "")
    with pytest.raises(ClockSkewError, match=r"Date header is 7200s old"):
        verify_cavage(
            request, parse_cavage(request), load_public_key_pem(case["public_key_pem"]),
            now=date + 7200,
        )  # fmt: skip


def test_real_world_key_documents(real_world: list[dict[str, Any]]) -> None:
    """Fedify's stand-alone CryptographicKey and oeee.cafe's actor both yield the key."""
    from activitypub_kit.signatures import find_actor_key, key_from_document

    fedify, oeee = real_world
    key = key_from_document(fedify["key_document"])
    assert (key.id, key.owner, key.source) == (
        "https://example.com/key",
        "https://example.com/person",
        "document",
    )
    request = _ap_request(fedify)
    now = parse_http_date(request.headers.get("date") or "")
    verify_cavage(request, parse_cavage(request), key.key, now=now)
    actor_key = find_actor_key(oeee["key_document"], parse_cavage(_ap_request(oeee)).key_id)
    assert actor_key.source == "publicKey"

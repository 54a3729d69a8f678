"""RFC 9421 verification rules (Mastodon's profile by default) and Accept-Signature."""

from __future__ import annotations

import re
from typing import Any

import pytest

from activitypub_kit.errors import (
    AlgorithmMismatchError,
    ClockSkewError,
    DigestMismatchError,
    InvalidSignatureError,
    MalformedSignatureError,
    MissingComponentError,
    MissingSignatureError,
    UncoveredComponentError,
    UnsupportedAlgorithmError,
)
from activitypub_kit.signatures import (
    HttpRequest,
    HttpResponse,
    Rfc9421Policy,
    SignatureOptions,
    SignatureScheme,
    accept_signature,
    parse_accept_signature,
    parse_rfc9421,
    parse_signature,
    sign_request,
    sign_rfc9421,
    verify_rfc9421,
    verify_signature,
)
from activitypub_kit.signatures._rfc9421 import LENIENT_POLICY

NOW = 1_732_000_000
URL = "https://inbox.example/users/bob/inbox?page=2"
BODY = b'{"type":"Follow"}'


def _request(method: str = "POST", url: str = URL, body: bytes = BODY) -> HttpRequest:
    return HttpRequest(
        method,
        url,
        [("Host", "inbox.example"), ("Content-Type", "application/activity+json")],
        body,
    )


def _sign(key: Any, request: HttpRequest | None = None, **kwargs: Any) -> HttpRequest:
    options = kwargs.pop("options", SignatureOptions(created=NOW))
    signed = sign_rfc9421(
        request or _request(), key, "https://sender.example/k", options=options, **kwargs
    )
    assert isinstance(signed, HttpRequest)
    return signed


def _verify(request: HttpRequest, key: Any, now: float = NOW, **kwargs: Any) -> Any:
    (sig,) = parse_rfc9421(request)
    return verify_rfc9421(request, sig, key.public_key(), now=now, **kwargs)


def test_default_signature_meets_the_default_policy(rsa_key: Any, ed_key: Any) -> None:
    for key, alg in ((rsa_key, "rsa-v1_5-sha256"), (ed_key, "ed25519")):
        signed = _sign(key)
        result = _verify(signed, key)
        assert result.algorithm == alg
        assert result.covered == ('"@method"', '"@target-uri"', '"@authority"', '"content-type"',
                                  '"content-digest"')  # fmt: skip
        assert signed.headers.get("content-digest", "").startswith("sha-256=:")


def test_unified_entry_points(rsa_key: Any) -> None:
    for scheme in SignatureScheme:
        signed = sign_request(
            _request(), rsa_key, "https://sender.example/k", scheme=scheme, now=NOW
        )
        parsed = parse_signature(signed)
        assert parsed.key_id == "https://sender.example/k"
        assert verify_signature(signed, parsed, rsa_key.public_key(), now=NOW).scheme is scheme
    with pytest.raises(MissingSignatureError, match="not signed"):
        parse_signature(_request())


def test_missing_created(rsa_key: Any) -> None:
    signed = _sign(
        rsa_key, options=SignatureOptions(params=[("keyid", "k"), ("alg", "rsa-v1_5-sha256")])
    )
    with pytest.raises(MissingComponentError, match="has no created parameter"):
        _verify(signed, rsa_key)


@pytest.mark.parametrize(("components", "message"), [
    (['"@method"', '"@authority"', '"@path"', '"content-digest"'], "does not cover @target-uri"),
    (['"@target-uri"', '"content-digest"'], "does not cover @method"),
    (['"@method"', '"@target-uri"'], "of a POST does not cover content-digest"),
])  # fmt: skip
def test_missing_required_component(rsa_key: Any, components: list[str], message: str) -> None:
    with pytest.raises(UncoveredComponentError, match=message):
        _verify(_sign(rsa_key, components=components), rsa_key)


def test_wrong_content_digest(rsa_key: Any) -> None:
    signed = _sign(rsa_key)
    swapped = HttpRequest("POST", URL, signed.headers, b'{"type":"Delete"}')
    with pytest.raises(DigestMismatchError, match="Content-Digest sha-256 does not match the body"):
        _verify(swapped, rsa_key)


def test_tampered_query_string(ed_key: Any) -> None:
    signed = _sign(ed_key)
    moved = HttpRequest("POST", URL.replace("page=2", "page=2&admin=1"), signed.headers, BODY)
    with pytest.raises(InvalidSignatureError, match="signature 'sig1' does not verify"):
        _verify(moved, ed_key)


@pytest.mark.parametrize(("offset", "expires", "message"), [
    (-3601, None, "created is 3601s old"),
    (400, None, "created is 400s in the future"),
    (-30, 10, "signature expired 310s ago"),
])  # fmt: skip
def test_time_window(ed_key: Any, offset: int, expires: int | None, message: str) -> None:
    options = SignatureOptions(created=NOW + offset, expires=None if expires is None else NOW - 310)
    with pytest.raises(ClockSkewError, match=message):
        _verify(_sign(ed_key, options=options), ed_key)


def test_alg_and_key_mismatch(rsa_key: Any, ed_key: Any) -> None:
    signed = _sign(ed_key)
    with pytest.raises(AlgorithmMismatchError, match="'ed25519' needs a ed25519 key, not rsa"):
        _verify(signed, rsa_key)
    with pytest.raises(
        AlgorithmMismatchError, match="declares alg 'ed25519', expected 'rsa-pss-sha512'"
    ):
        _verify(signed, ed_key, algorithm="rsa-pss-sha512")
    forged = signed.with_headers(
        {
            "Signature-Input": (signed.headers.get("signature-input") or "").replace(
                "ed25519", "rsa-pss-sha512"
            )
        }
    )
    with pytest.raises(AlgorithmMismatchError, match="needs a rsa key, not ed25519"):
        _verify(forged, ed_key)
    unknown = signed.with_headers(
        {
            "Signature-Input": (signed.headers.get("signature-input") or "").replace(
                "ed25519", "rsa-sha1"
            )
        }
    )
    with pytest.raises(UnsupportedAlgorithmError, match="'rsa-sha1' is not accepted"):
        _verify(unknown, ed_key)
    strict = Rfc9421Policy(algorithms=("rsa-v1_5-sha256",))
    with pytest.raises(UnsupportedAlgorithmError, match="'ed25519' is not accepted"):
        _verify(signed, ed_key, policy=strict)


def test_missing_alg_uses_the_key(rsa_key: Any) -> None:
    for alg in ("rsa-v1_5-sha256", "rsa-pss-sha512"):
        signed = _sign(
            rsa_key, algorithm=alg, options=SignatureOptions(created=NOW, include_alg=False)
        )
        assert "alg=" not in (signed.headers.get("signature-input") or "")
        assert _verify(signed, rsa_key).algorithm == alg


def test_two_signatures_need_a_label(rsa_key: Any, ed_key: Any) -> None:
    both = _sign(ed_key, _sign(rsa_key), label="sig2")
    with pytest.raises(MalformedSignatureError, match="carries 2 RFC 9421 signatures; exactly one"):
        parse_signature(both)
    picked = parse_signature(both, label="sig2")
    assert verify_signature(both, picked, ed_key.public_key(), now=NOW).algorithm == "ed25519"
    with pytest.raises(MissingSignatureError, match="no signature labelled 'sig9'"):
        parse_signature(both, label="sig9")
    with pytest.raises(MalformedSignatureError, match="already has a signature 'sig1'"):
        _sign(ed_key, both)


@pytest.mark.parametrize(("signature_input", "signature", "message"), [
    ('sig1=("@method");created=1, sig1=("@path");created=1', "sig1=:AAAA:", "repeats the label 'sig1'"),  # noqa: E501
    ('sig1=("@method");keyid="a";keyid="b"', "sig1=:AAAA:", "repeats the parameter 'keyid'"),
    ('sig1=("@method");created="1"', "sig1=:AAAA:", "parameter created has a bad type"),
    ('sig1=("@method")', "sig2=:AAAA:", "no value for label 'sig1'"),
    ('sig1=("@method")', "sig1=:AAAA:, sig2=:AAAA:", "label 'sig2' has no Signature-Input"),
    ('sig1="@method"', "sig1=:AAAA:", "is not an inner list"),
    ('sig1=(@method)', "sig1=:AAAA:", "is not a valid structured field"),
    ('sig1=(method)', "sig1=:AAAA:", "non-string component"),
    ('sig1=("@method")', 'sig1="AAAA"', "is not a byte sequence"),
    ('sig1=("@method");created=1', "sig1=:AA A:", "is not a valid structured field"),
])  # fmt: skip
def test_malformed_fields(signature_input: str, signature: str, message: str) -> None:
    request = _request().with_headers({"Signature-Input": signature_input, "Signature": signature})
    with pytest.raises(MalformedSignatureError, match=message):
        parse_rfc9421(request)


@pytest.mark.parametrize(("component", "error", "message"), [
    ('"@foo"', MalformedSignatureError, "unknown derived component @foo"),
    ('"Content-Type"', MalformedSignatureError, "must be a lower-case string"),
    ('"x-absent"', MissingComponentError, '"x-absent" has no header'),
    ('"@status"', MalformedSignatureError, "only valid on a response"),
    ('"@method";req', MissingComponentError, "needs the related request"),
    ('"@query-param";name="nope"', MissingComponentError, "is not in the query"),
    ('"@query-param"', MalformedSignatureError, "needs a string name parameter"),
    ('"content-type";bs;sf', MalformedSignatureError, "combines bs with sf or key"),
    ('"content-type";xyz', MalformedSignatureError, "unknown parameter xyz"),
    ('"@method";sf', MalformedSignatureError, "takes no such parameter"),
    ('"content-type";key="a"', MalformedSignatureError, "not a valid structured field"),
    ('"@signature-params"', MalformedSignatureError, "cannot be a covered component"),
])  # fmt: skip
def test_bad_components(ed_key: Any, component: str, error: Any, message: str) -> None:
    with pytest.raises(error, match=re.escape(message) if '"' in message else message):
        _sign(ed_key, components=[component])


def test_repeated_component_and_repeated_query_param(ed_key: Any) -> None:
    with pytest.raises(MalformedSignatureError, match="covered twice"):
        _sign(ed_key, components=['"@method"', '"@method"'])
    request = _request(url="https://inbox.example/x?a=1&a=2")
    with pytest.raises(MalformedSignatureError, match="'a' occurs 2 times"):
        _sign(ed_key, request, components=['"@query-param";name="a"'])


def test_response_signature_with_request_components(ed_key: Any) -> None:
    request = _sign(ed_key)
    response = HttpResponse(202, [("Content-Type", "text/plain")], b"ok", request)
    signed = sign_rfc9421(response, ed_key, "k", components=['"@status"', '"content-digest"', '"@method";req',  # noqa: E501
                                                             '"@target-uri";req'],
                          options=SignatureOptions(created=NOW))  # fmt: skip
    (sig,) = parse_rfc9421(signed)
    verify_rfc9421(signed, sig, ed_key.public_key(), now=NOW, policy=LENIENT_POLICY)
    other_request = HttpResponse(202, signed.headers, b"ok", _request(url=URL + "&x=1"))
    with pytest.raises(InvalidSignatureError):
        verify_rfc9421(other_request, sig, ed_key.public_key(), now=NOW, policy=LENIENT_POLICY)


def test_accept_signature_round_trip() -> None:
    value = accept_signature(['"@method"', '"@target-uri"', '"content-digest";sf'], label="sig1",
                             keyid="https://a.example/k", alg="ed25519", nonce="n1")  # fmt: skip
    assert value == ('sig1=("@method" "@target-uri" "content-digest";sf);keyid="https://a.example/k"'
                     ';alg="ed25519";nonce="n1"')  # fmt: skip
    (wanted,) = parse_accept_signature(value)
    assert wanted.label == "sig1"
    assert wanted.components == ('"@method"', '"@target-uri"', '"content-digest";sf')
    assert (wanted.key_id, wanted.algorithm) == ("https://a.example/k", "ed25519")
    two = parse_accept_signature('a=("@status");tag="x", b=("@method" "@path")')
    assert [(r.label, r.params) for r in two] == [("a", {"tag": "x"}), ("b", {})]
    with pytest.raises(MalformedSignatureError, match="repeats the label 'a'"):
        parse_accept_signature('a=("@status"), a=("@path")')
    with pytest.raises(MalformedSignatureError, match="Accept-Signature"):
        parse_accept_signature("a=(")


def test_signing_as_requested_by_accept_signature(ed_key: Any) -> None:
    (wanted,) = parse_accept_signature('sig1=("@method" "@target-uri" "content-digest");tag="app"')
    signed = sign_rfc9421(_request(), ed_key, "k", components=wanted.components,
                          label=wanted.label, options=SignatureOptions(created=NOW, tag="app"))  # fmt: skip  # noqa: E501
    (sig,) = parse_rfc9421(signed)
    assert sig.tag == "app"
    assert sig.covered == wanted.components


def test_plain_component_names_are_accepted(ed_key: Any) -> None:
    signed = _sign(ed_key, components=["@method", "@target-uri", "content-digest"])
    (sig,) = parse_rfc9421(signed)
    assert sig.covered == ('"@method"', '"@target-uri"', '"content-digest"')
    _verify(signed, ed_key)
    with pytest.raises(MalformedSignatureError, match="not a quoted string"):
        _sign(ed_key, components=["content-digest;sf"])


def test_content_digest_with_parameters_is_still_checked(ed_key: Any) -> None:
    signed = _sign(ed_key, components=['"@method"', '"@target-uri"', '"content-digest";sf'])
    _verify(signed, ed_key)
    swapped = HttpRequest("POST", URL, signed.headers, b'{"type":"Delete"}')
    with pytest.raises(DigestMismatchError):
        _verify(swapped, ed_key)

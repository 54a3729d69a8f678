"""draft-cavage verification rules: one negative test per rule (Mastodon's and the
attacks in the research notes: H-24, H-25, H-26, apsig and bovine bugs)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from activitypub_kit.errors import (
    AlgorithmMismatchError,
    ClockSkewError,
    DigestError,
    DigestMismatchError,
    InvalidSignatureError,
    MalformedSignatureError,
    MissingComponentError,
    MissingSignatureError,
    UncoveredComponentError,
    UnsupportedAlgorithmError,
)
from activitypub_kit.signatures import (
    CavagePolicy,
    HttpRequest,
    http_date,
    legacy_digest,
    parse_cavage,
    sign_cavage,
    verify_cavage,
)
from activitypub_kit.signatures._algorithms import sign as raw_sign
from activitypub_kit.signatures._cavage import signing_string
from activitypub_kit.signatures._encoding import b64encode

NOW = 1_732_000_000
URL = "https://inbox.example/users/bob/inbox?page=2"
BODY = b'{"type":"Follow"}'
KEY_ID = "https://sender.example/users/alice#main-key"


def _request(
    method: str = "POST", url: str = URL, body: bytes = BODY, **headers: str
) -> HttpRequest:
    base = {
        "Host": "inbox.example",
        "Date": http_date(NOW),
        "Content-Type": "application/activity+json",
    }
    if method == "POST":
        base["Digest"] = legacy_digest(body)
    base.update({k.replace("_", "-"): v for k, v in headers.items()})
    return HttpRequest(method, url, list(base.items()), body)


def _manual(
    request: HttpRequest,
    key: Any,
    headers: str,
    algorithm: str | None = "rsa-sha256",
    created: int | None = None,
    expires: int | None = None,
    extra: str = "",
) -> HttpRequest:
    text = signing_string(request, headers.split(), created=created, expires=expires)
    resolved = algorithm or "hs2019"
    if resolved == "hs2019":
        resolved = "rsa-sha256" if hasattr(key, "key_size") else "ed25519"
    value = b64encode(raw_sign(resolved, key, text.encode()))
    params = [f'keyId="{KEY_ID}"']
    if algorithm is not None:
        params.append(f'algorithm="{algorithm}"')
    if created is not None:
        params.append(f"created={created}")
    if expires is not None:
        params.append(f"expires={expires}")
    params.append(f'headers="{headers}"')
    params.append(f'signature="{value}"')
    return request.with_headers({"Signature": ",".join(params) + extra})


def _verify(request: HttpRequest, key: Any, now: float = NOW, **policy: Any) -> Any:
    return verify_cavage(request, parse_cavage(request), key.public_key(), now=now,
                         policy=CavagePolicy(**policy))  # fmt: skip


def test_our_own_signatures_verify(rsa_key: Any, ed_key: Any) -> None:
    for key, expected in ((rsa_key, "rsa-sha256"), (ed_key, "ed25519")):
        for method in ("POST", "GET"):
            signed = sign_cavage(_request(method), key, KEY_ID, now=NOW)
            assert _verify(signed, key).algorithm == expected
        timed = sign_cavage(_request(), key, KEY_ID, now=NOW, expires_in=300)
        assert "(created)" in parse_cavage(timed).headers
        assert _verify(timed, key, now=NOW + 299).algorithm == expected


def test_mastodon_style_signature_verifies(rsa_key: Any) -> None:
    """Mastodon signs "host date digest content-type (request-target)" in that order."""
    signed = _manual(_request(), rsa_key, "host date digest content-type (request-target)")
    assert _verify(signed, rsa_key).covered[-1] == "(request-target)"


def test_missing_algorithm_is_hs2019_not_a_crash(rsa_key: Any, ed_key: Any) -> None:
    for key in (rsa_key, ed_key):
        signed = _manual(_request(), key, "(request-target) host date digest", algorithm=None)
        parsed = parse_cavage(signed)
        assert parsed.algorithm is None
        _verify(signed, key)


def test_hs2019_rsa_pss_is_accepted(rsa_key: Any) -> None:
    request = _request()
    text = signing_string(request, ["(request-target)", "host", "date", "digest"])
    value = b64encode(raw_sign("rsa-pss-sha512", rsa_key, text.encode()))
    signed = request.with_headers(
        {
            "Signature": f'keyId="{KEY_ID}",algorithm="hs2019",'
            f'headers="(request-target) host date digest",signature="{value}"'
        }
    )
    assert _verify(signed, rsa_key).algorithm == "rsa-sha256"


def test_unsigned_digest_is_refused(rsa_key: Any) -> None:
    """H-25 / apsig: a POST whose signature does not cover digest lets the body be swapped."""
    signed = _manual(_request(), rsa_key, "(request-target) host date")
    swapped = HttpRequest("POST", URL, signed.headers, b'{"type":"Delete"}')
    with pytest.raises(UncoveredComponentError, match="POST with a body does not cover digest"):
        _verify(swapped, rsa_key)
    # even an empty-bodied POST must cover it
    empty = _manual(_request(body=b""), rsa_key, "(request-target) host date")
    with pytest.raises(UncoveredComponentError, match="does not cover digest"):
        _verify(empty, rsa_key)


def test_wrong_digest_is_refused(rsa_key: Any) -> None:
    signed = sign_cavage(_request(), rsa_key, KEY_ID, now=NOW)
    other = HttpRequest("POST", URL, signed.headers, b'{"type":"Delete"}')
    with pytest.raises(
        DigestMismatchError, match=r"Digest sha-256 does not match the body \(body digest is "
    ):
        _verify(other, rsa_key)
    no_digest = HttpRequest(
        "POST", URL, [(k, v) for k, v in signed.headers.items() if k != "Digest"], BODY
    )
    with pytest.raises(DigestError, match="Digest header is missing"):
        _verify(no_digest, rsa_key)
    md5_only = _manual(_request(Digest="MD5=Sd/dVLAcvNLSq16eXua5uQ=="), rsa_key,
                       "(request-target) host date digest")  # fmt: skip
    with pytest.raises(UnsupportedAlgorithmError, match="sha-256 or sha-512 is required"):
        _verify(md5_only, rsa_key)
    sha512 = _manual(_request(Digest=legacy_digest(BODY, "sha-512")), rsa_key,
                     "(request-target) host date digest")  # fmt: skip
    _verify(sha512, rsa_key)


@pytest.mark.parametrize(("offset", "message"), [
    (-7200, "Date header is 7200s old (at most 3600s allowed)"),
    (-3601, "Date header is 3601s old"),
    (7200, "Date header is 7200s in the future (at most 300s allowed)"),
    (301, "Date header is 301s in the future"),
])  # fmt: skip
def test_stale_and_future_dates(rsa_key: Any, offset: int, message: str) -> None:
    signed = sign_cavage(_request(Date=http_date(NOW + offset)), rsa_key, KEY_ID, now=NOW + offset)
    with pytest.raises(ClockSkewError, match=re.escape(message)) as info:
        _verify(signed, rsa_key)
    assert info.value.skew == offset
    _verify(signed, rsa_key, now=NOW + offset)  # with the right clock it is fine


def test_edges_of_the_window_are_accepted(rsa_key: Any) -> None:
    for offset in (-3600, 300):
        request = _request(Date=http_date(NOW + offset))
        _verify(sign_cavage(request, rsa_key, KEY_ID, now=NOW + offset), rsa_key)


def test_expires_and_created_rules(rsa_key: Any, ed_key: Any) -> None:
    timed = sign_cavage(_request(), ed_key, KEY_ID, now=NOW, expires_in=60)
    with pytest.raises(ClockSkewError, match="signature expired 301s ago"):
        _verify(timed, ed_key, now=NOW + 60 + 301)
    future = sign_cavage(_request(), ed_key, KEY_ID, now=NOW + 1000, expires_in=60)
    with pytest.raises(ClockSkewError, match="created is 1000s in the future"):
        _verify(future, ed_key)
    with pytest.raises(MalformedSignatureError, match="only allowed with hs2019, not rsa-sha256"):
        _verify(_manual(_request(), rsa_key, "(request-target) (created) host date digest",
                        created=NOW), rsa_key)  # fmt: skip
    declared = _manual(_request(), ed_key, "(request-target) (created) host digest", algorithm="hs2019",  # noqa: E501
                       created=NOW)  # fmt: skip
    without = declared.with_headers(
        {"Signature": re.sub(r"created=\d+,", "", declared.headers.get("signature") or "")}
    )
    with pytest.raises(
        MissingComponentError, match=r"\(created\) is covered but no created parameter"
    ):
        _verify(without, ed_key)
    with pytest.raises(MalformedSignatureError, match="created 'soon' is not a Unix time"):
        parse_cavage(
            declared.with_headers(
                {
                    "Signature": (declared.headers.get("signature") or "").replace(
                        f"created={NOW}", 'created="soon"'
                    )
                }
            )
        )


@pytest.mark.parametrize("param", ["keyId", "headers", "signature", "algorithm"])
def test_duplicate_parameters_are_refused(rsa_key: Any, param: str) -> None:
    """H-26: keyId="victim",keyId="attacker" must not pick either."""
    signed = sign_cavage(_request(), rsa_key, KEY_ID, now=NOW)
    value = signed.headers.get("signature") or ""
    duplicated = value + f',{param}="https://evil.example/k"'
    with pytest.raises(MalformedSignatureError, match=f"repeats the parameter '{param}'"):
        parse_cavage(signed.with_headers({"Signature": duplicated}))


def test_algorithm_and_key_mismatch(rsa_key: Any, ed_key: Any) -> None:
    signed = _manual(_request(), ed_key, "(request-target) host date digest", algorithm="hs2019")
    forged = signed.with_headers(
        {"Signature": (signed.headers.get("signature") or "").replace("hs2019", "rsa-sha256")}
    )
    with pytest.raises(AlgorithmMismatchError, match="needs a rsa key, not ed25519"):
        _verify(forged, ed_key)
    rsa_signed = sign_cavage(_request(), rsa_key, KEY_ID, now=NOW)
    with pytest.raises(AlgorithmMismatchError, match="needs a rsa key, not ed25519"):
        verify_cavage(rsa_signed, parse_cavage(rsa_signed), ed_key.public_key(), now=NOW)


@pytest.mark.parametrize("algorithm", ["hmac-sha256", "ecdsa-sha256", "rsa-sha1", "ed25519"])
def test_unsupported_algorithms(rsa_key: Any, algorithm: str) -> None:
    signed = sign_cavage(_request(), rsa_key, KEY_ID, now=NOW)
    other = signed.with_headers(
        {"Signature": (signed.headers.get("signature") or "").replace("rsa-sha256", algorithm)}
    )
    with pytest.raises(UnsupportedAlgorithmError, match=f"algorithm '{algorithm}' is not accepted"):
        _verify(other, rsa_key)


@pytest.mark.parametrize(("headers", "error", "message"), [
    ("host date digest", UncoveredComponentError, r"does not cover \(request-target\)"),
    ("(request-target) date digest", UncoveredComponentError, "does not cover host"),
    ("(request-target) host digest", UncoveredComponentError, r"neither date nor \(created\)"),
])  # fmt: skip
def test_missing_required_components(rsa_key: Any, headers: str, error: Any, message: str) -> None:
    with pytest.raises(error, match=message):
        _verify(_manual(_request(), rsa_key, headers), rsa_key)


def test_missing_headers_param_means_date_only(rsa_key: Any) -> None:
    """No headers parameter with rsa-sha256 covers only date: far too little for a POST."""
    request = _request()
    value = b64encode(raw_sign("rsa-sha256", rsa_key, f"date: {http_date(NOW)}".encode()))
    signed = request.with_headers(
        {"Signature": f'keyId="{KEY_ID}",algorithm="rsa-sha256",signature="{value}"'}
    )
    assert parse_cavage(signed).headers == ("date",)
    with pytest.raises(UncoveredComponentError, match=r"\(request-target\)"):
        _verify(signed, rsa_key)


def test_tampered_query_string(rsa_key: Any) -> None:
    """bovine/apsig dropped the query from (request-target); we sign and check it."""
    signed = sign_cavage(_request("GET", body=b""), rsa_key, KEY_ID, now=NOW)
    assert "(request-target): get /users/bob/inbox?page=2" in signing_string(
        signed, parse_cavage(signed).headers
    )
    _verify(signed, rsa_key)
    moved = HttpRequest("GET", URL.replace("page=2", "page=3"), signed.headers)
    with pytest.raises(InvalidSignatureError, match="does not verify with the rsa key"):
        _verify(moved, rsa_key)
    # An old-Mastodon signature made without the query only passes when explicitly allowed.
    request = _request("GET", body=b"")
    text = signing_string(request, ["(request-target)", "host", "date"], with_query=False)
    value = b64encode(raw_sign("rsa-sha256", rsa_key, text.encode()))
    legacy = request.with_headers(
        {
            "Signature": f'keyId="{KEY_ID}",algorithm="rsa-sha256",'
            f'headers="(request-target) host date",signature="{value}"'
        }
    )
    with pytest.raises(InvalidSignatureError):
        _verify(legacy, rsa_key)
    _verify(legacy, rsa_key, allow_request_target_without_query=True)


def test_host_header_is_bound(rsa_key: Any) -> None:
    signed = sign_cavage(_request(), rsa_key, KEY_ID, now=NOW)
    with pytest.raises(InvalidSignatureError):
        _verify(signed.with_headers({"Host": "other.example"}), rsa_key)


@pytest.mark.parametrize(("value", "error", "message"), [
    ('keyId="a",signature="AAAA",', MalformedSignatureError, "malformed at offset"),
    ('keyId="a",signature="AAAA" trailing', MalformedSignatureError, "malformed at offset"),
    ('keyId="a" signature="AAAA"', MalformedSignatureError, "malformed at offset"),
    ('signature="AAAA"', MalformedSignatureError, "no keyId"),
    ('keyId="a"', MalformedSignatureError, "no signature parameter"),
    ('keyId="a",signature="not base64!"', MalformedSignatureError, "not valid padded base64"),
    ('keyId="a",headers="",signature="AAAA"', MalformedSignatureError, "headers parameter is empty"),  # noqa: E501
    ('keyId="a",headers="date date",signature="AAAA"', MalformedSignatureError, "lists a header twice"),  # noqa: E501
])  # fmt: skip
def test_malformed_headers(value: str, error: Any, message: str) -> None:
    with pytest.raises(error, match=message):
        parse_cavage(_request().with_headers({"Signature": value}))


def test_missing_signature_and_prefix_tolerance(rsa_key: Any) -> None:
    with pytest.raises(MissingSignatureError, match="no Signature header"):
        parse_cavage(_request())
    signed = sign_cavage(_request(), rsa_key, KEY_ID, now=NOW)
    prefixed = signed.with_headers(
        {"Signature": "Signature " + (signed.headers.get("signature") or "")}
    )
    _verify(prefixed, rsa_key)


def test_wrong_length_signature_and_missing_covered_header(rsa_key: Any) -> None:
    signed = sign_cavage(_request(), rsa_key, KEY_ID, now=NOW)
    short = signed.with_headers(
        {
            "Signature": re.sub(
                r'signature="[^"]+"', 'signature="AAAA"', signed.headers.get("signature") or ""
            )
        }
    )
    with pytest.raises(InvalidSignatureError):
        _verify(short, rsa_key)
    covered = _manual(_request(X_Custom="1"), rsa_key, "(request-target) host date digest x-custom")
    covered = HttpRequest(
        "POST", URL, [(k, v) for k, v in covered.headers.items() if k != "X-Custom"], BODY
    )
    with pytest.raises(MissingComponentError, match="covered header 'x-custom' is missing"):
        _verify(covered, rsa_key)
    bad_date = sign_cavage(_request(), rsa_key, KEY_ID, now=NOW).with_headers({"Date": "yesterday"})
    with pytest.raises(MalformedSignatureError, match="'yesterday' is not an HTTP date"):
        _verify(bad_date, rsa_key)


def test_docs_worked_example(rsa_key: Any, ed_key: Any) -> None:
    """The guide's example: a Follow POSTed to a Mastodon inbox, then verified."""
    import json

    from activitypub_kit.signatures import (
        actor_keys,
        multikey_entry,
        parse_signature,
        public_key_entry,
        verify_signature,
    )

    actor_id = "https://blog.example/users/alice"
    actor = {
        "id": actor_id,
        "publicKey": public_key_entry(rsa_key, key_id=f"{actor_id}#main-key", owner=actor_id),
        "assertionMethod": [
            multikey_entry(ed_key, key_id=f"{actor_id}#ed25519-key", controller=actor_id)
        ],
    }
    body = json.dumps({"type": "Follow", "actor": actor_id}).encode()
    request = HttpRequest(
        "POST", "https://mastodon.example/users/bob/inbox",
        {"Content-Type": "application/activity+json"}, body,
    )  # fmt: skip
    signed = sign_cavage(request, rsa_key, f"{actor_id}#main-key", now=NOW)
    header = signed.headers.get("Signature") or ""
    assert header.startswith(f'keyId="{actor_id}#main-key",algorithm="rsa-sha256",')
    assert 'headers="(request-target) host date digest content-type"' in header
    assert signed.headers.get("Host") == "mastodon.example"
    parsed = parse_signature(signed)
    key = {k.id: k.key for k in actor_keys(actor)}[parsed.key_id or ""]
    assert verify_signature(signed, parsed, key, now=NOW + 10).key_id == f"{actor_id}#main-key"

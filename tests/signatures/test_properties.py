"""Property tests: a mutated signed request never verifies; parsers only raise typed errors."""

from __future__ import annotations

import base64
import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activitypub_kit.errors import MalformedSignatureError, SignatureError
from activitypub_kit.signatures import (
    HttpRequest,
    SignatureScheme,
    generate_ed25519_key,
    http_date,
    parse_cavage,
    parse_signature,
    sign_request,
    verify_signature,
)
from activitypub_kit.signatures._sfv import (
    parse_dictionary,
    parse_item,
    parse_list,
    serialize_dictionary,
    serialize_list,
)

NOW = 1_732_000_000
KEY = generate_ed25519_key()
PUBLIC = KEY.public_key()
KEY_ID = "https://sender.example/users/alice#main-key"

paths = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_/", min_size=1, max_size=20)
queries = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789=&%", max_size=20)


@st.composite
def signed_requests(draw: st.DrawFn) -> tuple[HttpRequest, SignatureScheme]:
    scheme = draw(st.sampled_from(list(SignatureScheme)))
    method = draw(st.sampled_from(["GET", "POST"]))
    path, query = "/" + draw(paths), draw(queries)
    url = f"https://inbox.example{path}" + (f"?{query}" if query else "")
    body = draw(st.binary(max_size=64)) if method == "POST" else b""
    headers = [("Host", "inbox.example"), ("Date", http_date(NOW)),
               ("Content-Type", "application/activity+json")]  # fmt: skip
    request = HttpRequest(method, url, headers, body)
    return sign_request(request, KEY, KEY_ID, scheme=scheme, now=NOW), scheme


def _mutations(request: HttpRequest) -> list[tuple[str, Any]]:
    headers = request.headers.items()
    return (
        [
            (
                "method",
                lambda r, v: HttpRequest(
                    "PUT" if r.method != "PUT" else "GET", r.url, r.headers, r.body
                ),
            ),
            (
                "path",
                lambda r, v: HttpRequest(
                    r.method,
                    r.url.replace("inbox.example/", f"inbox.example/{v}", 1),
                    r.headers,
                    r.body,
                ),
            ),
            (
                "query",
                lambda r, v: HttpRequest(
                    r.method, r.url + ("&" if "?" in r.url else "?") + f"x{v}=1", r.headers, r.body
                ),
            ),
            (
                "host",
                lambda r, v: HttpRequest(
                    r.method,
                    r.url.replace("inbox.example", f"{v}.example", 1),
                    r.with_headers({"Host": f"{v}.example"}).headers,
                    r.body,
                ),
            ),
            ("body", lambda r, v: HttpRequest(r.method, r.url, r.headers, r.body + v.encode())),
            ("content-type", lambda r, v: r.with_headers({"Content-Type": f"text/{v}"})),
            ("signature", _flip_signature),
        ]
        if headers
        else []
    )


def _flip_signature(request: HttpRequest, value: str) -> HttpRequest:
    # Both schemes end the Ed25519 signature with "...XXXX==" plus '"' or ':'; the character
    # six from the end sits in the last full base64 quantum, so changing it changes a byte.
    original = request.headers.get("Signature") or ""
    index = len(original) - 6
    replacement = "A" if original[index] != "A" else "B"
    return request.with_headers(
        {"Signature": original[:index] + replacement + original[index + 1 :]}
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    signed_requests(),
    st.integers(min_value=0, max_value=6),
    st.text(alphabet="abcxyz", min_size=1, max_size=5),
)
def test_mutated_requests_never_verify(
    signed: tuple[HttpRequest, SignatureScheme], which: int, value: str
) -> None:
    request, _scheme = signed
    assert verify_signature(request, parse_signature(request), PUBLIC, now=NOW)
    name, mutate = _mutations(request)[which]
    mutated = mutate(request, value)
    if name == "content-type" and request.method == "GET":
        return  # GETs do not cover content-type
    with pytest.raises(SignatureError):
        verify_signature(mutated, parse_signature(mutated), PUBLIC, now=NOW)


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_cavage_parser_only_raises_typed_errors(value: str) -> None:
    request = HttpRequest("GET", "https://a.example/", [("Signature", value)])
    with contextlib.suppress(SignatureError):
        parse_cavage(request)


@settings(max_examples=300)
@given(st.text(alphabet='abc=;:,()" ?*@-0123456789.AZ\t', max_size=80))
def test_structured_field_parsers_only_raise_typed_errors(value: str) -> None:
    for parser, serializer in (
        (parse_dictionary, serialize_dictionary),
        (parse_list, serialize_list),
    ):
        try:
            parsed = parser(value)
        except MalformedSignatureError:
            continue
        # what parses re-serialises to something that parses to the same structure
        assert parser(serializer(parsed)) == parsed  # type: ignore[operator]
    with contextlib.suppress(MalformedSignatureError):
        parse_item(value)


@settings(max_examples=200)
@given(st.text(max_size=120), st.text(max_size=120))
def test_rfc9421_parser_only_raises_typed_errors(sig_input: str, signature: str) -> None:
    request = HttpRequest(
        "GET", "https://a.example/", [("Signature-Input", sig_input), ("Signature", signature)]
    )
    with contextlib.suppress(SignatureError):
        parse_signature(request)


# --- the hot-path shortcuts agree with the general code --------------------------------

component_names = st.sampled_from(
    ['"@method"', '"@target-uri"', '"@authority"', '"@path"', '"@query"', '"content-digest"',
     '"date"', '"host"', '"x-a"', '"@status"', '"@request-target"', '"@scheme"']
)  # fmt: skip
param_values = st.one_of(
    st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12),
)


@given(
    st.sampled_from(["sig1", "a", "proxy_sig", "x*"]),
    st.lists(component_names, max_size=6),
    st.lists(st.tuples(st.sampled_from(["created", "keyid", "alg", "nonce", "tag", "zz"]),
                       param_values), max_size=5),
    st.binary(min_size=0, max_size=40),
)  # fmt: skip
def test_fast_signature_input_parse_matches_full_parser(
    label: str, names: list[str], params: list[tuple[str, Any]], raw: bytes
) -> None:
    from activitypub_kit.signatures._sfv import serialize_bare
    from activitypub_kit.signatures._signature_fields import _parse_fast, _parse_full

    text = f"{label}=({' '.join(names)})" + "".join(f";{k}={serialize_bare(v)}" for k, v in params)
    sig = f"{label}=:{base64.b64encode(raw).decode()}:"
    try:
        full: Any = _parse_full(text, sig)
    except MalformedSignatureError as exc:
        full = type(exc)
    fast = _parse_fast(text, sig)
    if fast is not None:  # the shortcut may decline; when it answers, it answers the same
        assert [fast] == full


def test_fast_path_takes_the_common_shape() -> None:
    from activitypub_kit.signatures._signature_fields import _parse_fast

    text = 'sig1=("@method" "@target-uri" "content-digest");created=1;keyid="https://a/k#m"'
    assert _parse_fast(text, "sig1=:AAAA:") is not None
    assert _parse_fast(text.replace("created=1", "created=01"), "sig1=:AAAA:") is None
    assert _parse_fast(text + ';keyid="b"', "sig1=:AAAA:") is None


@given(st.integers(min_value=-(2**35), max_value=2**37))
def test_fast_http_date_matches_email_utils(timestamp: int) -> None:
    from email.utils import formatdate, parsedate_to_datetime

    from activitypub_kit.signatures import parse_http_date

    text = formatdate(timestamp, usegmt=True)
    if not text[12:16].isdigit() or int(text[12:16]) < 1:
        return
    assert parse_http_date(text) == timestamp
    assert int(parsedate_to_datetime(text).timestamp()) == timestamp


@given(st.sampled_from(["@method", "@target-uri", "@authority", "@scheme", "@request-target",
                        "@path", "@query", "x-a", "host", "content-type"]),
       st.lists(st.text(alphabet=" \tabc,;=", max_size=8), min_size=1, max_size=3))  # fmt: skip
def test_fast_component_values_match_general_code(name: str, values: list[str]) -> None:
    from activitypub_kit.signatures._components import component_value
    from activitypub_kit.signatures._sfv import Item

    headers = [("Host", "h.example"), ("Content-Type", "text/plain")] + [("X-A", v) for v in values]
    request = HttpRequest("GET", "https://h.example:8443/p/a%20th?q=1&r", headers)
    fast = component_value(request, Item(name))
    # A parameter the general code ignores for plain fields forces the slow path.
    assert fast == component_value(request, Item(name, {"req": False}))

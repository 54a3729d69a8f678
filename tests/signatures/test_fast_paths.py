"""Property tests pinning each verification fast path to the general code it shortcuts.

Every shortcut may decline (and hand over to the general code); when it answers, it must
answer exactly what the general code answers, errors included.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from activitypub_kit.errors import SignatureError
from activitypub_kit.signatures._urls import _parse_fast as fast_url
from activitypub_kit.signatures._urls import _parse_general as general_url
from activitypub_kit.signatures._urls import parse_url


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except SignatureError as exc:
        return type(exc)


url_pieces = st.sampled_from(
    ["http", "https", "HTTPS", "ftp", "://", ":", "//", "/", "?", "#", "@", "[", "]", "::1",
     "a", "B", "host.example", "h-1", "_", ".", "80", "443", "8443", "0", "65535", "65536",
     "99999", "%20", "~", " ", "\t", "\n", "\\", '"', "=", "&", "é", "x/y", ";"]
)  # fmt: skip


urls = st.one_of(
    st.lists(url_pieces, max_size=12).map("".join),
    st.tuples(st.sampled_from(["https://", "http://"]), st.lists(url_pieces, max_size=10)).map(
        lambda t: t[0] + "".join(t[1])
    ),
)


@given(urls)
@example("https://inbox.example/users/bob/inbox")
@example("https://Inbox.Example:443/a?b=c")
@example("http://h.example:080/?")
@example("https://h.example")
@example("https://h.example?q")
@example("https://h.example:99999/")
@example("https://h.example!x/")
@example("https://user@h.example/")
def test_fast_url_split_matches_urlsplit(url: str) -> None:
    fast = fast_url(url)
    if fast is not None:
        assert fast == general_url(url)
    assert _outcome(parse_url, url) == _outcome(general_url, url)
    assert _outcome(parse_url, url) == _outcome(general_url, url)  # remembered answer


@pytest.mark.parametrize(
    "url", ["https://inbox.example/users/bob/inbox", "https://h.example:8443/p?q=1&r"]
)
def test_fast_url_split_takes_the_common_shape(url: str) -> None:
    assert fast_url(url) is not None


# --- draft-cavage Signature parameters ---------------------------------------------------

param_pieces = st.sampled_from(
    ["keyId", "algorithm", "headers", "signature", "created", "a1", "1a", "x_y", "=", ",",
     '"', " ", "\t", '"q"', '""', "rsa-sha256", "(request-target) host", "AAA=", "\n",
     "é", ";", "Signature "]
)  # fmt: skip


@given(st.lists(param_pieces, max_size=14).map("".join))
@example('keyId="k",algorithm="rsa-sha256",headers="a b",signature="AAA="')
@example('keyId="k", keyId="j"')
@example('keyId="k",keyId="j"')
@example('keyId="a, b",algorithm="x\n",headers="",signature=""')
@example('keyId="a",algorithm="b",headers="c",signature="d",created=1')
@example('keyId="a",algorithm="b",headers="c",signature="d"x')
@example('keyId="a"x,algorithm="b"')
@example('keyId="",algorithm="x"')
@example('keyId="k",created=1,signature="x"')
@example('keyId="k",headers="a",b",signature="x"')
@example('keyId="k,x",signature="a=b"')
@example("a=,b=1")
@example(' a = "x" , b=y ')
@example(",a=1")
@example("a=1,")
def test_fast_cavage_params_match_general_parser(value: str) -> None:
    from activitypub_kit.signatures._cavage import (
        _parse_signature_params_general,
        parse_signature_params,
    )

    def outcome(fn: Any) -> Any:
        try:
            return fn(value)
        except SignatureError as exc:
            return type(exc), str(exc)

    assert outcome(parse_signature_params) == outcome(_parse_signature_params_general)


# --- HTTP dates ----------------------------------------------------------------------------

date_pieces = st.one_of(
    st.sampled_from(["Sun, ", "Tue, ", "Foo, ", "sun, ", "Sunday, ", " ", "GMT", " GMT", "UTC",
                     "Nov", "Feb", "nov", "Xyz", "-", ":", "0", "1", "2", "3", "6", "9", "00",
                     "29", "31", "60", "99", "1994", "2024", "0099", "0999", "9999", "+0100"]),
    st.integers(min_value=0, max_value=99).map(lambda n: f"{n:02d}"),
)  # fmt: skip


@st.composite
def fixdate_like(draw: st.DrawFn) -> str:
    day = draw(st.integers(0, 32))
    month = draw(st.sampled_from(["Jan", "Feb", "Mar", "Nov", "Dec", "Foo"]))
    year = draw(st.sampled_from(["0001", "0069", "0070", "0099", "0100", "0999", "1000",
                                 "1970", "2024", "2100", "9999"]))  # fmt: skip
    hms = draw(st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99)))
    return f"Tue, {day:02d} {month} {year} {hms[0]:02d}:{hms[1]:02d}:{hms[2]:02d} GMT"


@given(st.one_of(fixdate_like(), st.lists(date_pieces, max_size=12).map("".join)))
@example("Tue, 19 Nov 2024 07:06:40 GMT")
@example("Tue, 29 Feb 2023 00:00:00 GMT")
@example("Tue, 01 Jan 0099 00:00:00 GMT")
def test_fast_http_date_matches_general_parser(value: str) -> None:
    from activitypub_kit.signatures._clock import _parse_fixdate, _parse_general

    fast = _parse_fixdate(value)
    if fast is not None:
        assert fast == _parse_general(value)


# --- the time window -------------------------------------------------------------------------

times = st.one_of(st.none(), st.integers(-10_000, 10_000).map(float))


@given(times, times, st.floats(0, 5000), st.floats(0, 500))
def test_time_window_allows_exactly_what_check_accepts(
    created: float | None, expires: float | None, max_age: float, max_future: float
) -> None:
    from activitypub_kit.errors import ClockSkewError
    from activitypub_kit.signatures import TimeWindow

    window = TimeWindow(max_age=max_age, max_future=max_future)
    try:
        window.check(created=created, expires=expires, now=0.0, what="x")
        accepted = True
    except ClockSkewError:
        accepted = False
    assert window.allows(created=created, expires=expires, now=0.0) is accepted


# --- RFC 9421 signature base from a precomputed plan -------------------------------------

good_names = st.sampled_from(
    ["@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query",
     "host", "date", "x-a", "x-b", "content-digest", "absent", "a@b"]
)  # fmt: skip
odd_names = st.sampled_from(["@query-param", "@status", "@signature-params", "@nope", "x-a"])
field_values = st.text(alphabet=" \tab,\n\r", max_size=6)


@given(
    st.one_of(
        st.lists(good_names, max_size=7, unique=True),
        st.tuples(st.lists(good_names, max_size=5), odd_names).map(lambda t: [*t[0], t[1]]),
    ),
    st.lists(st.tuples(st.sampled_from(["X-A", "x-b", "Host", "Date"]), field_values),
             max_size=5),
    st.sampled_from(["GET", "POST", "GET\n"]),
    st.sampled_from(["https://h.example/p?q=1", "https://h.example:8443/", "https://h.example/a\nb"]),
    st.booleans(),
)  # fmt: skip
@example(["x-a"], [("X-A", "a\n b")], "GET", "https://h.example/", False)
@example(["x-a"], [("X-A", "a"), ("x-a", "b")], "GET", "https://h.example/", False)
@example(["x-a"], [("X-A", "a\rb")], "GET", "https://h.example/", False)
@example(["@method"], [], "GET\n", "https://h.example/", False)
@example(["@target-uri"], [], "GET", "https://h.example/a\nb", False)
@example(["@method", "x-a"], [("X-A", "1")], "GET", "https://h.example/", True)
def test_plain_signature_base_matches_general_code(
    names: list[str], headers: list[tuple[str, str]], method: str, url: str, response: bool
) -> None:
    from activitypub_kit.signatures import HttpRequest, HttpResponse
    from activitypub_kit.signatures._components import (
        plain_components,
        plain_signature_base,
        signature_base,
    )

    request = HttpRequest(method, url, headers)
    message = HttpResponse(200, headers, request=request) if response else request
    components = plain_components(" ".join(f'"{n}"' for n in names))
    params = f"({' '.join(components.idents)});created=1"
    general = _outcome(signature_base, message, list(components), params, components.idents)
    fast = plain_signature_base(message, components, params)
    if fast is not None:
        assert fast == general


# --- RFC 9421 Signature-Input read with str operations --------------------------------

input_pieces = st.sampled_from(
    [";", "=", '"', "created", "expires", "keyid", "alg", "nonce", "tag", "zz", "0", "01",
     "1", "-1", "1.5", "1234567890123456", "123456789012345", '"k"', '""', '"a;b"', '"a\\"b"',
     '"a\\\\b"', '"é"', '"\t"', " ", "?1", ":AA==:", "Tok"]
)  # fmt: skip


@given(
    st.sampled_from(["sig1", "Sig1", "a b", "x*"]),
    st.sampled_from(['"@method" "@target-uri"', "", '"@method"  "x"', '"@method";req', '"A"']),
    st.lists(input_pieces, max_size=12).map("".join),
)
@example("sig1", '"@method"', ';created=1;keyid="k";alg="a"')
@example("sig1", '"@method"', ';created=01;keyid="k";alg="a"')
@example("sig1", '"@method"', ';created=1;keyid="a\\\\b";alg="a"')
@example("sig1", '"@method"', ';created=1;keyid="a\\"b";alg="a"')
@example("sig1", '"@method"', ';created=1;keyid="é";alg="a"')
@example("sig1", '"@method"', ';created=1;keyid="k";alg="a";tag="t"')
@example("sig1", '"@method"', ';created=1234567890123456;keyid="k";alg="a"')
@example("sig1", '"@method"', ";created=01")
@example("sig1", '"@method"', ";created=1;created=2")
@example("sig1", '"@method"', ';keyid="a;b"')
@example("sig1", '"@method"', ';keyid="a"b"')
@example("sig1", '"@method"', ";created=1234567890123456")
@example("sig1", '"@method"', ";alg=1")
@example("sig1", '"@method"', ';created="1"')
@example("sig1", '"@method"', ';keyid="a\\\\b"')
@example("sig1", '"@method"', ';keyid="é"')
@example("sig1", '"@method"', ';keyid="\t"')
def test_fast_signature_input_read_matches_full_parser(label: str, names: str, tail: str) -> None:
    from activitypub_kit.signatures._signature_fields import _parse_fast, _parse_full

    text, sig = f"{label}=({names}){tail}", f"{label}=:AAAA:"
    fast = _parse_fast(text, sig)
    if fast is not None:
        assert [fast] == _outcome(_parse_full, text, sig)


# --- Content-Digest ------------------------------------------------------------------------

BODY = b'{"type": "Note"}'
GOOD = f"sha-256=:{base64.b64encode(hashlib.sha256(BODY).digest()).decode()}:"
digest_pieces = st.sampled_from(
    [GOOD, "sha-256=:", ":", "AAAA", "=", ",", " ", "sha-512=:", "md5=:AAAA:", "AA==", "A",
     "*", "sha-256=:AAAA:"]
)  # fmt: skip


@given(st.lists(digest_pieces, max_size=6).map("".join), st.sampled_from([BODY, b""]))
@example(GOOD, BODY)
@example(GOOD, b"")
@example(GOOD + ", " + GOOD, BODY)
@example("sha-256=:AA:AA:", BODY)
@example("sha-256=:", BODY)
@example("sha-256=::", BODY)
def test_fast_content_digest_matches_general_code(value: str, body: bytes) -> None:
    from activitypub_kit.signatures._digest import _check, _check_sha256_member, parse_digest_field

    def outcome(fn: Any) -> Any:
        try:
            return fn()
        except SignatureError as exc:
            return type(exc), str(exc)

    fast = outcome(lambda: _check_sha256_member(value, body, "Content-Digest"))
    if fast is not False:
        general = outcome(lambda: _check(parse_digest_field(value), body, "Content-Digest"))
        assert (fast is True and general == "sha-256") or fast == general


# --- RFC 9421 signing with a plain component list ----------------------------------------


@given(
    st.lists(
        st.sampled_from(["@method", "@target-uri", "@authority", "@path", "@query", "host",
                         "content-type", "content-digest", "@status", "x-a"]),
        max_size=6,
    ),
    st.sampled_from(["GET", "POST"]),
    st.binary(max_size=16),
)  # fmt: skip
def test_signing_a_plain_component_list_matches_the_general_code(
    names: list[str], method: str, body: bytes
) -> None:
    from activitypub_kit.signatures import HttpRequest, SignatureOptions, sign_rfc9421

    request = HttpRequest(
        method, "https://h.example/p?q=1", [("Host", "h.example"), ("Content-Type", "a/b")], body
    )
    options = SignatureOptions(created=1, nonce="n")

    def sign(components: list[str]) -> Any:
        try:
            signed = sign_rfc9421(request, b"secret", "k", components=components, options=options)
        except SignatureError as exc:
            return type(exc)
        return signed.headers.items()

    # Quoted names take the plain-list path; bare names the general component parser.
    assert sign([f'"{n}"' for n in names]) == sign(names)


def test_one_component_entry_holding_two_names_is_refused() -> None:
    from activitypub_kit.errors import MalformedSignatureError
    from activitypub_kit.signatures import HttpRequest, sign_rfc9421

    request = HttpRequest("GET", "https://h.example/")
    with pytest.raises(MalformedSignatureError, match="unexpected text"):
        sign_rfc9421(request, b"secret", "k", components=['"@method" "@path"'])


@pytest.mark.parametrize(
    "clock",
    ["07:06:40 GMT", "07:06:4x GMT", "07-06-40 GMT", "07:06:40 GMX", "\u0660\u0667:06:40 GMT",
     "07:06:40 GMT ", "+7:06:40 GMT", "07:06:40", "99:99:99 GMT", "07:06:40GMT"],
)  # fmt: skip
def test_fast_http_date_with_a_known_day_matches_general_parser(clock: str) -> None:
    from activitypub_kit.signatures._clock import _parse_fixdate, _parse_general

    assert _parse_fixdate("Tue, 19 Nov 2024 00:00:00 GMT") == 1731974400  # the day is now known
    value = "Tue, 19 Nov 2024 " + clock
    fast = _parse_fixdate(value)
    if fast is not None:
        assert fast == _parse_general(value)
    assert (fast is not None) is (clock in ("07:06:40 GMT", "99:99:99 GMT"))


# --- draft-cavage: Mastodon's parameter layout read without the parameter dict -----------

quoted_values = st.text(alphabet='abc ,=()-\n"', max_size=8)


@given(quoted_values, st.sampled_from(["rsa-sha256", "RSA-SHA256", "hs2019", "", "x"]),
       st.sampled_from(["(request-target) host date digest", "date", "", "a a", "Date HOST"]),
       st.sampled_from(["AAAA", "AAA=", "A", "", "AA AA"]))  # fmt: skip
def test_mastodon_layout_parses_like_any_other_order(
    key_id: str, algorithm: str, headers: str, signature: str
) -> None:
    from activitypub_kit.signatures import HttpRequest, parse_cavage

    def parse(value: str) -> Any:
        request = HttpRequest("POST", "https://h.example/inbox", [("Signature", value)])
        return _outcome(parse_cavage, request)

    params = [("keyId", key_id), ("algorithm", algorithm), ("headers", headers),
              ("signature", signature)]  # fmt: skip
    mastodon = ",".join(f'{k}="{v}"' for k, v in params)
    reordered = ",".join(f'{k}="{v}"' for k, v in reversed(params))
    assert parse(mastodon) == parse(reordered)


@pytest.mark.parametrize(
    ("value", "offset"),
    [("a=1 x,b=2", 4), ('keyId="a",', 9), (",a=1", 0), ('keyId="' + "x" * 5000, 6)],
)
def test_malformed_cavage_value_reports_where_it_breaks(value: str, offset: int) -> None:
    from activitypub_kit.errors import MalformedSignatureError
    from activitypub_kit.signatures._cavage import parse_signature_params

    with pytest.raises(MalformedSignatureError, match=f"malformed at offset {offset}$"):
        parse_signature_params(value)

"""A signed ``expires`` cannot keep a signature alive for more than 12 hours after ``created``.

Mastodon's rule (``signature_verification.rb``): expires is capped at created + 12 h
(``EXPIRATION_WINDOW_LIMIT``), with the clock-skew margin on top.  Before the cap, an hs2019
or RFC 9421 signature carrying ``expires`` ten years ahead could be replayed for ten years.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitypub_kit.errors import ClockSkewError, MissingComponentError
from activitypub_kit.signatures import (
    CavagePolicy,
    HttpRequest,
    Rfc9421Policy,
    SignatureOptions,
    TimeWindow,
    http_date,
    parse_cavage,
    parse_rfc9421,
    sign_cavage,
    sign_rfc9421,
    verify_cavage,
    verify_rfc9421,
)

NOW = 1_732_000_000
HOUR, DAY, YEAR = 3600, 86400, 365 * 86400
LIMIT = 12 * HOUR
SKEW = 300
URL = "https://inbox.example/users/bob/inbox"
BODY = b'{"type":"Follow"}'
KEY_ID = "https://sender.example/users/alice#main-key"
# hs2019 covering (created)/(expires) and not the Date header.
NO_DATE = ["(request-target)", "host", "(created)", "(expires)", "digest"]
TOO_LONG = r"signature lifetime \d+s exceeds the 43200s limit"

keys = pytest.mark.parametrize("key_name", ["rsa_key", "ed_key"])


def _request(date: float | None = None) -> HttpRequest:
    headers = [("Host", "inbox.example"), ("Content-Type", "application/activity+json")]
    if date is not None:
        headers.append(("Date", http_date(date)))
    return HttpRequest("POST", URL, headers, BODY)


def _cavage(key: Any, created: float, expires_in: float | None, **kwargs: Any) -> HttpRequest:
    return sign_cavage(_request(created), key, KEY_ID, now=created, expires_in=expires_in, **kwargs)


def _verify_cavage(request: HttpRequest, key: Any, now: float) -> Any:
    return verify_cavage(request, parse_cavage(request), key.public_key(), now=now)


def _rfc9421(key: Any, created: int | None, expires: int | None) -> HttpRequest:
    options = SignatureOptions(created=created, expires=expires)
    if created is None:  # sign_rfc9421 fills in created unless the parameters are exact
        assert expires is not None
        options = SignatureOptions(params=[("expires", expires), ("keyid", KEY_ID)])
    signed = sign_rfc9421(_request(), key, KEY_ID, options=options)
    assert isinstance(signed, HttpRequest)
    return signed


def _verify_rfc9421(request: HttpRequest, key: Any, now: float, **policy: Any) -> Any:
    (signature,) = parse_rfc9421(request)
    return verify_rfc9421(
        request, signature, key.public_key(), now=now, policy=Rfc9421Policy(**policy)
    )


# --- draft-cavage hs2019 (created)/(expires) ----------------------------------------------


@keys
@pytest.mark.parametrize("headers", [None, NO_DATE], ids=["with-date", "without-date"])
def test_cavage_old_signature_with_far_expires_is_refused(
    request: pytest.FixtureRequest, key_name: str, headers: list[str] | None
) -> None:
    key = request.getfixturevalue(key_name)
    created = NOW - 30 * DAY
    signed = _cavage(key, created, 30 * DAY + 10 * YEAR, headers=headers)
    assert parse_cavage(signed).expires == NOW + 10 * YEAR
    with pytest.raises(ClockSkewError, match=TOO_LONG) as info:
        _verify_cavage(signed, key, NOW)
    assert info.value.skew == -(30 * DAY - LIMIT)
    _verify_cavage(signed, key, created + LIMIT)  # it was good for its first 12 hours


@keys
def test_cavage_expires_13_hours_ahead_is_cut_at_12(
    request: pytest.FixtureRequest, key_name: str
) -> None:
    key = request.getfixturevalue(key_name)
    for headers in (None, NO_DATE):
        signed = _cavage(key, NOW, 13 * HOUR, headers=headers)
        _verify_cavage(signed, key, NOW)
        _verify_cavage(signed, key, NOW + 6 * HOUR)  # past max_age: expires is honoured
        _verify_cavage(signed, key, NOW + LIMIT + SKEW)
        with pytest.raises(ClockSkewError, match=TOO_LONG) as info:
            _verify_cavage(signed, key, NOW + LIMIT + SKEW + 1)
        assert info.value.skew == -(SKEW + 1)


def test_cavage_expires_without_created_is_bounded_from_now(ed_key: Any) -> None:
    """(expires) covered but not (created): the Date header is the creation time."""
    headers = ["(request-target)", "host", "date", "(expires)", "digest"]
    signed = _cavage(ed_key, NOW, 10 * YEAR, headers=headers)
    with pytest.raises(ClockSkewError, match="beyond the 43200s lifetime limit"):
        _verify_cavage(signed, ed_key, NOW)
    # An unsigned created parameter spliced in must not stand in for the creation time.
    value = signed.headers.get("signature") or ""
    spliced = signed.with_headers(
        {"Signature": value.replace("expires=", f"created={NOW},expires=")}
    )
    assert parse_cavage(spliced).created == NOW
    with pytest.raises(ClockSkewError, match="beyond the 43200s lifetime limit"):
        _verify_cavage(spliced, ed_key, NOW)
    fine = _cavage(ed_key, NOW, 11 * HOUR, headers=headers)
    _verify_cavage(fine, ed_key, NOW + 10 * HOUR)
    with pytest.raises(ClockSkewError, match=TOO_LONG):  # the Date header caps it
        _verify_cavage(_cavage(ed_key, NOW, 13 * HOUR, headers=headers), ed_key, NOW + 13 * HOUR)


@keys
def test_cavage_normal_signatures_keep_verifying(
    request: pytest.FixtureRequest, key_name: str
) -> None:
    key = request.getfixturevalue(key_name)
    _verify_cavage(_cavage(key, NOW, None), key, NOW + HOUR)  # Date header only
    created_only = ["(request-target)", "host", "(created)", "digest"]
    signed = _cavage(key, NOW, None, headers=created_only, algorithm="hs2019")
    assert parse_cavage(signed).created == NOW
    _verify_cavage(signed, key, NOW + HOUR)
    with pytest.raises(ClockSkewError, match="created is 3601s old"):
        _verify_cavage(signed, key, NOW + HOUR + 1)
    within = _cavage(key, NOW, 6 * HOUR)
    _verify_cavage(within, key, NOW + 6 * HOUR + SKEW)
    with pytest.raises(ClockSkewError, match="signature expired 301s ago"):
        _verify_cavage(within, key, NOW + 6 * HOUR + SKEW + 1)


def test_cavage_expires_before_created_is_refused(ed_key: Any) -> None:
    for headers in (None, NO_DATE):
        signed = _cavage(ed_key, NOW, -60, headers=headers)
        with pytest.raises(ClockSkewError, match="signature expires before it was made"):
            _verify_cavage(signed, ed_key, NOW)


# --- RFC 9421 created/expires -------------------------------------------------------------


@keys
def test_rfc9421_old_signature_with_far_expires_is_refused(
    request: pytest.FixtureRequest, key_name: str
) -> None:
    key = request.getfixturevalue(key_name)
    signed = _rfc9421(key, NOW - 30 * DAY, NOW + 10 * YEAR)
    with pytest.raises(ClockSkewError, match=TOO_LONG):
        _verify_rfc9421(signed, key, NOW)


@keys
def test_rfc9421_expires_13_hours_ahead_is_cut_at_12(
    request: pytest.FixtureRequest, key_name: str
) -> None:
    key = request.getfixturevalue(key_name)
    signed = _rfc9421(key, NOW, NOW + 13 * HOUR)
    _verify_rfc9421(signed, key, NOW)
    _verify_rfc9421(signed, key, NOW + LIMIT + SKEW)
    with pytest.raises(ClockSkewError, match=TOO_LONG) as info:
        _verify_rfc9421(signed, key, NOW + LIMIT + SKEW + 1)
    assert info.value.skew == -(SKEW + 1)


def test_rfc9421_expires_without_created(ed_key: Any) -> None:
    far = _rfc9421(ed_key, None, NOW + 10 * YEAR)
    with pytest.raises(MissingComponentError, match="has no created parameter"):
        _verify_rfc9421(far, ed_key, NOW)  # the default policy wants created anyway
    with pytest.raises(ClockSkewError, match="beyond the 43200s lifetime limit"):
        _verify_rfc9421(far, ed_key, NOW, require_created=False)
    edge = _rfc9421(ed_key, None, NOW + LIMIT + SKEW)
    _verify_rfc9421(edge, ed_key, NOW, require_created=False)
    with pytest.raises(ClockSkewError, match="beyond the 43200s lifetime limit"):
        _verify_rfc9421(edge, ed_key, NOW - 1, require_created=False)


@keys
def test_rfc9421_normal_signatures_keep_verifying(
    request: pytest.FixtureRequest, key_name: str
) -> None:
    key = request.getfixturevalue(key_name)
    _verify_rfc9421(_rfc9421(key, NOW, None), key, NOW + HOUR)
    within = _rfc9421(key, NOW, NOW + 6 * HOUR)
    _verify_rfc9421(within, key, NOW + 6 * HOUR + SKEW)
    with pytest.raises(ClockSkewError, match="signature expired 301s ago"):
        _verify_rfc9421(within, key, NOW + 6 * HOUR + SKEW + 1)


def test_rfc9421_expires_before_created_is_refused(ed_key: Any) -> None:
    signed = _rfc9421(ed_key, NOW, NOW - 60)
    message = re.escape(f"signature expires before it was made (signature 'sig1' created {NOW}")
    with pytest.raises(ClockSkewError, match=message):
        _verify_rfc9421(signed, ed_key, NOW)


def test_a_custom_lifetime_applies(ed_key: Any) -> None:
    signed = _rfc9421(ed_key, NOW, NOW + 13 * HOUR)
    window = TimeWindow(max_lifetime=DAY)
    (signature,) = parse_rfc9421(signed)
    public = ed_key.public_key()
    verify_rfc9421(signed, signature, public, now=NOW + 13 * HOUR, policy=Rfc9421Policy(window))
    cavage = _cavage(ed_key, NOW, 13 * HOUR)
    verify_cavage(
        cavage, parse_cavage(cavage), public, now=NOW + 13 * HOUR, policy=CavagePolicy(window)
    )


# --- allows() and check() are one rule ----------------------------------------------------

moments = st.integers(-2 * DAY, 2 * DAY).map(float)
maybe = st.one_of(st.none(), moments)


def _mastodon_rule(
    window: TimeWindow, created: float | None, expires: float | None, now: float
) -> bool:
    """The rule written out independently: what the window should accept."""
    if created is not None and created > now + window.max_future:
        return False
    if expires is None:
        return created is None or now - created <= window.max_age
    if created is None:
        deadline = expires
        if expires > now + window.max_lifetime + window.max_future:
            return False
    else:
        if expires < created:
            return False
        deadline = min(expires, created + window.max_lifetime)
    return now <= deadline + window.max_future


@given(
    maybe,
    maybe,
    moments,
    st.integers(0, DAY).map(float),
    st.integers(0, 600).map(float),
    st.integers(0, DAY).map(float),
)
def test_allows_is_check_not_raising(
    created: float | None,
    expires: float | None,
    now: float,
    max_age: float,
    max_future: float,
    max_lifetime: float,
) -> None:
    window = TimeWindow(max_age=max_age, max_future=max_future, max_lifetime=max_lifetime)
    try:
        window.check(created=created, expires=expires, now=now, what="created")
        accepted = True
    except ClockSkewError:
        accepted = False
    assert window.allows(created=created, expires=expires, now=now) is accepted
    assert accepted is _mastodon_rule(window, created, expires, now)


@given(moments, moments, moments)
def test_allows_is_check_not_raising_by_default(created: float, expires: float, now: float) -> None:
    window = TimeWindow()
    try:
        window.check(created=created, expires=expires, now=now, what="created")
        accepted = True
    except ClockSkewError:
        accepted = False
    assert window.allows(created=created, expires=expires, now=now) is accepted
    assert accepted is _mastodon_rule(window, created, expires, now)

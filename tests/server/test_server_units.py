"""Pure parts: URL templates and inbox body decoding (with property tests)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitypub_kit.errors import InvalidActivityError, RouteError
from activitypub_kit.server import wants_activitypub
from activitypub_kit.server._parsing import decode_activity
from activitypub_kit.server._routes import UrlTemplate


@given(handle=st.text(min_size=1, max_size=40), note=st.text(min_size=1, max_size=40))
def test_template_build_then_match_round_trips(handle, note):
    template = UrlTemplate("/users/{handle}/notes/{id}")
    path = template.build({"handle": handle, "id": note})
    assert template.match(path) == {"handle": handle, "id": note}


@given(st.text(max_size=60))
def test_template_match_never_raises(path):
    result = UrlTemplate("/users/{handle}").match(path)
    assert result is None or set(result) == {"handle"}


def test_template_rules():
    with pytest.raises(RouteError, match="must start with"):
        UrlTemplate("users/{handle}")
    with pytest.raises(RouteError, match="repeats"):
        UrlTemplate("/{a}/{a}")
    with pytest.raises(RouteError, match="malformed"):
        UrlTemplate("/users/{handle")
    template = UrlTemplate("/users/{handle}")
    with pytest.raises(RouteError, match="needs handle"):
        template.build({})
    assert template.match("/users/") is None
    assert template.match("/users/a/b") is None
    assert template.match("/users/a%2Fb") == {"handle": "a/b"}  # encoded: one segment
    assert template.build({"handle": "a b/c"}) == "/users/a%20b%2Fc"


@given(st.binary(max_size=200))
def test_decode_activity_gives_a_dict_or_a_typed_error(body):
    try:
        result = decode_activity(body)
    except InvalidActivityError as exc:
        message = str(exc)
        assert message
    else:
        assert isinstance(result, dict)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=20,
)


@given(
    extra=st.dictionaries(st.sampled_from(["content", "summary", "tag"]), json_values, max_size=3)
)
def test_decode_accepts_well_formed_activities(extra):
    document = {
        "id": "https://a.example/1",
        "type": "Like",
        "actor": "https://a.example/u",
        **extra,
    }
    assert decode_activity(json.dumps(document).encode()) == document


def test_accept_header_negotiation():
    assert wants_activitypub("application/activity+json")
    assert wants_activitypub('application/ld+json; profile="https://www.w3.org/ns/activitystreams"')
    assert wants_activitypub("text/html, application/activity+json;q=0.9")
    assert not wants_activitypub("application/activity+json;q=0")
    assert not wants_activitypub("text/html,*/*")
    assert not wants_activitypub("")

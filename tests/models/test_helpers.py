"""The everyday helpers, over every shape a property can take."""

from __future__ import annotations

import pytest

from activitypub_kit.models import (
    Emoji,
    Hashtag,
    Link,
    Mention,
    Note,
    Person,
    as_list,
    best_text,
    emojis,
    hashtags,
    http_url,
    id_of,
    ids_of,
    is_public,
    lookup_language,
    mentions,
    parse,
    public_keys,
    recipients,
)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("https://a.example/x", "https://a.example/x"),
        (Link(href="https://a.example/l"), "https://a.example/l"),
        (Note(id="https://a.example/n"), "https://a.example/n"),
        ({"id": "https://a.example/d"}, "https://a.example/d"),
        ({"href": "https://a.example/h"}, "https://a.example/h"),
        (["https://a.example/1", "https://a.example/2"], "https://a.example/1"),
        ([], None),
        (None, None),
        (Note(), None),
        (3, None),
    ],
)
def test_id_of(ref, expected):
    assert id_of(ref) == expected


def test_as_list_and_ids_of():
    assert as_list(None) == []
    assert as_list("x") == ["x"]
    value = ["a", "b"]
    assert as_list(value) is value
    assert ids_of(["https://a/1", Link(href="https://a/2"), Note(), {"id": "https://a/3"}]) == [
        "https://a/1",
        "https://a/2",
        "https://a/3",
    ]


def test_language_lookup():
    language_map = {"en-GB": "colour", "fr": "couleur", "und": "?"}
    assert lookup_language(language_map, "en-gb") == "colour"
    assert lookup_language(language_map, "en") == "colour"
    assert lookup_language(language_map, "fr-CA") == "couleur"
    assert lookup_language(language_map, "de") is None
    assert best_text("plain", language_map, "fr") == "couleur"
    assert best_text("plain", language_map, "de") == "plain"
    assert best_text(None, language_map) == "?"
    assert best_text(None, {"de": "Farbe"}) == "Farbe"
    assert best_text({"en": "name as map"}, None, "en") == "name as map"
    assert best_text(None, None) is None


def test_best_content_on_a_note():
    note = parse({"type": "Note", "content": "hi", "contentMap": {"en": "hi", "ja": "やあ"}})
    assert note.best_content("ja") == "やあ"
    assert note.best_content() == "hi"
    assert parse({"type": "Note", "nameMap": {"de": "Titel"}}).best_name("en") == "Titel"
    assert parse({"type": "Note", "summary": "cw"}).best_summary("en") == "cw"


@pytest.mark.parametrize(
    "public",
    ["https://www.w3.org/ns/activitystreams#Public", "as:Public", "Public"],
)
@pytest.mark.parametrize("prop", ["to", "cc", "bto", "bcc", "audience"])
def test_is_public_in_every_spelling_and_property(public, prop):
    assert is_public(parse({"type": "Note", prop: [public]}))
    assert is_public(parse({"type": "Note", prop: {"id": public, "type": "Collection"}}))


def test_not_public_and_recipients():
    note = parse(
        {
            "type": "Note",
            "to": "https://a/u/bob",
            "cc": ["https://a/u/alice/followers", "https://a/u/bob"],
            "bcc": [{"id": "https://a/u/carol", "type": "Person"}],
            "audience": {"href": "https://a/g", "type": "Link"},
        }
    )
    assert not is_public(note)
    assert recipients(note) == [
        "https://a/u/bob",
        "https://a/u/alice/followers",
        "https://a/u/carol",
        "https://a/g",
    ]
    assert recipients(note, hidden=False) == [
        "https://a/u/bob",
        "https://a/u/alice/followers",
        "https://a/g",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://a.example/inbox", "https://a.example/inbox"),
        ("http://a.example:8080/inbox", "http://a.example:8080/inbox"),
        ("javascript:alert(1)", None),
        ("ftp://a.example/f", None),
        ("https:///nohost", None),
        ("https://a.example:99999/x", None),
        ("https://a.example/ x", None),
        ("/relative", None),
        (None, None),
        (5, None),
    ],
)
def test_http_url(value, expected):
    assert http_url(value) == expected


def test_actor_urls_refuse_bad_schemes():
    """H-15: inbox and sharedInbox that are not http(s) URLs are not offered for delivery."""
    actor = parse(
        {
            "type": "Person",
            "inbox": ["https://a.example/inbox", "x"],
            "endpoints": {"sharedInbox": "javascript:alert(1)"},
        }
    )
    assert actor.inbox_url == "https://a.example/inbox"
    assert actor.shared_inbox_url is None
    assert parse({"type": "Person", "inbox": {"id": "ftp://a/i"}}).inbox_url is None
    assert parse({"type": "Person", "endpoints": "https://a/endpoints"}).shared_inbox_url is None


def test_public_keys_one_or_many():
    one = parse({"type": "Person", "publicKey": {"id": "https://a/u#k", "publicKeyPem": "P"}})
    assert [k.id for k in public_keys(one)] == ["https://a/u#k"]
    many = Person(publicKey=[{"id": "https://a/u#1"}, {"id": "https://a/u#2"}, "https://a/u#3"])
    assert [k.id for k in many.public_keys] == ["https://a/u#1", "https://a/u#2"]
    assert public_keys(Person()) == []


def test_mentions_hashtags_emojis():
    note = parse(
        {
            "type": "Note",
            "tag": [
                {"type": "Mention", "href": "https://a/u/bob", "name": "@bob"},
                {"type": "Hashtag", "href": "https://a/tags/x", "name": "#x"},
                {"type": "Emoji", "name": ":blob:", "icon": {"url": "https://a/e.png"}},
                "https://a/tags/plain",
            ],
        }
    )
    assert [type(m) for m in mentions(note)] == [Mention]
    assert [h.name for h in hashtags(note)] == ["#x"]
    assert [type(e) for e in emojis(note)] == [Emoji]
    assert emojis(note)[0].icon.url == "https://a/e.png"  # untyped icon defaults to Image
    single = parse({"type": "Note", "tag": {"type": "Hashtag", "name": "#one"}})
    assert [type(h) for h in hashtags(single)] == [Hashtag]
    assert mentions(parse({"type": "Note"})) == []

"""Typed attributes on real documents; building objects in Python; assignment; equality."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from activitypub_kit.errors import ValidationError
from activitypub_kit.models import (
    Accept,
    Activity,
    ChatMessage,
    Collection,
    CollectionPage,
    Create,
    DataIntegrityProof,
    Emoji,
    EmojiReact,
    Endpoints,
    Group,
    Hashtag,
    Image,
    IntransitiveActivity,
    Key,
    Link,
    Mention,
    Multikey,
    Note,
    Object,
    Page,
    Person,
    PropertyValue,
    Question,
    TentativeAccept,
    Video,
    model_for_type,
    parse,
)
from activitypub_kit.models._jsonld import AS_CONTEXT, SECURITY_V1_CONTEXT

DOCS = "activitypub-real-world/documents"


def load(corpus: Path, name: str):
    return parse((corpus / DOCS / name).read_bytes())


@pytest.mark.corpus
def test_mastodon_create_note(corpus):
    create = load(corpus, "mastodon__Create-Note__gts-statusWithEmojisAndTagsAsActivityJson.json")
    assert isinstance(create, Create)
    note = create.object
    assert isinstance(note, Note)
    assert [type(t) for t in note.tag] == [Hashtag, Hashtag, Emoji, Emoji, Emoji]
    assert isinstance(note.tag[2].icon, Image)
    assert note.tag[2].icon.media_type == "image/gif"
    assert isinstance(note.replies, Collection)
    assert isinstance(note.replies.first, CollectionPage)
    assert note.sensitive is False
    assert note.published == "2021-05-12T09:41:38.00Z"  # verbatim
    assert note.published_at == datetime(2021, 5, 12, 9, 41, 38, tzinfo=UTC)
    assert note.extra["atomUri"].endswith("106221567884565704")


@pytest.mark.corpus
def test_mastodon_mentions(corpus):
    create = load(corpus, "mastodon__Create-Note__gts-statusWithMentionsActivityJson.json")
    assert any(isinstance(t, Mention) for t in create.object.tag)


@pytest.mark.corpus
def test_mastodon_actor(corpus):
    actor = load(corpus, "mastodon__Person__fedify-activitypub.academy.json")
    assert isinstance(actor, Person)
    assert actor.preferred_username == "brauca_darradiul"
    assert isinstance(actor.public_key, Key)
    assert actor.public_key.owner == actor.id
    assert isinstance(actor.endpoints, Endpoints)
    assert actor.shared_inbox_url == "https://activitypub.academy/inbox"
    assert actor.inbox_url == "https://activitypub.academy/users/brauca_darradiul/inbox"
    assert actor.manually_approves_followers is False


@pytest.mark.corpus
def test_mastodon_profile_fields(corpus):
    actor = load(corpus, "gotosocial__Person__gts-TestAccountToASWithFields.json")
    fields = [a for a in actor.attachment if isinstance(a, PropertyValue)]
    assert fields
    assert all(isinstance(f.value, str) for f in fields)


@pytest.mark.corpus
def test_lemmy_page_in_group(corpus):
    announce = load(
        corpus,
        "lemmy__Announce-Create__lemmy-assets-activities_community_announce_create_page.json",
    )
    assert isinstance(announce.object, Create)
    page = announce.object.object
    assert isinstance(page, Page)
    assert page.stickied is False
    assert page.comments_enabled is True
    group = load(corpus, "lemmy__Group__lemmy-assets-objects_group.json")
    assert isinstance(group, Group)
    assert group.posting_restricted_to_mods is not None
    assert group.moderators is not None or group.attributed_to is not None


@pytest.mark.corpus
def test_misskey_and_fedibird_quotes(corpus):
    misskey = load(corpus, "misskey__Note__rebased-quote_post_misskey_quote_post.json")
    assert isinstance(misskey, Note)
    assert misskey.misskey_quote is not None
    assert misskey.quote_target == misskey.misskey_quote or misskey.quote_target
    fedibird = load(corpus, "fedibird__Note__rebased-quote_post_fedibird_quote_post.json")
    assert fedibird.quote_target is not None


@pytest.mark.corpus
def test_gotosocial_pleroma_peertube(corpus):
    assert isinstance(load(corpus, "gotosocial__Note__gts-TestStatusToASWithMentions.json"), Note)
    assert isinstance(
        load(corpus, "pleroma__ChatMessage__lemmy-assets-objects_chat_message.json"), ChatMessage
    )
    assert isinstance(load(corpus, "pleroma__EmojiReact__rebased-emoji-reaction.json"), EmojiReact)
    video = load(corpus, "peertube__Video__lemmy-assets-objects_video.json")
    assert isinstance(video, Video)
    assert video.uuid


@pytest.mark.corpus
def test_gotosocial_moved_actor_and_outbox_page(corpus):
    actor = load(corpus, "gotosocial__Person__gts-TestAccountToASAliasedAndMoved.json")
    assert isinstance(actor, Person)
    assert actor.moved_to is not None
    assert actor.also_known_as is not None
    page = load(corpus, "gotosocial__OrderedCollectionPage__gts-TestGetOutboxFirstPage.json")
    assert type(page).__name__ == "OrderedCollectionPage"
    assert isinstance(page, Collection)
    assert all(isinstance(item, (str, Create)) for item in page.ordered_items or [])


@pytest.mark.corpus
def test_lenient_extension_value_is_kept_as_extra(corpus):
    actor = load(corpus, "mastodon__Person__rebased-tesla_mock_admin-mastdon.example.org.json")
    assert actor.discoverable is None  # "true" (a string) is not a boolean
    assert actor.extra["discoverable"] == "true"


def test_hierarchy():
    assert issubclass(TentativeAccept, Accept)
    assert issubclass(Question, IntransitiveActivity)
    assert issubclass(IntransitiveActivity, Activity)
    assert issubclass(Hashtag, Link)
    assert issubclass(Mention, Link)
    assert issubclass(Image, Object)
    assert model_for_type("Note") is Note
    assert model_for_type("toot:Nothing") is None


def test_build_in_python_by_field_name():
    note = Note(
        id="https://blog.example/n/1",
        content="<p>hi #tag</p>",
        attributed_to="https://blog.example/u/alice",
        to=["https://www.w3.org/ns/activitystreams#Public"],
        tag=[Hashtag(href="https://blog.example/tags/tag", name="#tag")],
        sensitive=False,
        published=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    )
    data = note.to_json()
    assert data["type"] == "Note"
    assert data["attributedTo"] == "https://blog.example/u/alice"
    assert data["published"] == "2024-05-01T12:00:00Z"
    assert data["tag"] == [
        {"type": "Hashtag", "href": "https://blog.example/tags/tag", "name": "#tag"}
    ]
    context = data["@context"]
    assert context[0] == AS_CONTEXT
    assert context[-1]["Hashtag"] == "as:Hashtag"
    assert context[-1]["sensitive"] == "as:sensitive"
    assert "toot" not in context[-1]  # no toot term used
    assert parse(data).to_json() == data


def test_build_nested_dicts_and_aliases():
    create = Create(actor="https://a.example/u", object={"type": "Note", "content": "x"})
    assert isinstance(create.object, Note)
    person = Person(
        id="https://a.example/u",
        inbox="https://a.example/u/inbox",
        publicKey={
            "id": "https://a.example/u#k",
            "owner": "https://a.example/u",
            "publicKeyPem": "P",
        },
        discoverable=True,
    )
    assert isinstance(person.public_key, Key)
    context = person.to_json()["@context"]
    assert context[:2] == [AS_CONTEXT, SECURITY_V1_CONTEXT]
    assert context[2]["discoverable"] == "toot:discoverable"
    assert context[2]["toot"] == "http://joinmastodon.org/ns#"


def test_only_as_terms_give_a_plain_context_string():
    assert Note(content="x").to_json()["@context"] == AS_CONTEXT
    assert "@context" not in parse({"type": "Note"}).to_json()
    assert parse({"type": "Note"}).to_json(context=True)["@context"] == AS_CONTEXT


def test_construction_errors_name_the_field():
    with pytest.raises(ValidationError) as caught:
        Note(content=5)
    assert caught.value.path == "content"
    with pytest.raises(ValidationError) as caught:
        Create(object={"type": "Note", "tag": [{"type": "Mention", "href": 3}]})
    assert caught.value.path == "object.tag[0].href"


def test_assignment_is_validated():
    note = parse({"type": "Note"})
    note.content = "now"
    note.in_reply_to = {"type": "Note", "id": "https://a.example/n/0"}
    assert isinstance(note.in_reply_to, Note)
    assert note.to_json() == {
        "type": "Note",
        "content": "now",
        "inReplyTo": {"type": "Note", "id": "https://a.example/n/0"},
    }
    with pytest.raises(ValidationError, match="inReplyTo"):
        note.in_reply_to = 3
    del note.content
    assert note.content is None
    assert "content" not in note.to_json()


def test_unset_properties_read_none_and_extras_are_kept():
    note = parse({"type": "Note", "foo:bar": {"x": [1, 2.0]}})
    assert note.summary is None
    assert note.extra == {"foo:bar": {"x": [1, 2.0]}}
    with pytest.raises(AttributeError):
        _ = note.not_a_property


def test_equality_is_by_json():
    assert parse({"type": "Note", "content": "a"}) == Note.model_validate(
        {"content": "a", "type": "Note"}
    )
    assert parse({"type": "Note", "content": "a"}) != parse({"type": "Note", "content": "b"})


def test_model_validate_dispatches_within_the_class():
    assert type(Object.model_validate({"type": "Note"})) is Note
    assert type(Note.model_validate({"type": "Person"})) is Note
    assert type(Activity.model_validate_json(b'{"type": "Follow"}')).__name__ == "Follow"


UNSUPPORTED = [
    ("strict", True),
    ("strict", False),
    ("context", {"request": "r"}),
    ("by_alias", False),
    ("by_name", True),
    ("extra", "forbid"),
    ("extra", "ignore"),
]


@pytest.mark.parametrize(("name", "value"), [*UNSUPPORTED, ("from_attributes", True)])
def test_model_validate_refuses_pydantic_options_it_cannot_honour(name, value):
    with pytest.raises(TypeError, match=rf"model_validate\(\) does not support {name}="):
        Note.model_validate({"type": "Note"}, **{name: value})


@pytest.mark.parametrize(("name", "value"), UNSUPPORTED)
def test_model_validate_json_refuses_pydantic_options_it_cannot_honour(name, value):
    with pytest.raises(TypeError, match=rf"model_validate_json\(\) does not support {name}="):
        Note.model_validate_json(b'{"type": "Note"}', **{name: value})


def test_model_validate_accepts_the_options_that_describe_what_it_does():
    doc = {"type": "Note", "attributedTo": "https://a.example/u/1"}
    same = {"by_alias": True, "by_name": False, "extra": "allow", "strict": None, "context": None}
    assert Note.model_validate(doc, from_attributes=False, **same).to_json() == doc
    assert Note.model_validate_json(b'{"type": "Note"}', **same).to_json() == {"type": "Note"}
    with pytest.raises(TypeError):
        Note.model_validate(doc, True)  # type: ignore[misc]  # keyword-only, as in pydantic


def test_security_objects():
    actor = parse(
        {
            "type": "Person",
            "assertionMethod": [
                {
                    "id": "https://a/u#ed",
                    "type": "Multikey",
                    "controller": "https://a/u",
                    "publicKeyMultibase": "z6Mk",
                }
            ],
            "proof": {
                "type": "DataIntegrityProof",
                "cryptosuite": "eddsa-jcs-2022",
                "proofValue": "z",
            },
            "publicKey": [{"id": "https://a/u#1", "publicKeyPem": "A"}, "https://a/u#2"],
        }
    )
    assert isinstance(actor.assertion_method[0], Multikey)
    assert isinstance(actor.proof, DataIntegrityProof)
    assert [k.id for k in actor.public_keys] == ["https://a/u#1"]


def test_embedded_objects_are_built_on_access_with_the_same_rules():
    create = parse(
        {
            "type": "Create",
            "object": {"type": "Note", "sensitive": "yes", "tag": [{"type": "Mention"}, "x"]},
        }
    )
    note = create.object
    assert isinstance(note, Note)
    assert create.object is note  # built once, then kept
    assert note.sensitive is None
    assert note.extra == {"sensitive": "yes"}
    assert [type(t).__name__ for t in note.tag] == ["Mention", "str"]
    assert create.to_json()["object"]["sensitive"] == "yes"


def test_copies_and_pickles_keep_the_document():
    import copy
    import pickle

    model = parse({"type": "Create", "object": {"type": "Note", "content": "x"}, "x:y": 1})
    for clone in (
        pickle.loads(pickle.dumps(model)),
        copy.deepcopy(model),
        model.model_copy(deep=True),
    ):
        assert clone.to_json() == model.to_json()
        assert isinstance(clone.object, Note)
    updated = model.model_copy(update={"summary": "cw"})
    assert updated.to_json()["summary"] == "cw"
    assert "summary" not in model.to_json()

"""parse(): inputs, errors with paths, and the JSON-LD fast path / slow path."""

from __future__ import annotations

import json

import pytest

from activitypub_kit.errors import ActivityPubError, JsonLdError, ValidationError
from activitypub_kit.models import (
    Activity,
    Actor,
    Collection,
    Create,
    Key,
    Link,
    Note,
    Object,
    OrderedCollection,
    Person,
    parse,
)
from activitypub_kit.models._jsonld import AS_CONTEXT, context_redefines_as

NOTE = {"@context": AS_CONTEXT, "type": "Note", "id": "https://a.example/n/1", "content": "hi"}


@pytest.mark.parametrize("encode", [lambda d: d, json.dumps, lambda d: json.dumps(d).encode()])
def test_dict_str_and_bytes_give_the_same_model(encode):
    model = parse(encode(NOTE))
    assert isinstance(model, Note)
    assert model.content == "hi"
    assert model.to_json() == NOTE


def test_parse_does_not_modify_a_dict_input():
    doc = {"type": "Create", "actor": "https://a.example/u", "object": {"type": "Note"}}
    before = json.loads(json.dumps(doc))
    parse(doc).object.content = "changed"
    assert doc == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "invalid JSON"),
        (b"", "invalid JSON"),
        (b'{"type": "Note", "x": NaN}', "invalid JSON"),
        (b"[1, 2]", "top level must be a JSON object, got array"),
        (b"null", "top level must be a JSON object, got null"),
        (b'"Note"', "top level must be a JSON object, got string"),
    ],
)
def test_document_level_errors(data, message):
    with pytest.raises(ValidationError, match=message) as caught:
        parse(data)
    assert caught.value.path == ""
    assert isinstance(caught.value, ActivityPubError)


def test_wrong_input_type():
    with pytest.raises(ValidationError, match="expected JSON text or a dict, got int"):
        parse(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("doc", "path", "message"),
    [
        ({"type": ""}, "type", "must not be empty"),
        ({"type": 7}, "type", "must be a string or a list of strings (got number)"),
        ({"type": ["Note", 3]}, "type[1]", "must be a non-empty string (got number)"),
        ({"type": "Note", "id": 4}, "id", "must be a string (got number)"),
        ({"type": "Note", "published": "yesterday"}, "published", "ISO 8601"),
        ({"type": "Note", "contentMap": {"en": 1}}, "contentMap.en", "must be a string"),
        ({"type": "OrderedCollection", "totalItems": "3"}, "totalItems", "must be an integer"),
        (
            {"type": "Create", "object": {"type": "Note", "tag": [{}, {}, {"href": 5}]}},
            "object.tag[2].href",
            "must be a string (got number)",
        ),
        ({"type": "Create", "object": {"type": "Note", "to": [1]}}, "object.to[0]", "IRI string"),
        ({"type": "Note", "tag": {"type": ""}}, "tag.type", "must not be empty"),
    ],
)
def test_property_errors_name_the_path(doc, path, message):
    with pytest.raises(ValidationError) as caught:
        parse(doc)
    assert caught.value.path == path
    assert message in caught.value.message
    assert str(caught.value).startswith(f"{path}: ")


def test_type_is_optional_unless_required():
    assert type(parse({"id": "https://a.example/x"})) is Object
    with pytest.raises(ValidationError, match="required property is missing") as caught:
        parse({"id": "https://a.example/x"}, require_type=True)
    assert caught.value.path == "type"


@pytest.mark.parametrize(
    ("doc", "cls"),
    [
        ({"type": "Frobnicate", "actor": "https://a.example/u"}, Activity),
        ({"type": "Bot", "inbox": "https://a/i", "outbox": "https://a/o"}, Actor),
        ({"type": "Feed", "orderedItems": []}, OrderedCollection),
        ({"type": "Feed", "totalItems": 0}, Collection),
        ({"type": "Anchor", "href": "https://a.example/"}, Link),
        ({"id": "https://a/k", "owner": "https://a/u", "publicKeyPem": "PEM"}, Key),
        ({"type": "Thing"}, Object),
        ({"type": ["prov:Entity", "Note"]}, Note),
        ({"type": "as:Note"}, Note),
        ({"type": "https://www.w3.org/ns/activitystreams#Person"}, Person),
    ],
)
def test_unknown_types_take_the_nearest_generic_class(doc, cls):
    model = parse(doc)
    assert type(model) is cls
    assert model.to_json() == doc  # the original type string is kept


def test_deep_nesting_is_refused_cleanly():
    deep = '{"type": "Create", "object": ' * 5000 + "{}" + "}" * 5000
    with pytest.raises(ValidationError):
        parse(deep)
    nested: dict = {"type": "Note"}
    for _ in range(5000):
        nested = {"type": "Create", "object": nested}
    with pytest.raises(ValidationError, match="nested too deeply"):
        parse(nested)


# --- JSON-LD ------------------------------------------------------------------------------


def test_redefined_actor_is_not_exposed_as_actor():
    """H-21: a context mapping ``actor`` elsewhere must not make the value an actor."""
    doc = {
        "@context": [AS_CONTEXT, {"actor": "as:summary"}],
        "type": "Create",
        "id": "https://attacker.example/create/1",
        "actor": "https://victim.example/users/alice",
        "object": {"type": "Note", "content": "forged"},
    }
    assert context_redefines_as(doc["@context"])
    model = parse(json.dumps(doc))
    assert isinstance(model, Create)
    assert model.actor is None
    assert model.summary == "https://victim.example/users/alice"
    assert "https://victim.example/users/alice" not in json.dumps(model.to_json().get("actor"))


def test_aliased_actor_term_is_compacted_to_actor():
    doc = {
        "@context": [
            AS_CONTEXT,
            {"actor": "as:summary", "doer": {"@id": "as:actor", "@type": "@id"}},
        ],
        "type": "Create",
        "actor": "https://victim.example/users/alice",
        "doer": "https://attacker.example/users/eve",
    }
    model = parse(doc)
    assert model.actor == "https://attacker.example/users/eve"
    assert model.summary == "https://victim.example/users/alice"


@pytest.mark.parametrize(
    "context",
    [
        [AS_CONTEXT, {"@vocab": "https://evil.example/ns#"}],
        [AS_CONTEXT, {"id": "as:actor"}],
        [AS_CONTEXT, {"as": "https://evil.example/ns#"}],
        [AS_CONTEXT, {"object": {"@reverse": "as:object"}}],
        [AS_CONTEXT, {"to": None}],
        [AS_CONTEXT, {"Create": "as:Delete"}],
        [AS_CONTEXT, "http://schema.org/"],
        # after the AS context, identity/v1 does redefine AS terms
        [AS_CONTEXT, "https://w3id.org/identity/v1"],
        # a protected term before the AS context cannot be reset (processors refuse it)
        [{"@protected": True, "actor": "as:summary"}, AS_CONTEXT],
    ],
)
def test_redefinitions_are_detected(context):
    assert context_redefines_as(context)


@pytest.mark.parametrize(
    "context",
    [
        AS_CONTEXT,
        "http://www.w3.org/ns/activitystreams#",
        [AS_CONTEXT, "https://w3id.org/security/v1", {"toot": "http://joinmastodon.org/ns#"}],
        [AS_CONTEXT, {"sensitive": "as:sensitive", "Hashtag": "as:Hashtag", "@language": "en"}],
        [AS_CONTEXT, {"inReplyTo": {"@id": "as:inReplyTo", "@type": "@id"}}],
        [AS_CONTEXT, {"location": {"@id": "sc:location"}, "sc": "http://schema.org#"}],
        [AS_CONTEXT, "https://instance.example/schemas/litepub-0.1.jsonld"],
        # Fedify: identity/v1 redefines AS terms, but the AS context after it resets them.
        ["https://w3id.org/identity/v1", AS_CONTEXT, "https://w3id.org/security/v1"],
        [{"actor": "as:summary"}, AS_CONTEXT],
    ],
)
def test_ordinary_contexts_take_the_fast_path(context):
    assert not context_redefines_as(context)


def test_unknown_remote_context_does_not_break_ordinary_parsing():
    doc = {
        "@context": [AS_CONTEXT, "https://pleroma.example/schemas/litepub-0.1.jsonld"],
        "type": "Note",
        "content": "hello",
    }
    assert parse(doc).to_json() == doc


def test_unknown_remote_context_is_refused_when_compaction_is_needed():
    doc = {
        "@context": [AS_CONTEXT, "https://evil.example/ctx.jsonld", {"actor": "as:summary"}],
        "type": "Create",
        "actor": "https://victim.example/users/alice",
    }
    with pytest.raises(JsonLdError, match="never fetched"):
        parse(doc)


def test_nested_redefining_context_is_compacted():
    doc = {
        "@context": AS_CONTEXT,
        "type": "Announce",
        "object": {
            "@context": {"attributedTo": "as:summary"},
            "type": "Note",
            "attributedTo": "https://victim.example/users/alice",
        },
    }
    model = parse(doc)
    assert model.object.attributed_to is None
    assert model.object.summary == "https://victim.example/users/alice"


def test_jsonld_keywords_as_properties_take_the_slow_path():
    model = parse({"@context": AS_CONTEXT, "@id": "https://a.example/n/1", "@type": "Note"})
    assert isinstance(model, Note)
    assert model.id == "https://a.example/n/1"
    nested = parse({"type": "Announce", "object": {"@type": "Note", "content": "x"}})
    assert isinstance(nested.object, Note)


def test_type_next_to_at_type_exposes_both_types():
    # JSON-LD reads both as @type: after compaction the JSON view says so too.
    model = parse({"@context": AS_CONTEXT, "type": "Create", "@type": "Delete"})
    assert sorted(model.type) == ["Create", "Delete"]


def test_fast_path_never_imports_pyld():
    import subprocess
    import sys

    code = (
        "import sys, activitypub_kit.models as m;"
        'm.parse(b\'{"@context": ["https://www.w3.org/ns/activitystreams",'
        ' {"toot": "http://joinmastodon.org/ns#"}], "type": "Create",'
        ' "object": {"type": "Note", "tag": [{"type": "Hashtag"}]}}\').object.tag;'
        "print('pyld' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"

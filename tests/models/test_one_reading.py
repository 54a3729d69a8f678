"""One reading of a document: keyword aliases and scoped contexts count as redefinitions,
``parse(normalise=False)`` refuses what it would have compacted, signature and proof blocks
keep their own contexts, and ``type_names`` unifies the three ActivityStreams spellings."""

from __future__ import annotations

from typing import Any

import pytest

from activitypub_kit.errors import JsonLdError
from activitypub_kit.models import Create, Note, parse, type_names
from activitypub_kit.models._jsonld import context_aliases_keyword, context_redefines_as

AS = "https://www.w3.org/ns/activitystreams"


def create(obj: Any, **extra: Any) -> dict[str, Any]:
    return {
        "@context": AS,
        "id": "https://a.test/c/1",
        "type": "Create",
        "actor": "https://a.test/u",
        "object": obj,
        **extra,
    }


@pytest.mark.parametrize(
    "context",
    [
        {"xid": "@id"},
        {"kind": "@type"},
        {"xid": {"@id": "@id"}},
        {"rev": "@reverse"},
        {"by": {"@id": "as:attributedTo", "@context": {"id": "as:url"}}},
        [AS, {"xid": "@id"}],
    ],
)
def test_keyword_aliases_and_scoped_redefinitions_redefine(context):
    assert context_redefines_as(context)
    assert context_aliases_keyword(context)


@pytest.mark.parametrize(
    "context",
    [
        AS,
        [AS, "https://w3id.org/security/v1"],
        {"id": "@id", "type": "@type"},  # what ActivityStreams itself says
        {"toot": "http://joinmastodon.org/ns#", "Emoji": "toot:Emoji"},
        {"by": {"@id": "https://x.test/by", "@context": {"extra": "https://x.test/e"}}},
        {"@language": "en"},
    ],
)
def test_ordinary_contexts_do_not(context):
    assert not context_redefines_as(context)
    assert not context_aliases_keyword(context)


def test_identity_context_redefines_but_aliases_no_keyword():
    # Fedify's signature blocks carry it: fine for a block, not for an AS object.
    assert context_redefines_as("https://w3id.org/identity/v1")
    assert not context_aliases_keyword("https://w3id.org/identity/v1")


def test_parse_without_normalising_refuses_instead_of_compacting():
    forged = create(
        {
            "@context": {"xid": "@id", "id": "as:url"},
            "id": "https://a.test/n/1",
            "xid": "https://victim.test/n/1",
            "type": "Note",
        }
    )
    assert parse(forged).object.id == "https://victim.test/n/1"  # the JSON-LD reading
    with pytest.raises(JsonLdError, match="depends on JSON-LD processing"):
        parse(forged, normalise=False)
    at_type = create({"id": "https://a.test/n/1", "type": "Note", "@type": "Tombstone"})
    with pytest.raises(JsonLdError):
        parse(at_type, normalise=False)


def test_parse_without_normalising_reads_ordinary_documents_as_they_are():
    plain = create(
        {
            "@context": [AS, {"Hashtag": "as:Hashtag"}],
            "id": "https://a.test/n/1",
            "type": "Note",
            "content": "hi",
        }
    )
    model = parse(plain, normalise=False)
    assert isinstance(model, Create)
    assert isinstance(model.object, Note)
    assert model.to_json() == plain


def test_signature_and_proof_blocks_keep_their_own_context():
    signed = create(
        "https://a.test/n/1",
        signature={
            "@context": "https://w3id.org/identity/v1",
            "type": "RsaSignature2017",
            "creator": "https://a.test/u#k",
            "created": "2026-01-01T00:00:00Z",
            "signatureValue": "AA==",
        },
        proof={"@context": "https://w3id.org/identity/v1", "type": "DataIntegrityProof"},
    )
    model = parse(signed, normalise=False)
    assert model.to_json() == signed  # not compacted: the block's context is its own
    signed["signature"]["@context"] = {"xid": "@id"}
    with pytest.raises(JsonLdError):
        parse(signed, normalise=False)


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("Create", ["Create"]),
        ("as:Create", ["Create"]),
        (AS + "#Create", ["Create"]),
        (["as:Note", "litepub:ChatMessage", 5], ["Note", "litepub:ChatMessage"]),
        (None, []),
    ],
)
def test_type_names_unify_the_spellings(value, names):
    assert type_names({"type": value}) == names
    if isinstance(value, str):  # a model answers the same
        assert type_names(parse({"type": value, "id": "https://a.test/x"})) == names


def test_a_remembered_verdict_is_never_lent_to_another_context():
    harmless = {"toot": "http://joinmastodon.org/ns#", "featured": {"@id": "toot:featured"}}
    assert not context_redefines_as(harmless)
    assert not context_redefines_as(dict(harmless))  # remembered, same content
    # Same terms, other meaning; then the judged dict itself changed afterwards.
    assert context_redefines_as({"toot": "@id", "featured": {"@id": "toot:featured"}})
    harmless["featured"]["@id"] = "@id"
    assert context_redefines_as(harmless)

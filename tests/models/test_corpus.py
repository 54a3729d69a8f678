"""Acceptance: every corpus document parses and round-trips; the fail documents as documented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from activitypub_kit.errors import ValidationError
from activitypub_kit.models import (
    Collection,
    Image,
    Note,
    Object,
    OrderedCollection,
    parse,
)
from activitypub_kit.models._jsonld import context_redefines_as, normalise

pytestmark = pytest.mark.corpus

FOLDERS = [
    "activitystreams/as2-test-documents",
    "activitystreams/activitypub-spec-examples",
    "activitypub-real-world/documents",
]


def _documents(corpus: Path, folder: str) -> list[Path]:
    files = sorted(p for p in (corpus / folder).glob("*.json") if p.name != "manifest.json")
    assert files, f"no documents in {folder}"
    return files


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_document_parses_and_round_trips(corpus: Path, folder: str) -> None:
    failures = []
    for path in _documents(corpus, folder):
        raw = path.read_bytes()
        original = json.loads(raw)
        try:
            model = parse(raw)
        except Exception as exc:
            failures.append(f"{path.name}: {type(exc).__name__}: {exc}")
            continue
        # The documented normalisation: a document whose @context redefines
        # ActivityStreams terms comes back in its compacted form.
        expected = (
            normalise(original) if context_redefines_as(original.get("@context")) else original
        )
        if model.to_json() != expected:
            failures.append(f"{path.name}: to_json() differs from the input")
        if parse(original).to_json() != expected:
            failures.append(f"{path.name}: parse(dict) differs from parse(bytes)")
    assert not failures, "\n".join(failures)


def test_real_world_count(corpus: Path) -> None:
    assert len(_documents(corpus, "activitypub-real-world/documents")) == 371


# The table in docs/models.md, "Documents of as2-test-documents-fail".
REJECTED = {
    "array-at-top.json": ("", "top level must be a JSON object, got array"),
    "name-as-namemap.json": ("nameMap", "must be a language map object (got string)"),
    "number-as-actor.json": ("actor", "must be an IRI string"),
    "number-as-content.json": ("content", "must be a string or a language map (got number)"),
    "number-as-context.json": ("@context", "must be a context URL"),
    "number-as-id.json": ("id", "must be a string (got number)"),
    "number-as-name.json": ("name", "must be a string or a language map (got number)"),
    "number-as-object.json": ("object", "must be an IRI string"),
    "number-as-type.json": ("type", "must be a string or a list of strings (got number)"),
    "number-at-top.json": ("", "top level must be a JSON object, got number"),
    "string-at-top.json": ("", "top level must be a JSON object, got string"),
}
ACCEPTED = {
    "collection-with-non-page-first.json": Collection,
    "content-map-with-invalid-language-tag.json": Note,
    "namemap-as-name.json": Object,
    "ordered-collection-with-items.json": OrderedCollection,
    "ordered-collection-with-non-page-first.json": OrderedCollection,
    "other-context.json": Object,
    "relative-uri-for-url.json": Image,
    "unordered-collection-with-ordered-items.json": Collection,
}


def test_fail_documents_are_handled_as_documented(corpus: Path) -> None:
    files = sorted((corpus / "activitystreams/as2-test-documents-fail").glob("*.json"))
    assert {p.name for p in files} == set(REJECTED) | set(ACCEPTED)
    for path in files:
        if path.name in REJECTED:
            where, message = REJECTED[path.name]
            with pytest.raises(ValidationError) as caught:
                parse(path.read_bytes())
            assert caught.value.path == where, path.name
            assert message in str(caught.value), path.name
        else:
            model = parse(path.read_bytes())
            assert type(model) is ACCEPTED[path.name], path.name


def test_other_context_is_compacted_not_read_as_activitystreams(corpus: Path) -> None:
    # schema.org maps "name" to schema:name: after compaction nothing is exposed as as:name.
    model = parse(
        (corpus / "activitystreams/as2-test-documents-fail/other-context.json").read_bytes()
    )
    assert model.name is None
    assert model.type == "http://schema.org/Person"
    assert "http://schema.org/name" in model.extra

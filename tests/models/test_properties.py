"""Hypothesis: round-trip and shape preservation over generated ActivityStreams documents."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activitypub_kit.errors import ValidationError
from activitypub_kit.models import ASModel, Object, as_list, id_of, parse
from activitypub_kit.models._base import TYPES

iris = st.builds(lambda p: f"https://h.example/{p}", st.text("abcxyz/-_", max_size=12))
texts = st.text(max_size=20)
datetimes = st.sampled_from(
    [
        "2024-01-02T03:04:05Z",
        "2021-05-12T09:41:38.00Z",
        "2019-09-19T00:32:36.785333",
        "2020-01-01T00:00:00+01:00",
    ]
)
type_names = st.sampled_from(sorted({*TYPES, "Unknown", "ex:Thing"}))
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
REFERENCE_KEYS = {"actor", "object", "to", "cc", "tag", "attributedTo", "inReplyTo", "url"}
language_maps = st.dictionaries(st.sampled_from(["en", "fr", "und", "ja-JP"]), texts, max_size=3)


def _one_or_list(strategy):
    return strategy | st.lists(strategy, max_size=3)


@st.composite
def documents(draw, depth=2):
    doc = {}
    if draw(st.booleans()):
        doc["type"] = draw(type_names | st.lists(type_names, min_size=1, max_size=2))
    if draw(st.booleans()):
        doc["id"] = draw(iris)
    refs = iris if depth == 0 else iris | documents(depth=depth - 1)
    for key in draw(
        st.sets(
            st.sampled_from(
                ["actor", "object", "to", "cc", "tag", "attributedTo", "inReplyTo", "url"]
            ),
            max_size=4,
        )
    ):
        doc[key] = draw(st.none() | _one_or_list(refs))
    for key in draw(
        st.sets(st.sampled_from(["content", "name", "summary", "mediaType"]), max_size=2)
    ):
        doc[key] = draw(texts)
    for key in draw(st.sets(st.sampled_from(["published", "updated"]), max_size=1)):
        doc[key] = draw(datetimes)
    if draw(st.booleans()):
        doc["contentMap"] = draw(language_maps)
    if draw(st.booleans()):
        doc["sensitive"] = draw(st.booleans() | texts)  # lenient: a string stays an extra
    for key in draw(st.sets(st.sampled_from(["x:unknown", "_custom", "fooBar"]), max_size=2)):
        doc[key] = draw(json_values)
    return doc


@settings(max_examples=300, deadline=None)
@given(documents())
def test_round_trip_is_exact(doc):
    model = parse(doc)
    assert isinstance(model, ASModel)
    assert model.to_json() == doc
    assert parse(json.dumps(doc).encode()).to_json() == doc
    # the text form is the same JSON too (numbers keep their int/float form)
    assert json.loads(json.dumps(model.to_json())) == json.loads(json.dumps(doc))


@settings(max_examples=200, deadline=None)
@given(documents())
def test_shapes_are_kept_and_references_resolve(doc):
    model = parse(doc)
    names = {info.alias or name: name for name, info in type(model).model_fields.items()}
    for key, value in doc.items():
        if key not in REFERENCE_KEYS or key not in names or value is None:
            continue
        attr = getattr(model, names[key])
        assert isinstance(attr, list) == isinstance(value, list)  # single stays single
        assert len(as_list(attr)) == len(as_list(value))
        for item, original in zip(as_list(attr), as_list(value), strict=True):
            if isinstance(original, str):
                assert item == original
            else:
                assert isinstance(item, ASModel)
                assert id_of(item) == id_of(original)


@settings(max_examples=200, deadline=None)
@given(
    documents(),
    st.sampled_from(["content", "id", "to", "published", "contentMap"]),
    st.integers() | st.floats(allow_nan=False),
)
def test_a_wrong_shape_is_an_error_naming_the_property(doc, key, bad):
    doc["type"] = "Note"
    doc[key] = bad
    with pytest.raises(ValidationError) as caught:
        parse(doc)
    assert caught.value.path.split(".")[0].split("[")[0] == key


@settings(max_examples=100, deadline=None)
@given(documents())
def test_model_validate_agrees_with_parse(doc):
    assert Object.model_validate(doc).to_json() == doc or not issubclass(type(parse(doc)), Object)


def _shape(value):
    if isinstance(value, list):
        return [_shape(v) for v in value]
    if isinstance(value, ASModel):
        return (
            type(value).__name__,
            {k: _shape(getattr(value, k)) for k in value.model_fields_set},
        )
    return value


@settings(max_examples=150, deadline=None)
@given(documents())
def test_lazy_and_eager_building_agree(doc):
    lazy = parse(doc)  # embedded objects built on first access
    eager = type(lazy).model_validate(doc)  # embedded objects built at once
    assert _shape(lazy) == _shape(eager)
    assert lazy.to_json() == eager.to_json() == doc

"""``parse``: bytes, text or a dict in, the typed model chosen by ``type`` out."""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json

from activitypub_kit.errors import JsonLdError, ValidationError
from activitypub_kit.models._base import ASModel
from activitypub_kit.models._checks import Invalid, Redefined, json_kind
from activitypub_kit.models._jsonld import normalise as compact_document
from activitypub_kit.models._walk import build, class_for


def load_json(data: str | bytes | bytearray) -> Any:
    """Decode JSON text (UTF-8 bytes or str) with pydantic-core's parser.

    ``NaN`` and ``Infinity`` are refused, as is nesting deeper than the parser's limit.

    :raises ValidationError: when ``data`` is not valid JSON.
    """
    try:
        return from_json(data, allow_inf_nan=False, cache_strings="keys")
    except ValueError as exc:
        raise ValidationError(f"invalid JSON: {exc}") from None


def parse(
    data: dict[str, Any] | str | bytes | bytearray,
    *,
    require_type: bool = False,
    normalise: bool = True,
) -> ASModel:
    """Read an ActivityStreams document into the model class chosen by its ``type``.

    ``data`` is the JSON text (``bytes`` or ``str``) or an already decoded ``dict``.  Unknown
    types give the nearest generic class (Activity, Actor, Collection, Link, Object), unknown
    properties are kept, and :meth:`~ASModel.to_json` gives the document back.  A document
    whose ``@context`` redefines ActivityStreams terms is first compacted by JSON-LD
    (:func:`~activitypub_kit.models._jsonld.normalise`).  ``type`` may be absent (ActivityStreams
    makes it optional) unless ``require_type`` is true.

    With ``normalise=False`` such a document is refused instead of compacted: the result is
    then always the plain-JSON reading of ``data``, key for key.  An inbox uses this to act
    on exactly the document it authenticated and checked.

    :raises ValidationError: naming the offending property, e.g.
        ``object.tag[2].href: must be a string (got number)``.
    :raises JsonLdError: when a redefining document cannot be compacted offline, or (with
        ``normalise=False``) when it would need compacting.
    """
    if isinstance(data, bytes | bytearray | str):
        document = load_json(data)
    elif isinstance(data, dict):
        document = data
    else:
        raise ValidationError(f"expected JSON text or a dict, got {type(data).__name__}")
    if type(document) is not dict:
        raise ValidationError(f"the top level must be a JSON object, got {json_kind(document)}")
    try:
        return _read(document, require_type)
    except Redefined:
        if not normalise:
            raise JsonLdError(
                "the document's meaning depends on JSON-LD processing (an @context redefines"
                " ActivityStreams terms or aliases a keyword, or a JSON-LD keyword is used as"
                " a property)"
            ) from None
    compacted = compact_document(document)
    try:
        return _read(compacted, require_type)
    except Redefined:  # pragma: no cover - the canonical context redefines nothing
        raise ValidationError("@context still redefines ActivityStreams terms") from None


def _read(document: dict[str, Any], require_type: bool) -> ASModel:
    if require_type and "type" not in document:
        raise ValidationError("required property is missing", path="type")
    try:
        return build(class_for(document, None), document, lazy=True)
    except Invalid as error:
        raise ValidationError(error.message, path=error.dotted()) from None
    except RecursionError:
        raise ValidationError("the document is nested too deeply") from None


__all__ = ["parse", "load_json"]

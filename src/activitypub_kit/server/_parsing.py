"""Step 2 of the inbox pipeline: bytes to an activity document, or a precise 400.

Order, cheapest first: raw byte counts, UTF-8, JSON (no NaN/Infinity), a JSON object, then
one walk over the whole document that bounds its size (depth, values, ``@context``
occurrences) and refuses anything whose plain-JSON reading could differ from its JSON-LD
reading: an ``@context`` *anywhere* (top-level or embedded, at any depth) that redefines
ActivityStreams terms or aliases a JSON-LD keyword, and the identity keyword ``@id`` (or
the graph-shaping ``@graph``, ``@reverse``, ``@included``, ``@nest``) used as a property.
The context of a ``signature`` or ``proof`` block applies to that block alone: there only
a keyword alias is refused.  Then the shape every activity needs: a string ``id`` (an
http(s) URL), a ``type``, and exactly one ``actor`` given by id.

The inbox reads every activity as plain JSON, as Mastodon does; these refusals make that
reading the same as a JSON-LD processor's for everything the pipeline and the handlers act
on, so no JSON-LD work is ever done before authentication and the document that is checked
is the document that is handled.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

from pydantic_core import from_json

from activitypub_kit._limits import DEFAULT_LIMITS, MAX_DEPTH, DocumentLimits
from activitypub_kit._origin import origin_of
from activitypub_kit.errors import InvalidActivityError
from activitypub_kit.models._helpers import single_id
from activitypub_kit.models._jsonld import context_aliases_keyword, context_redefines_as

#: JSON-LD keywords refused as properties: they change an object's identity or the shape of
#: the graph, so a plain-JSON reader and a JSON-LD reader would see different objects.
STRUCTURAL_KEYWORDS: Final = frozenset({"@id", "@graph", "@reverse", "@included", "@nest"})


#: Properties whose value is a signature or proof block: its own ``@context`` applies to the
#: block only and nothing in it is read as ActivityStreams (Fedify sends
#: ``https://w3id.org/identity/v1`` there), so only a keyword alias is refused in it.
SEALED_BLOCKS: Final = frozenset({"signature", "proof"})


def _check_document(document: dict[str, Any], limits: DocumentLimits) -> None:
    """The one walk: size bounds, every ``@context``, keyword properties (see the module)."""
    # Containers only, as (value, depth, inside a signature/proof block); scalars are
    # counted by their container.  Objects were counted exactly by _precount (a structural
    # "{" cannot be escaped); a key spelled "\u0040context", or values without commas
    # between them ([[[1]]]), were not.
    stack: list[tuple[Any, int, bool]] = [(document, 1, False)]
    values = 1
    contexts = 0
    while stack:
        item, depth, sealed = stack.pop()
        if depth > limits.max_depth:
            raise InvalidActivityError(f"JSON nests deeper than {limits.max_depth} levels")
        values += len(item)
        if values > limits.max_values:
            raise InvalidActivityError(f"document holds over {limits.max_values} values")
        if type(item) is list:
            stack.extend((c, depth + 1, sealed) for c in item if type(c) is dict or type(c) is list)
            continue
        for key, child in item.items():
            if key[:1] == "@":
                if key == "@context":
                    contexts += 1
                    if contexts > limits.max_contexts:
                        raise InvalidActivityError(
                            f"document holds over {limits.max_contexts} @context entries"
                        )
                    judge = context_aliases_keyword if sealed else context_redefines_as
                    if judge(child):
                        raise InvalidActivityError(
                            f"{_path_to(document, item, key)} redefines ActivityStreams"
                            " terms or aliases a JSON-LD keyword"
                        )
                    continue
                if key in STRUCTURAL_KEYWORDS:
                    hint = " (write 'id')" if key == "@id" else ""
                    raise InvalidActivityError(
                        f"JSON-LD keyword {_path_to(document, item, key)} used as a property{hint}"
                    )
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1, sealed or key in SEALED_BLOCKS))


def _precount(body: bytes, limits: DocumentLimits) -> None:
    """Refuse bodies whose raw bytes already exceed the limits (no object is built)."""
    if body.count(b"{") > limits.max_objects:
        raise InvalidActivityError(f"document holds over {limits.max_objects} objects")
    if body.count(b",") >= limits.max_values:
        raise InvalidActivityError(f"document holds over {limits.max_values} values")
    if body.count(b'"@context"') > limits.max_contexts:
        raise InvalidActivityError(f"document holds over {limits.max_contexts} @context entries")


def _path_to(document: Any, target: dict[str, Any], key: str) -> str:
    """The dotted path of ``target[key]`` in ``document`` (for an error message only)."""
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        item, path = stack.pop()
        if item is target:
            return f"{path}.{key}" if path else key
        if isinstance(item, dict):
            stack.extend(
                (child, f"{path}.{name}" if path else name)
                for name, child in item.items()
                if name != "@context"
            )
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{index}]") for index, child in enumerate(item))
    return key  # pragma: no cover - target is always inside document


def is_http_url(value: Any) -> bool:
    """Whether ``value`` is an absolute http(s) URL with a host."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def decode_activity(body: bytes, *, limits: DocumentLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Decode and shape-check an inbox body (see the module docstring).

    :raises InvalidActivityError: naming the first rule the body breaks.
    """
    _precount(body, limits)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidActivityError(f"body is not valid UTF-8 (byte {exc.start})") from None
    try:
        document = from_json(text, allow_inf_nan=False)
    except ValueError as exc:
        reason = str(exc)
        if "recursion" in reason.lower():
            raise InvalidActivityError(
                f"JSON nests deeper than {limits.max_depth} levels"
            ) from None
        raise InvalidActivityError(f"body is not JSON: {reason}") from None
    if not isinstance(document, dict):
        kind = "an array" if isinstance(document, list) else "a scalar"
        raise InvalidActivityError(f"an activity must be a JSON object, not {kind}")
    _check_document(document, limits)
    if not is_http_url(document.get("id")):
        raise InvalidActivityError("activity id must be an absolute http(s) URL")
    kind_value = document.get("type")
    if not (isinstance(kind_value, str) and kind_value) and not (
        isinstance(kind_value, list) and kind_value and all(isinstance(t, str) for t in kind_value)
    ):
        raise InvalidActivityError("activity has no type")
    actor = single_id(document.get("actor"))
    if actor is None:
        raise InvalidActivityError("activity must name exactly one actor by id")
    if not is_http_url(actor):
        raise InvalidActivityError("activity actor must be an absolute http(s) URL")
    return document


__all__ = [
    "MAX_DEPTH",
    "STRUCTURAL_KEYWORDS",
    "SEALED_BLOCKS",
    "DocumentLimits",
    "DEFAULT_LIMITS",
    "decode_activity",
    "is_http_url",
    "origin_of",
]

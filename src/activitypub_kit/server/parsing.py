"""Step 2 of the inbox pipeline: bytes to an activity document, or a precise 400.

Order: UTF-8, JSON (no NaN/Infinity), nesting depth, a JSON object, an ``@context`` that
does not redefine ActivityStreams terms, then the shape every activity needs: a string
``id`` (an http(s) URL), a ``type``, and exactly one ``actor`` given by id.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic_core import from_json

from activitypub_kit.errors import InvalidActivityError
from activitypub_kit.models.jsonld import context_redefines_as

#: Deepest nesting of arrays and objects an inbox accepts.
MAX_DEPTH: Final = 48


def _too_deep(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def is_http_url(value: Any) -> bool:
    """Whether ``value`` is an absolute http(s) URL with a host."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def single_id(value: Any) -> str | None:
    """The id of a property holding exactly one reference (string or object with ``id``)."""
    if isinstance(value, list):
        if len(value) != 1:
            return None
        value = value[0]
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


def decode_activity(body: bytes, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Decode and shape-check an inbox body (see the module docstring).

    :raises InvalidActivityError: naming the first rule the body breaks.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidActivityError(f"body is not valid UTF-8 (byte {exc.start})") from None
    try:
        document = from_json(text, allow_inf_nan=False)
    except ValueError as exc:
        reason = str(exc)
        if "recursion" in reason.lower():
            raise InvalidActivityError(f"JSON nests deeper than {max_depth} levels") from None
        raise InvalidActivityError(f"body is not JSON: {reason}") from None
    if not isinstance(document, dict):
        kind = "an array" if isinstance(document, list) else "a scalar"
        raise InvalidActivityError(f"an activity must be a JSON object, not {kind}")
    if _too_deep(document, max_depth):
        raise InvalidActivityError(f"JSON nests deeper than {max_depth} levels")
    if "@context" in document and context_redefines_as(document["@context"]):
        raise InvalidActivityError("@context redefines ActivityStreams terms")
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


def origin_of(url: Any) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an http(s) URL, ``None`` for anything else."""
    if not isinstance(url, str):
        return None
    return _origin_of(url)


@lru_cache(maxsize=4096)
def _origin_of(url: str) -> tuple[str, str, int] | None:
    if not is_http_url(url):
        return None
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    assert parts.hostname is not None
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


__all__ = ["MAX_DEPTH", "decode_activity", "is_http_url", "origin_of", "single_id"]

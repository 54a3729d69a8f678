"""The value checks of the walk, its error signals, and the date-time helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from activitypub_kit.models._base import (
    BLOCK_CONTEXT,
    CONTEXT,
    INT,
    KEYWORD,
    LANGMAP,
    NUMBER,
    STRS,
    TYPE,
)
from activitypub_kit.models._jsonld import context_aliases_keyword, context_redefines_as

#: Date-times are checked by the parser ``published_at`` uses: what validates, parses.
parse_datetime = datetime.fromisoformat


class Invalid(Exception):  # noqa: N818 - internal signal, translated to ValidationError
    """A property failed its check; ``path`` is built innermost-first while unwinding."""

    def __init__(self, message: str, *path: str | int) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str | int] = list(path)

    def dotted(self) -> str:
        """The JSON path of the offending property, e.g. ``object.tag[2].href``."""
        out = ""
        for part in reversed(self.path):
            if isinstance(part, int):
                out += f"[{part}]"
            else:
                out += f".{part}" if out else part
        return out


class Redefined(Exception):  # noqa: N818 - internal signal
    """An ``@context`` redefines ActivityStreams terms: the document needs JSON-LD compaction."""


def json_kind(value: Any) -> str:
    """The JSON name of a Python value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def ref_message(value: Any) -> str:
    return (
        f"must be an IRI string, a Link or an Object, or a list of those (got {json_kind(value)})"
    )


def check_language_map(value: dict[Any, Any]) -> None:
    for tag, text in value.items():
        if type(text) is not str:
            raise Invalid(f"must be a string (got {json_kind(text)})", tag)


def datetime_value(value: Any) -> str:
    if isinstance(value, datetime):
        return format_datetime(value)
    raise Invalid(f"must be an ISO 8601 date-time string (got {json_kind(value)})")


def format_datetime(moment: datetime) -> str:
    """Format a datetime as ActivityPub servers do: UTC, second precision, ``Z``.

    A naive datetime is taken to be in UTC.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_other(code: int, value: Any) -> Any:
    """Check a value of one of the less frequent kinds; returns it unchanged."""
    kind = type(value)
    if code == LANGMAP:
        if kind is not dict:
            raise Invalid(f"must be a language map object (got {json_kind(value)})")
        check_language_map(value)
    elif code == TYPE:
        if kind is str:
            if not value:
                raise Invalid("must not be empty")
        elif kind is list:
            for index, item in enumerate(value):
                if type(item) is not str or not item:
                    raise Invalid(f"must be a non-empty string (got {json_kind(item)})", index)
        else:
            raise Invalid(f"must be a non-empty string or list of strings (got {json_kind(value)})")
    elif code == INT:
        if kind is not int:
            raise Invalid(f"must be an integer (got {json_kind(value)})")
    elif code == NUMBER:
        if kind is str:
            try:
                float(value)
            except ValueError:
                raise Invalid(f"must be a number (got {value[:40]!r})") from None
        elif kind is not int and kind is not float:
            raise Invalid(f"must be a number (got {json_kind(value)})")
    elif code == STRS:
        if kind is list:
            for index, item in enumerate(value):
                if type(item) is not str:
                    raise Invalid(f"must be a string (got {json_kind(item)})", index)
        elif kind is not str:
            raise Invalid(f"must be a string or a list of strings (got {json_kind(value)})")
    elif code == CONTEXT:
        check_context(value)
    elif code == BLOCK_CONTEXT:
        check_context(value, block=True)
    elif code == KEYWORD:
        raise Redefined
    return value


def check_context(value: Any, *, block: bool = False) -> None:
    """Check the shape of an ``@context``; raise :class:`Redefined` if it redefines AS terms.

    With ``block`` (the context of a signature or proof block), only a keyword alias is
    :class:`Redefined` (:func:`~activitypub_kit.models._jsonld.context_aliases_keyword`).
    """
    items = value if type(value) is list else (value,)
    for index, item in enumerate(items):
        if type(item) is not str and type(item) is not dict:
            where = (index,) if type(value) is list else ()
            raise Invalid(
                "must be a context URL, a context object or a list of those"
                f" (got {json_kind(item)})",
                *where,
            )
    if (context_aliases_keyword if block else context_redefines_as)(value):
        raise Redefined


__all__ = [
    "Invalid",
    "Redefined",
    "json_kind",
    "ref_message",
    "check_language_map",
    "datetime_value",
    "format_datetime",
    "check_other",
    "check_context",
    "parse_datetime",
]

"""The one validator: a walk over the properties a document *has*, building sparse models.

pydantic-core validation of a model costs time for every *declared* field; an ActivityStreams
object declares 40-70 of them and a Mastodon ``Create`` embeds a dozen objects, so a
pydantic-core pass costs 4-7 times ``json.loads``.  This walk costs time only for the
properties present, checks each with one dict lookup and a type test, and builds the model
instances directly (``__dict__`` holds only what was given, unknown properties go to the
extras), which keeps ``parse`` within about 2x ``json.loads``.  The constructor,
``model_validate`` and attribute assignment use the same walk, so there is one set of rules.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from activitypub_kit.models import _base
from activitypub_kit.models._base import (
    BOOL,
    CLASSES,
    CONTEXT,
    DATETIME,
    EMBED,
    INT,
    LANGMAP,
    NUMBER,
    REF,
    STR,
    STRS,
    TEXT,
    TYPE,
    TYPES,
    ASModel,
    Kind,
)

M = TypeVar("M", bound=ASModel)

#: xsd:dateTime as sent in the wild: optional seconds, any fraction, optional zone.
_DATETIME = re.compile(
    r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:[Zz]|[+-]\d\d(?::?\d\d)?)?\Z"
).match

_new = object.__new__
_set = object.__setattr__


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


# --- plans ------------------------------------------------------------------------------

Entry = tuple[str, int, type[ASModel] | None, bool, bool]
#: class -> {JSON name: (field name, kind code, target class, lenient, any string is valid)}
_PLANS: dict[type[ASModel], dict[str, Entry]] = {}
#: class -> {field name or JSON name: JSON name}
_ALIASES: dict[type[ASModel], dict[str, str]] = {}


#: Kinds for which every string value is valid as it is (an empty ``type`` string is
#: refused by :func:`class_for` when the object is dispatched).
_ANY_STRING = frozenset({_base.ANY, REF, EMBED, STR, TEXT, STRS, TYPE})


def plan_of(cls: type[ASModel]) -> dict[str, Entry]:
    """How to read each declared JSON property of ``cls`` (built once per class)."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = {}
        aliases: dict[str, str] = {}
        for name, info in cls.__pydantic_fields__.items():
            kind = next((m for m in info.metadata if isinstance(m, Kind)), Kind(_base.ANY))
            target = CLASSES[kind.target] if kind.target else None
            alias = info.alias or name
            plan[alias] = (name, kind.code, target, kind.lenient, kind.code in _ANY_STRING)
            aliases[name] = alias
            aliases[alias] = alias
        _PLANS[cls] = plan
        _ALIASES[cls] = aliases
    return plan


# --- dispatch ---------------------------------------------------------------------------


def class_for(data: dict[str, Any], default: type[ASModel] | None) -> type[ASModel]:
    """The class for an embedded or top-level dict: by ``type``, else ``default``, else shape.

    ``type`` may be a list: the first known name wins.  An unknown or missing type gives the
    nearest generic class (see :func:`generic_class`).
    """
    kind = data.get("type")
    if type(kind) is str:
        cls = TYPES.get(kind)
        if cls is not None:
            return cls
        if not kind:
            raise Invalid("must not be empty", "type")
    elif type(kind) is list:
        found = None
        for index, name in enumerate(kind):
            if type(name) is not str or not name:
                raise Invalid(f"must be a non-empty string (got {json_kind(name)})", index, "type")
            if found is None:
                found = TYPES.get(name)
        if found is not None:
            return found
    elif kind is not None:
        raise Invalid(f"must be a string or a list of strings (got {json_kind(kind)})", "type")
    return default if default is not None else generic_class(data)


def generic_class(data: dict[str, Any]) -> type[ASModel]:
    """The nearest generic class for a dict whose ``type`` is unknown or missing."""
    if "actor" in data:
        return CLASSES["Activity"]
    if "inbox" in data and "outbox" in data:
        return CLASSES["Actor"]
    if "orderedItems" in data:
        return CLASSES["OrderedCollection"]
    if "items" in data or "totalItems" in data:
        return CLASSES["Collection"]
    if "href" in data and "id" not in data:
        return CLASSES["Link"]
    if "publicKeyPem" in data:
        return CLASSES["Key"]
    return CLASSES["Object"]


# --- the walk ---------------------------------------------------------------------------

# Slot setters of pydantic's BaseModel: cheaper than object.__setattr__ by name.
_SET_DICT = BaseModel.__dict__["__dict__"].__set__
_SET_FIELDS_SET = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__
_CONSTRUCTED = {"_parsed": False}


def build(cls: type[M], data: dict[str, Any], parsed: bool = True) -> M:
    """Check every property of ``data`` against ``cls`` and return the sparse instance.

    A string value for a property that accepts any string costs one dict lookup; everything
    else goes through :func:`_check`.
    """
    plan = _PLANS.get(cls) or plan_of(cls)
    get = plan.get
    fields: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for key, value in data.items():
        entry = get(key)
        if entry is None:
            extras[key] = value
            continue
        if value is not None and (type(value) is not str or not entry[4]):
            try:
                value = _check(entry, value, parsed)
            except Invalid as error:
                if entry[3]:
                    extras[key] = value
                    continue
                error.path.append(key)
                raise
        fields[entry[0]] = value
    obj = _new(cls)
    _SET_DICT(obj, fields)
    _SET_FIELDS_SET(obj, set(fields))
    _SET_EXTRA(obj, extras)
    _SET_PRIVATE(obj, None if parsed else dict(_CONSTRUCTED))
    return obj


def _check(entry: Entry, value: Any, parsed: bool) -> Any:
    """Check (and for references, build) one non-trivial property value."""
    code = entry[1]
    kind = type(value)
    if code in (REF, EMBED):
        if kind is dict:
            if code == EMBED:
                cls = entry[2]
            else:
                name = value.get("type")
                cls = TYPES.get(name) if type(name) is str else None
                if cls is None:
                    cls = class_for(value, entry[2])
            return build(cls, value, parsed)  # type: ignore[arg-type]
        if kind is list:
            return _build_list(value, code, entry[2], parsed)
        if kind is str or isinstance(value, ASModel):
            return value
        raise Invalid(_ref_message(value))
    if code == DATETIME:
        if kind is not str:
            return _datetime_value(value)
        if _DATETIME(value) is None:
            raise Invalid(f"must be an ISO 8601 date-time (got {value[:40]!r})")
        return value
    if code == TEXT:
        if kind is dict:
            _check_language_map(value)
            return value
        raise Invalid(f"must be a string or a language map (got {json_kind(value)})")
    if code == STR:
        raise Invalid(f"must be a string (got {json_kind(value)})")
    if code == BOOL:
        if kind is not bool:
            raise Invalid(f"must be true or false (got {json_kind(value)})")
        return value
    return check_other(code, value)


def _build_list(
    values: list[Any], code: int, target: type[ASModel] | None, parsed: bool
) -> list[Any]:
    for item in values:
        if type(item) is not str:
            break
    else:
        return list(values)  # the usual list of IRIs
    out: list[Any] = []
    for index, item in enumerate(values):
        kind = type(item)
        if kind is str:
            out.append(item)
        elif kind is dict:
            try:
                if code == EMBED:
                    cls = target
                else:
                    name = item.get("type")
                    cls = TYPES.get(name) if type(name) is str else None
                    if cls is None:
                        cls = class_for(item, target)
                out.append(build(cls, item, parsed))  # type: ignore[arg-type]
            except Invalid as error:
                error.path.append(index)
                raise
        elif isinstance(item, ASModel):
            out.append(item)
        else:
            raise Invalid(_ref_message(item), index)
    return out


def _ref_message(value: Any) -> str:
    return (
        f"must be an IRI string, a Link or an Object, or a list of those (got {json_kind(value)})"
    )


def _check_language_map(value: dict[Any, Any]) -> None:
    for tag, text in value.items():
        if type(text) is not str:
            raise Invalid(f"must be a string (got {json_kind(text)})", tag)


def _datetime_value(value: Any) -> str:
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
        _check_language_map(value)
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
    return value


def check_context(value: Any) -> None:
    """Check the shape of an ``@context``; raise :class:`Redefined` if it redefines AS terms."""
    from activitypub_kit.models.jsonld import context_redefines_as

    items = value if type(value) is list else (value,)
    for index, item in enumerate(items):
        if type(item) is not str and type(item) is not dict:
            where = (index,) if type(value) is list else ()
            raise Invalid(
                "must be a context URL, a context object or a list of those"
                f" (got {json_kind(item)})",
                *where,
            )
    if context_redefines_as(value):
        raise Redefined


# --- entry points used by ASModel ----------------------------------------------------------


def validate_as(cls: type[M], data: Any) -> M:
    """``cls.model_validate``: dispatch on ``type`` within ``cls``'s subclasses, then build."""
    from activitypub_kit.errors import ValidationError

    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ValidationError(f"expected a JSON object for {cls.__name__}, got {json_kind(data)}")
    try:
        chosen = class_for(data, cls)
        if not issubclass(chosen, cls):
            chosen = cls
        return build(chosen, data)
    except Invalid as error:
        raise ValidationError(error.message, path=error.dotted()) from None
    except Redefined:
        raise ValidationError(
            "redefines ActivityStreams terms; read the document with parse() to normalise it",
            path="@context",
        ) from None


def construct(obj: ASModel, data: dict[str, Any]) -> None:
    """``ASModel.__init__``: keyword arguments (field or JSON names) through the walk."""
    from activitypub_kit.errors import ValidationError

    cls = type(obj)
    if "type" not in data and cls.type_names:
        data = {"type": cls.type_names[0], **data}
    plan_of(cls)
    aliases = _ALIASES[cls]
    renamed = {aliases.get(key, key): value for key, value in data.items()}
    try:
        built = build(cls, renamed, parsed=False)
    except Invalid as error:
        raise ValidationError(error.message, path=error.dotted()) from None
    except Redefined:
        raise ValidationError(
            "redefines ActivityStreams terms; read the document with parse() to normalise it",
            path="@context",
        ) from None
    _set(obj, "__dict__", built.__dict__)
    _set(obj, "__pydantic_fields_set__", built.__pydantic_fields_set__)
    _set(obj, "__pydantic_extra__", built.__pydantic_extra__)
    _set(obj, "__pydantic_private__", {"_parsed": False})


def assign(obj: ASModel, name: str, value: Any) -> None:
    """Attribute assignment to a declared property: check it like the walk does."""
    from activitypub_kit.errors import ValidationError

    cls = type(obj)
    plan_of(cls)
    alias = _ALIASES[cls][name]
    try:
        built = build(cls, {alias: value}, parsed=False)
    except Invalid as error:
        raise ValidationError(error.message, path=error.dotted()) from None
    except Redefined:
        raise ValidationError("redefines ActivityStreams terms", path="@context") from None
    obj.__dict__[name] = built.__dict__[name]
    obj.__pydantic_fields_set__.add(name)


__all__ = [
    "Invalid",
    "Redefined",
    "build",
    "class_for",
    "generic_class",
    "plan_of",
    "validate_as",
    "construct",
    "assign",
    "format_datetime",
    "json_kind",
]

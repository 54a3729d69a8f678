"""The one validator: a walk over the properties a document *has*, building sparse models.

pydantic-core validation of a model costs time for every *declared* field; an ActivityStreams
object declares 40-70 of them and a Mastodon ``Create`` embeds a dozen objects, so a
pydantic-core pass measured 0.13-0.22x the speed of ``json.loads``.  This walk costs time
only for the properties present, checks each with one dict lookup and a type test, and makes
the model instances directly (``__dict__`` holds only what was given, unknown properties go to
the extras).  :func:`build` with ``lazy=True`` (what ``parse`` uses) validates embedded
objects all the way down but leaves them as dicts until a property is read
(:class:`LazyRef`), which keeps ``parse`` at about 0.6x ``json.loads``.  The constructor,
``model_validate`` and attribute assignment use the same checks, so there is one set of rules.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from activitypub_kit.models import _base
from activitypub_kit.models._base import (
    BOOL,
    CLASSES,
    DATETIME,
    EMBED,
    KEYWORD,
    REF,
    STR,
    STRS,
    TEXT,
    TYPE,
    TYPES,
    ASModel,
    Kind,
)
from activitypub_kit.models._checks import (
    Invalid,
    check_language_map,
    check_other,
    datetime_value,
    json_kind,
    parse_datetime,
    ref_message,
)

M = TypeVar("M", bound=ASModel)


_new = object.__new__


# --- plans ------------------------------------------------------------------------------

Entry = tuple[str, int, type[ASModel] | None, bool, bool]
#: class -> {JSON name: (field name, kind code, target class, lenient, any string is valid)}
_PLANS: dict[type[ASModel], dict[str, Entry]] = {}
#: class -> {field name or JSON name: JSON name}
_ALIASES: dict[type[ASModel], dict[str, str]] = {}


#: JSON-LD keywords that, used as a property of an object, make its JSON and JSON-LD readings
#: differ (``@type`` next to ``type``, ``@graph`` wrappers...): such documents are compacted.
JSONLD_KEYWORDS = (
    "@id",
    "@type",
    "@graph",
    "@reverse",
    "@included",
    "@value",
    "@list",
    "@set",
    "@index",
    "@nest",
    "@language",
    "@direction",
    "@json",
)

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
            if kind.code in (REF, EMBED) and not isinstance(cls.__dict__.get(name), LazyRef):
                type.__setattr__(cls, name, LazyRef(name, kind.code, target))
        for keyword in JSONLD_KEYWORDS:
            plan[keyword] = (keyword, KEYWORD, None, False, False)
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


def _make(cls: type[M], fields: dict[str, Any], extras: dict[str, Any], parsed: bool) -> M:
    obj = _new(cls)
    _SET_DICT(obj, fields)
    _SET_FIELDS_SET(obj, set(fields))
    _SET_EXTRA(obj, extras)
    _SET_PRIVATE(obj, None if parsed else dict(_CONSTRUCTED))
    return obj


def build(cls: type[M], data: dict[str, Any], parsed: bool = True, lazy: bool = False) -> M:
    """Check every property of ``data`` against ``cls`` and return the sparse instance.

    A string value for a property that accepts any string costs one dict lookup; everything
    else goes through :func:`_check`.  With ``lazy``, embedded objects are validated (all the
    way down) but kept as the dicts they were: the descriptor :class:`LazyRef` turns them into
    models on first access.
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
                value = _check(entry, value, parsed, lazy)
            except Invalid as error:
                if entry[3]:
                    extras[key] = value
                    continue
                error.path.append(key)
                raise
        fields[entry[0]] = value
    return _make(cls, fields, extras, parsed)


def validate(cls: type[ASModel], data: dict[str, Any]) -> None:
    """Check every property of ``data`` against ``cls``, all the way down; build nothing.

    A lenient property of the wrong shape is not an error here (:func:`materialise` moves it
    to the extras).
    """
    get = (_PLANS.get(cls) or plan_of(cls)).get
    for key, value in data.items():
        entry = get(key)
        if entry is None or value is None:
            continue
        kind = type(value)
        if kind is str and entry[4]:
            continue
        try:
            if kind is dict and entry[1] == REF:  # the common embedded object, inlined
                name = value.get("type")
                sub = TYPES.get(name) if type(name) is str else None
                validate(sub or class_for(value, entry[2]), value)
            elif kind is list and entry[1] == REF:  # the common list of references, inlined
                for index, item in enumerate(value):
                    if type(item) is str:
                        continue
                    if type(item) is not dict:
                        if isinstance(item, ASModel):
                            continue
                        raise Invalid(ref_message(item), index)
                    try:
                        name = item.get("type")
                        sub = TYPES.get(name) if type(name) is str else None
                        validate(sub or class_for(item, entry[2]), item)
                    except Invalid as error:
                        error.path.append(index)
                        raise
            else:
                _check(entry, value, True, True)
        except Invalid as error:
            if entry[3]:
                continue
            error.path.append(key)
            raise


def materialise(cls: type[M], data: dict[str, Any]) -> M:
    """Build the model for a dict that :func:`validate` accepted (embedded objects stay lazy)."""
    plan = _PLANS.get(cls) or plan_of(cls)
    get = plan.get
    fields: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for key, value in data.items():
        entry = get(key)
        if entry is None:
            extras[key] = value
            continue
        if entry[3] and value is not None and not (entry[4] and type(value) is str):
            try:
                _check(entry, value, True, True)
            except Invalid:
                extras[key] = value
                continue
        fields[entry[0]] = value
    return _make(cls, fields, extras, True)


def _dispatch(value: dict[str, Any], code: int, target: type[ASModel] | None) -> type[ASModel]:
    if code == EMBED:
        return target  # type: ignore[return-value]
    name = value.get("type")
    cls = TYPES.get(name) if type(name) is str else None
    return cls if cls is not None else class_for(value, target)


def _check(entry: Entry, value: Any, parsed: bool, lazy: bool) -> Any:
    """Check (and for references, build unless ``lazy``) one non-trivial property value."""
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
            if lazy:
                validate(cls, value)  # type: ignore[arg-type]
                return value
            return build(cls, value, parsed)  # type: ignore[arg-type]
        if kind is list:
            return _check_list(value, code, entry[2], parsed, lazy)
        if kind is str or isinstance(value, ASModel):
            return value
        raise Invalid(ref_message(value))
    if code == DATETIME:
        if kind is not str:
            if lazy:
                raise Invalid(f"must be an ISO 8601 date-time string (got {json_kind(value)})")
            return datetime_value(value)
        try:
            parse_datetime(value)
        except ValueError:
            raise Invalid(f"must be an ISO 8601 date-time (got {value[:40]!r})") from None
        return value
    if code == TEXT:
        if kind is dict:
            check_language_map(value)
            return value
        raise Invalid(f"must be a string or a language map (got {json_kind(value)})")
    if code == STR:
        raise Invalid(f"must be a string (got {json_kind(value)})")
    if code == BOOL:
        if kind is not bool:
            raise Invalid(f"must be true or false (got {json_kind(value)})")
        return value
    return check_other(code, value)


def _check_list(
    values: list[Any], code: int, target: type[ASModel] | None, parsed: bool, lazy: bool
) -> list[Any]:
    for item in values:
        if type(item) is not str:
            break
    else:
        return values if lazy else list(values)  # the usual list of IRIs
    out: list[Any] = []
    for index, item in enumerate(values):
        kind = type(item)
        if kind is dict:
            try:
                cls = _dispatch(item, code, target)
                if lazy:
                    validate(cls, item)
                else:
                    item = build(cls, item, parsed)
            except Invalid as error:
                error.path.append(index)
                raise
        elif kind is not str and not isinstance(item, ASModel):
            raise Invalid(ref_message(item), index)
        out.append(item)
    return values if lazy else out


def check_value(entry: Entry, value: Any) -> Any:
    """Check one value for the property ``entry`` describes, building embedded objects."""
    if type(value) is str and entry[4]:
        return value
    return _check(entry, value, False, False)


class LazyRef:
    """Class-level descriptor of a reference property: builds embedded models on access.

    :func:`build` with ``lazy=True`` leaves validated embedded objects as dicts; the first
    read of the property turns them (or the dicts in its list) into models and stores those.
    """

    __slots__ = ("code", "name", "target")

    def __init__(self, name: str, code: int, target: type[ASModel] | None) -> None:
        self.name = name
        self.code = code
        self.target = target

    def __get__(self, obj: ASModel | None, owner: type | None = None) -> Any:
        if obj is None:
            raise AttributeError(self.name)
        fields = obj.__dict__
        value: Any = fields.get(self.name)
        kind = type(value)
        if kind is dict:
            value = fields[self.name] = materialise(_dispatch(value, self.code, self.target), value)
        elif kind is list:
            for item in value:
                if type(item) is dict:
                    break
            else:
                return value
            value = fields[self.name] = [
                materialise(_dispatch(item, self.code, self.target), item)
                if type(item) is dict
                else item
                for item in value
            ]
        return value

    def __set__(self, obj: ASModel, value: Any) -> None:
        obj.__setattr__(self.name, value)

    def __delete__(self, obj: ASModel) -> None:
        obj.__delattr__(self.name)


__all__ = [
    "build",
    "class_for",
    "generic_class",
    "plan_of",
    "validate",
    "materialise",
    "check_value",
    "LazyRef",
]

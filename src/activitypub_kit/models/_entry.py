"""The entry points ``ASModel`` delegates to: construction, ``model_validate``, assignment."""

from __future__ import annotations

from typing import Any, TypeVar

from activitypub_kit.errors import ValidationError
from activitypub_kit.models._base import ASModel
from activitypub_kit.models._checks import Invalid, Redefined, json_kind
from activitypub_kit.models._walk import (
    _ALIASES,
    _SET_DICT,
    _SET_EXTRA,
    _SET_FIELDS_SET,
    _SET_PRIVATE,
    build,
    check_value,
    class_for,
    plan_of,
)

M = TypeVar("M", bound=ASModel)

_REDEFINED = (
    "redefines ActivityStreams terms or uses JSON-LD keywords as properties;"
    " read the document with parse() to normalise it"
)


def validate_as(cls: type[M], data: Any) -> M:
    """``cls.model_validate``: dispatch on ``type`` within ``cls``'s subclasses, then build."""
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
        raise ValidationError(_REDEFINED) from None


def construct(obj: ASModel, data: dict[str, Any]) -> None:
    """``ASModel.__init__``: keyword arguments (field or JSON names) through the walk."""
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
        raise ValidationError(_REDEFINED) from None
    _SET_DICT(obj, built.__dict__)
    _SET_FIELDS_SET(obj, built.__pydantic_fields_set__)
    _SET_EXTRA(obj, built.__pydantic_extra__)
    _SET_PRIVATE(obj, {"_parsed": False})


def assign(obj: ASModel, name: str, value: Any) -> None:
    """Attribute assignment to a declared property: check it like the walk does."""
    cls = type(obj)
    plan = plan_of(cls)
    alias = _ALIASES[cls][name]
    if value is not None:
        try:
            value = check_value(plan[alias], value)
        except Invalid as error:
            error.path.append(alias)
            raise ValidationError(error.message, path=error.dotted()) from None
        except Redefined:
            raise ValidationError(_REDEFINED) from None
    obj.__dict__[name] = value
    obj.__pydantic_fields_set__.add(name)


__all__ = ["validate_as", "construct", "assign"]

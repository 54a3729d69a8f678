"""The common base of every model: a pydantic model holding exactly the properties it was given.

Instances are *sparse*: ``__dict__`` holds only the properties that were present in the
document (or passed to the constructor), every unknown property lives in ``__pydantic_extra__``,
and an absent property reads as ``None``.  Validation and construction are done by one fast walk
(:mod:`activitypub_kit.models._walk`) shared by :func:`~activitypub_kit.models._parse`, the
constructor and ``model_validate``; pydantic provides the declarations, the aliases, ``repr``,
copying and the (Rust) serialiser behind :meth:`ASModel.to_json`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr

if TYPE_CHECKING:
    from pydantic.config import ExtraValues

# Kind codes: how the walk checks (and converts) the value of a property.
ANY = 0  # anything JSON
REF = 1  # IRI string | Link | Object | list of those; dicts dispatched by ``type``
EMBED = 2  # like REF but a dict is always the field's own class (publicKey, endpoints...)
STR = 3  # string
TEXT = 4  # string or language map (name/content/summary)
LANGMAP = 5  # {language tag: string}
DATETIME = 6  # xsd:dateTime string, kept verbatim
BOOL = 7  # boolean
INT = 8  # integer
NUMBER = 9  # integer or float
TYPE = 10  # non-empty string or list of non-empty strings
CONTEXT = 11  # JSON-LD @context
STRS = 12  # string or list of strings
KEYWORD = 13  # a JSON-LD keyword used as a property (@id, @type, @graph...): needs compaction
BLOCK_CONTEXT = 14  # the @context of a signature/proof block: only keyword aliases need it


class Kind:
    """Marker placed in a field's ``Annotated`` metadata: how the walk checks its value.

    ``target`` names the class an embedded dict becomes when its ``type`` does not decide
    (REF) or always (EMBED).  A ``lenient`` property (the extensions: ``sensitive``,
    ``discoverable``, ``publicKey``...) whose value has the wrong shape is not an error: the
    value is kept verbatim among the extra properties and the typed attribute reads ``None``.
    """

    __slots__ = ("code", "lenient", "target")

    def __init__(self, code: int, target: str | None = None, *, lenient: bool = False) -> None:
        self.code = code
        self.target = target
        self.lenient = lenient

    def __repr__(self) -> str:
        return f"Kind({self.code}, {self.target!r}, lenient={self.lenient})"


#: type name (``Note``, ``as:Note``, full IRI) -> model class
TYPES: dict[str, type[ASModel]] = {}
#: class name -> class, for ``Kind.target`` lookups
CLASSES: dict[str, type[ASModel]] = {}

AS_NS = "https://www.w3.org/ns/activitystreams#"


class ASModel(BaseModel):
    """Base of every ActivityStreams / ActivityPub model.

    Build one from Python with keyword arguments named in snake_case or by their JSON names
    (``Note(attributed_to=...)`` or ``Note(attributedTo=...)``); unknown keywords are kept as
    extra properties.  Read one from the wire with :func:`~activitypub_kit.models._parse`.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        arbitrary_types_allowed=True,
        defer_build=True,
        revalidate_instances="never",
    )

    #: The ``type`` names this class stands for; the first is set on objects built in Python.
    type_names: ClassVar[tuple[str, ...]] = ()
    #: Register ``as:Name`` and the full ActivityStreams IRI too.
    as_vocabulary: ClassVar[bool] = False

    _parsed: bool = PrivateAttr(default=False)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Register the class under its ``type`` names."""
        super().__pydantic_init_subclass__(**kwargs)
        CLASSES[cls.__name__] = cls
        for name in cls.__dict__.get("type_names", ()):
            TYPES[name] = cls
            if cls.as_vocabulary:
                TYPES[f"as:{name}"] = cls
                TYPES[AS_NS + name] = cls

    def __init__(self, /, **data: Any) -> None:
        from activitypub_kit.models._entry import construct

        construct(self, data)

    @classmethod
    def model_validate(
        cls,
        obj: Any,
        *,
        strict: bool | None = None,
        extra: ExtraValues | None = None,
        from_attributes: bool | None = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        """Validate a JSON-shaped dict (JSON property names) into this class or a subclass.

        The subclass is chosen by ``type`` when it names a subclass of ``cls``.  Validation
        is this package's own (no pydantic validators run, extras are kept, values are not
        coerced, extension properties are lenient), so pydantic's options are accepted only
        at the values that describe it (``by_alias=True``, ``extra="allow"``,
        ``from_attributes=False``...); any other value raises :class:`TypeError` naming it.
        """
        from activitypub_kit.models._entry import validate_as

        _refuse_options(
            cls,
            "model_validate",
            strict=strict,
            extra=extra,
            from_attributes=from_attributes,
            context=context,
            by_alias=by_alias,
            by_name=by_name,
        )
        return validate_as(cls, obj)

    @classmethod
    def model_validate_json(
        cls,
        json_data: str | bytes | bytearray,
        *,
        strict: bool | None = None,
        extra: ExtraValues | None = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        """Parse JSON text and validate it as :meth:`model_validate` does (same options)."""
        from activitypub_kit.models._entry import validate_as
        from activitypub_kit.models._parse import load_json

        _refuse_options(
            cls,
            "model_validate_json",
            strict=strict,
            extra=extra,
            context=context,
            by_alias=by_alias,
            by_name=by_name,
        )
        return validate_as(cls, load_json(json_data))

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            # A declared property that was not given reads as None (instances are sparse).
            if name in type(self).__pydantic_fields__:
                return None
            return super().__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        """Assigning a declared property validates it the way parsing would."""
        if name in type(self).__pydantic_fields__:
            from activitypub_kit.models._entry import assign

            assign(self, name, value)
        else:
            super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        """Deleting a declared property unsets it (it disappears from :meth:`to_json`)."""
        if name in type(self).__pydantic_fields__:
            self.__dict__.pop(name, None)
            self.__pydantic_fields_set__.discard(name)
        else:
            super().__delattr__(name)

    def __eq__(self, other: object) -> bool:
        """Two models are equal when they are of the same class and serialise identically."""
        if not isinstance(other, ASModel) or type(other) is not type(self):
            return NotImplemented
        return self._dump() == other._dump()

    __hash__ = None  # type: ignore[assignment]

    def _is_parsed(self) -> bool:
        private = self.__pydantic_private__
        return private is None or bool(private.get("_parsed", True))

    def _dump(self) -> dict[str, Any]:
        # Instances are sparse (``__dict__`` holds exactly the properties set), so no
        # exclude_unset is needed.  Parsed documents hold JSON values only: "python" mode
        # is the same output, faster; built ones may hold anything in their extras.
        data: dict[str, Any] = self.model_dump(
            mode="python" if self._is_parsed() else "json", by_alias=True, warnings=False
        )
        return data

    def to_json(self, *, context: bool | None = None) -> dict[str, Any]:
        """The compact JSON document (a ``dict``) for this object.

        Properties are emitted under their JSON names, exactly as given: a parsed document
        comes back equal to its input (up to key order).  ``@context`` is added when the
        object has none and either ``context=True``, or ``context`` is ``None`` and the object
        was built in Python rather than parsed (see
        :func:`~activitypub_kit.models._jsonld.default_context`).
        """
        data = self._dump()
        if "@context" not in data and (context or (context is None and not self._is_parsed())):
            from activitypub_kit.models._jsonld import default_context

            data = {"@context": default_context(data), **data}
        return data

    @property
    def extra(self) -> dict[str, Any]:
        """The properties this model does not declare, under their JSON names (kept verbatim)."""
        return self.__pydantic_extra__ if self.__pydantic_extra__ is not None else {}


#: pydantic validation options -> (the values that describe what the walk does, why others
#: cannot be honoured).
_OPTIONS: dict[str, tuple[tuple[Any, ...], str]] = {
    "strict": (
        (None,),
        "values are checked without coercion, but lenient extension properties keep a"
        " wrong-shaped value as an extra instead of failing",
    ),
    "extra": ((None, "allow"), "unknown properties are always kept (model.extra)"),
    "from_attributes": ((None, False), "pass a dict of JSON properties"),
    "context": ((None,), "no pydantic validators run, so nothing would read it"),
    "by_alias": ((None, True), "properties are read by their JSON names only"),
    "by_name": (
        (None, False),
        "properties are read by their JSON names only; the constructor accepts field names",
    ),
}


def _refuse_options(cls: type[ASModel], method: str, **given: Any) -> None:
    """Raise :class:`TypeError` for a pydantic option whose value would be ignored."""
    for name, value in given.items():
        accepted, reason = _OPTIONS[name]
        if value not in accepted:
            raise TypeError(
                f"{cls.__name__}.{method}() does not support {name}={value!r}: {reason}"
            )


__all__ = ["ASModel", "Kind", "TYPES", "CLASSES"]

"""Field types of the models: a precise static type for mypy, a :class:`Kind` at run time.

``Ext*`` types are for extension properties: lenient (a value of the wrong shape is kept as
an extra property instead of being an error).

At run time every field is ``Annotated[Any, Kind(...)]``: pydantic neither validates nor
coerces it (the walk in :mod:`._walk` does, reading the :class:`Kind`), and serialises the value
by its run-time type, so a ``Note`` held in an ``object`` field is written out as a ``Note``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from activitypub_kit.models._base import (
    ANY,
    BLOCK_CONTEXT,
    BOOL,
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
    Kind,
)

if TYPE_CHECKING:
    from activitypub_kit.models._core import Collection, Link, Object
    from activitypub_kit.models._extensions import (
        DataIntegrityProof,
        Endpoints,
        Key,
        Multikey,
        Signature,
        Source,
    )

    #: A reference: an IRI, a Link or an embedded Object.
    Reference: TypeAlias = "str | Link | Object"
    Refs: TypeAlias = "str | Link | Object | list[str | Link | Object] | None"
    ImageRefs: TypeAlias = Refs
    CollectionRefs: TypeAlias = (
        "str | Link | Object | Collection | list[str | Link | Object] | None"
    )
    Text: TypeAlias = "str | dict[str, str] | None"
    LangMap: TypeAlias = "dict[str, str] | None"
    Str: TypeAlias = "str | None"
    Strs: TypeAlias = "str | list[str] | None"
    DateTime: TypeAlias = "str | None"
    Bool: TypeAlias = "bool | None"
    Int: TypeAlias = "int | None"
    Number: TypeAlias = "int | float | str | None"
    TypeValue: TypeAlias = "str | list[str] | None"
    Context: TypeAlias = "str | dict[str, Any] | list[str | dict[str, Any]] | None"
    BlockContext: TypeAlias = Context
    AnyValue: TypeAlias = Any
    KeyRefs: TypeAlias = "Key | str | list[Key | str] | None"
    MultikeyRefs: TypeAlias = "Multikey | str | list[Multikey | str] | None"
    ProofRefs: TypeAlias = "DataIntegrityProof | list[DataIntegrityProof] | None"
    SignatureValue: TypeAlias = "Signature | None"
    EndpointsValue: TypeAlias = "Endpoints | str | None"
    SourceValue: TypeAlias = "Source | None"
    ExtRefs: TypeAlias = Refs
    ExtCollectionRefs: TypeAlias = CollectionRefs
    ExtStr: TypeAlias = Str
    ExtStrs: TypeAlias = Strs
    ExtBool: TypeAlias = Bool
    ExtInt: TypeAlias = Int
    ExtNumber: TypeAlias = Number
    ExtDateTime: TypeAlias = DateTime
else:
    Refs = Annotated[Any, Kind(REF)]
    ImageRefs = Annotated[Any, Kind(REF, "Image")]
    CollectionRefs = Annotated[Any, Kind(REF, "Collection")]
    Text = Annotated[Any, Kind(TEXT)]
    LangMap = Annotated[Any, Kind(LANGMAP)]
    Str = Annotated[Any, Kind(STR)]
    Strs = Annotated[Any, Kind(STRS)]
    DateTime = Annotated[Any, Kind(DATETIME)]
    Bool = Annotated[Any, Kind(BOOL)]
    Int = Annotated[Any, Kind(INT)]
    Number = Annotated[Any, Kind(NUMBER)]
    TypeValue = Annotated[Any, Kind(TYPE)]
    Context = Annotated[Any, Kind(CONTEXT)]
    #: The ``@context`` of a signature or proof block: shape-checked, not judged.
    BlockContext = Annotated[Any, Kind(BLOCK_CONTEXT)]
    AnyValue = Annotated[Any, Kind(ANY)]
    KeyRefs = Annotated[Any, Kind(EMBED, "Key", lenient=True)]
    MultikeyRefs = Annotated[Any, Kind(EMBED, "Multikey", lenient=True)]
    ProofRefs = Annotated[Any, Kind(EMBED, "DataIntegrityProof", lenient=True)]
    SignatureValue = Annotated[Any, Kind(EMBED, "Signature", lenient=True)]
    EndpointsValue = Annotated[Any, Kind(EMBED, "Endpoints", lenient=True)]
    SourceValue = Annotated[Any, Kind(EMBED, "Source", lenient=True)]
    ExtRefs = Annotated[Any, Kind(REF, lenient=True)]
    ExtCollectionRefs = Annotated[Any, Kind(REF, "Collection", lenient=True)]
    ExtStr = Annotated[Any, Kind(STR, lenient=True)]
    ExtStrs = Annotated[Any, Kind(STRS, lenient=True)]
    ExtBool = Annotated[Any, Kind(BOOL, lenient=True)]
    ExtInt = Annotated[Any, Kind(INT, lenient=True)]
    ExtNumber = Annotated[Any, Kind(NUMBER, lenient=True)]
    ExtDateTime = Annotated[Any, Kind(DATETIME, lenient=True)]

__all__ = [
    "Refs",
    "ImageRefs",
    "CollectionRefs",
    "Text",
    "LangMap",
    "Str",
    "Strs",
    "DateTime",
    "Bool",
    "Int",
    "Number",
    "TypeValue",
    "Context",
    "BlockContext",
    "AnyValue",
    "KeyRefs",
    "MultikeyRefs",
    "ProofRefs",
    "SignatureValue",
    "EndpointsValue",
    "SourceValue",
    "ExtRefs",
    "ExtCollectionRefs",
    "ExtStr",
    "ExtStrs",
    "ExtBool",
    "ExtInt",
    "ExtNumber",
    "ExtDateTime",
]

"""HTTP Structured Field Values (RFC 8941 / RFC 9651): the subset signatures need.

Lists, dictionaries, inner lists, parameters, and the bare items integer, decimal, string,
token, byte sequence, boolean and date.  Parsing is strict (a malformed field raises
:class:`~activitypub_kit.errors.MalformedSignatureError` naming the field) and uses compiled
regular expressions rather than a per-character loop, because ``Signature-Input`` is parsed
on every verified request.

Kept instead of the ``http-sfv`` package, which is slower on that path, accepts inputs the
structured-field test suite requires to fail, and lets a repeated key win silently: the
figures and how to reproduce them (``benchmarks/libraries.py``) are in docs/signatures.md.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import TypeAlias

from activitypub_kit.errors import MalformedSignatureError


class Token(str):
    """A structured-field token (serialised without quotes)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Date:
    """A structured-field date (RFC 9651), seconds since the epoch."""

    seconds: int


BareItem: TypeAlias = int | float | str | Token | bytes | bool | Date
Params: TypeAlias = dict[str, BareItem]


class Item:
    """A bare item with its parameters."""

    __slots__ = ("params", "value")

    def __init__(self, value: BareItem, params: Params | None = None) -> None:
        self.value = value
        self.params: Params = {} if params is None else params

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Item) and (self.value, self.params) == (other.value, other.params)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Item({self.value!r}, {self.params!r})"


@dataclass(slots=True)
class InnerList:
    """A parenthesised list of items, with its own parameters."""

    items: list[Item]
    params: Params = field(default_factory=dict)


Member: TypeAlias = Item | InnerList

_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_STRING = re.compile(r'"((?:[ !#-\[\]-~]|\\["\\])*)"')
_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")
_OWS = re.compile(r"[ \t]*")
_SP = re.compile(r" *")
_ESCAPE = re.compile(r"\\([\"\\])")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")


class _Parser:
    __slots__ = ("pos", "text", "unique", "what")

    def __init__(self, text: str, what: str, unique: bool = False) -> None:
        self.text = text
        self.pos = 0
        self.what = what
        self.unique = unique

    def fail(self, reason: str) -> MalformedSignatureError:
        return MalformedSignatureError(f"{self.what} is not a valid structured field: {reason}")

    def key(self) -> str:
        match = _KEY.match(self.text, self.pos)
        if not match:
            raise self.fail(f"expected a key at offset {self.pos}")
        self.pos = match.end()
        return match.group()

    def bare(self) -> BareItem:
        text, pos = self.text, self.pos
        if pos >= len(text):
            raise self.fail("unexpected end of input")
        char = text[pos]
        if char == '"':
            match = _STRING.match(text, pos)
            if not match:
                raise self.fail(f"bad string at offset {pos}")
            self.pos = match.end()
            value = match.group(1)
            return _ESCAPE.sub(r"\1", value) if "\\" in value else value
        if char == "-" or char.isdigit():
            match = _NUMBER.match(text, pos)
            if not match:
                raise self.fail(f"bad number at offset {pos}")
            number = match.group()
            self.pos = match.end()
            if "." in number:
                whole, frac = number.lstrip("-").split(".")
                if len(whole) > 12 or len(frac) > 3:
                    raise self.fail(f"decimal {number} is out of range")
                return float(number)
            if len(number.lstrip("-")) > 15:
                raise self.fail(f"integer {number} is out of range")
            return int(number)
        if char == ":":
            match = _BYTES.match(text, pos)
            if not match:
                raise self.fail(f"bad byte sequence at offset {pos}")
            self.pos = match.end()
            try:
                return base64.b64decode(match.group(1), validate=True)
            except (binascii.Error, ValueError):
                raise self.fail(f"byte sequence at offset {pos} is not base64") from None
        if char == "?":
            flag = text[pos + 1 : pos + 2]
            if flag not in ("0", "1"):
                raise self.fail(f"bad boolean at offset {pos}")
            self.pos = pos + 2
            return flag == "1"
        if char == "@":
            self.pos = pos + 1
            seconds = self.bare()
            if type(seconds) is not int:
                raise self.fail(f"bad date at offset {pos}")
            return Date(seconds)
        match = _TOKEN.match(text, pos)
        if not match:
            raise self.fail(f"unexpected character {char!r} at offset {pos}")
        self.pos = match.end()
        return Token(match.group())

    def params(self) -> Params:
        params: Params = {}
        text = self.text
        while self.pos < len(text) and text[self.pos] == ";":
            self.pos = _SP.match(text, self.pos + 1).end()  # type: ignore[union-attr]
            name = self.key()
            value: BareItem = True
            if self.pos < len(text) and text[self.pos] == "=":
                self.pos += 1
                value = self.bare()
            if self.unique and name in params:
                raise MalformedSignatureError(f"{self.what} repeats the parameter {name!r}")
            params[name] = value
        return params

    def member(self) -> Member:
        if self.pos < len(self.text) and self.text[self.pos] == "(":
            return self.inner_list()
        value = self.bare()
        return Item(value, self.params())

    def inner_list(self) -> InnerList:
        self.pos += 1
        items: list[Item] = []
        text = self.text
        while True:
            self.pos = _SP.match(text, self.pos).end()  # type: ignore[union-attr]
            if self.pos >= len(text):
                raise self.fail("inner list is not closed")
            if text[self.pos] == ")":
                self.pos += 1
                return InnerList(items, self.params())
            value = self.bare()
            items.append(Item(value, self.params()))
            if self.pos < len(text) and text[self.pos] not in " )":
                raise self.fail(f"expected space or ')' at offset {self.pos}")

    def separator(self) -> bool:
        """Skip ``OWS , OWS``; return False at the end of input."""
        text = self.text
        self.pos = _OWS.match(text, self.pos).end()  # type: ignore[union-attr]
        if self.pos >= len(text):
            return False
        if text[self.pos] != ",":
            raise self.fail(f"expected ',' at offset {self.pos}")
        self.pos = _OWS.match(text, self.pos + 1).end()  # type: ignore[union-attr]
        if self.pos >= len(text):
            raise self.fail("trailing comma")
        return True

    def start(self) -> bool:
        self.pos = _SP.match(self.text).end()  # type: ignore[union-attr]
        return self.pos < len(self.text)


def parse_dictionary(text: str, what: str = "field", *, unique: bool = False) -> dict[str, Member]:
    """Parse a structured-field dictionary.

    RFC 8941 lets a repeated key or parameter keep the last value; with ``unique=True`` a
    repeat raises instead.  Signature fields use that: letting the last duplicate win is a
    parser-differential risk (a proxy or logger may read the first).
    """
    parser = _Parser(text.rstrip(" "), what, unique)
    result: dict[str, Member] = {}
    if not parser.start():
        return result
    while True:
        name = parser.key()
        if unique and name in result:
            raise MalformedSignatureError(f"{what} repeats the label {name!r}")
        if parser.pos < len(parser.text) and parser.text[parser.pos] == "=":
            parser.pos += 1
            result[name] = parser.member()
        else:
            result[name] = Item(True, parser.params())
        if not parser.separator():
            return result


def parse_list(text: str, what: str = "field") -> list[Member]:
    """Parse a structured-field list."""
    parser = _Parser(text.rstrip(" "), what)
    result: list[Member] = []
    if not parser.start():
        return result
    while True:
        result.append(parser.member())
        if not parser.separator():
            return result


def parse_item(text: str, what: str = "field") -> Item:
    """Parse a structured-field item."""
    parser = _Parser(text.strip(" "), what)
    parser.start()
    value = parser.bare()
    item = Item(value, parser.params())
    if parser.pos != len(parser.text):
        raise parser.fail(f"unexpected text at offset {parser.pos}")
    return item


def parse_component_id(text: str, what: str = "component identifier") -> Item:
    """Parse one serialised component identifier such as ``"@query-param";name="a"``."""
    item = parse_item(text, what)
    if not isinstance(item.value, str) or isinstance(item.value, Token):
        raise MalformedSignatureError(f"{what} {text!r} is not a quoted string")
    return item


# --- serialisation ---------------------------------------------------------------------


def serialize_bare(value: BareItem) -> str:
    """Serialise a bare item."""
    if value is True:
        return "?1"
    if value is False:
        return "?0"
    if isinstance(value, Token):
        return str(value)
    if isinstance(value, str):
        if not _PRINTABLE.fullmatch(value):
            raise ValueError(f"string {value!r} has characters a structured field cannot hold")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = f"{round(value, 3):.3f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if isinstance(value, Date):
        return f"@{value.seconds}"
    raise TypeError(f"cannot serialise {type(value).__name__} as a structured field")


def serialize_params(params: Params) -> str:
    """Serialise parameters (``;a=1;b``)."""
    return "".join(
        f";{name}" if value is True else f";{name}={serialize_bare(value)}"
        for name, value in params.items()
    )


def serialize_member(member: Member) -> str:
    """Serialise an item or inner list with its parameters."""
    if isinstance(member, InnerList):
        inner = " ".join(serialize_bare(i.value) + serialize_params(i.params) for i in member.items)
        return f"({inner}){serialize_params(member.params)}"
    return serialize_bare(member.value) + serialize_params(member.params)


def serialize_dictionary(members: dict[str, Member]) -> str:
    """Serialise a dictionary."""
    parts = []
    for name, member in members.items():
        if isinstance(member, Item) and member.value is True:
            parts.append(name + serialize_params(member.params))
        else:
            parts.append(f"{name}={serialize_member(member)}")
    return ", ".join(parts)


def serialize_list(members: list[Member]) -> str:
    """Serialise a list."""
    return ", ".join(serialize_member(m) for m in members)


__all__ = [
    "Token",
    "Date",
    "BareItem",
    "Params",
    "Item",
    "InnerList",
    "Member",
    "parse_dictionary",
    "parse_list",
    "parse_item",
    "parse_component_id",
    "serialize_bare",
    "serialize_params",
    "serialize_member",
    "serialize_dictionary",
    "serialize_list",
]

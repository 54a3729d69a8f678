"""RFC 9421 component values and the signature base.

A component identifier is a structured-field string with parameters: a field name
(``"content-digest"``) or a derived component (``"@method"``), optionally with ``sf``,
``key``, ``bs``, ``req``, ``tr`` or ``name`` parameters.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from operator import attrgetter
from urllib.parse import quote, unquote_plus

from activitypub_kit.errors import MalformedSignatureError, MissingComponentError
from activitypub_kit.signatures._message import Headers, HttpMessage, HttpRequest, HttpResponse
from activitypub_kit.signatures._sfv import (
    InnerList,
    Item,
    Member,
    Params,
    parse_dictionary,
    parse_item,
    parse_list,
    serialize_bare,
    serialize_dictionary,
    serialize_list,
    serialize_member,
    serialize_params,
)

DERIVED_COMPONENTS = frozenset(
    {"@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query",
     "@query-param", "@status"}
)  # fmt: skip
_ALLOWED_PARAMS = frozenset({"sf", "key", "bs", "req", "tr", "name"})

#: Structured types of well-known fields (for ``;sf`` and ``;key``).
FIELD_TYPES: dict[str, str] = {
    "signature": "dictionary",
    "signature-input": "dictionary",
    "accept-signature": "dictionary",
    "content-digest": "dictionary",
    "repr-digest": "dictionary",
    "want-content-digest": "dictionary",
    "want-repr-digest": "dictionary",
    "cache-status": "list",
    "priority": "dictionary",
    "proxy-status": "list",
    "client-cert": "item",
    "client-cert-chain": "list",
    "cdn-cache-control": "dictionary",
}


def component_id(name: str, **params: str | bool) -> Item:
    """Build a component identifier, e.g. ``component_id("@query-param", name="a")``."""
    return Item(name, dict(params))


def serialize_component_id(item: Item) -> str:
    """The identifier as it appears in the signature base and ``Signature-Input``."""
    return serialize_bare(item.value) + serialize_params(item.params)


def _canonical_lines(values: list[str]) -> list[str]:
    out = []
    for value in values:
        stripped = value.strip(" \t")
        if "\n" in stripped or "\r" in stripped:
            # obs-fold: a line break followed by whitespace becomes one space
            stripped = " ".join(part.strip(" \t") for part in stripped.splitlines())
        out.append(stripped)
    return out


def _field_lines(message: HttpMessage, name: str, trailer: bool, ident: str) -> list[str]:
    source: Headers | None = message.trailers if trailer else message.headers
    values = source.get_all(name) if source is not None else []
    if not values:
        where = "trailer" if trailer else "header"
        raise MissingComponentError(f"covered component {ident} has no {where} in the message")
    return _canonical_lines(values)


def _parse_structured(
    name: str, text: str, ident: str
) -> Member | dict[str, Member] | list[Member]:
    kind = FIELD_TYPES.get(name)
    what = f"field {name!r}"
    if kind == "dictionary":
        return parse_dictionary(text, what)
    if kind == "list":
        return parse_list(text, what)
    if kind == "item":
        return parse_item(text, what)
    for parser in (parse_dictionary, parse_list, parse_item):
        try:
            return parser(text, what)
        except MalformedSignatureError:
            continue
    raise MalformedSignatureError(f"covered component {ident} is not a structured field")


def _field_value(message: HttpMessage, item: Item, ident: str) -> str:
    name = str(item.value)
    params = item.params
    lines = _field_lines(message, name, bool(params.get("tr")), ident)
    if params.get("bs"):
        if "sf" in params or "key" in params:
            raise MalformedSignatureError(f"component {ident} combines bs with sf or key")
        return ", ".join(":" + base64.b64encode(v.encode()).decode() + ":" for v in lines)
    text = ", ".join(lines)
    if "key" in params:
        members = parse_dictionary(text, f"field {name!r}")
        member = members.get(str(params["key"]))
        if member is None:
            raise MissingComponentError(f"covered component {ident} names an absent member")
        return serialize_member(member)
    if params.get("sf"):
        parsed = _parse_structured(name, text, ident)
        if isinstance(parsed, dict):
            return serialize_dictionary(parsed)
        if isinstance(parsed, list):
            return serialize_list(parsed)
        return serialize_member(parsed)
    return text


def _form_encode(text: str) -> str:
    # application/x-www-form-urlencoded percent-encode set, but spaces as %20.
    return quote(text, safe="*").replace("~", "%7E")


def _query_param(request: HttpRequest, item: Item, ident: str) -> str:
    wanted = item.params.get("name")
    if not isinstance(wanted, str):
        raise MalformedSignatureError(f"component {ident} needs a string name parameter")
    found: list[str] = []
    for pair in request.query.split("&") if request.query else []:
        raw_name, _, raw_value = pair.partition("=")
        if _form_encode(unquote_plus(raw_name)) == wanted:
            found.append(_form_encode(unquote_plus(raw_value)))
    if not found:
        raise MissingComponentError(f"covered component {ident} is not in the query")
    if len(found) > 1:
        raise MalformedSignatureError(f"query parameter {wanted!r} occurs {len(found)} times")
    return found[0]


def _derived_value(message: HttpMessage, item: Item, ident: str) -> str:
    name = str(item.value)
    if name == "@status":
        if not isinstance(message, HttpResponse):
            raise MalformedSignatureError("component @status is only valid on a response")
        return f"{message.status:03d}"
    if not isinstance(message, HttpRequest):
        raise MalformedSignatureError(f"component {ident} is only valid on a request")
    if name == "@method":
        return message.method
    if name == "@target-uri":
        return message.url
    if name == "@authority":
        return message.authority
    if name == "@scheme":
        return message.scheme
    if name == "@request-target":
        return message.target
    if name == "@path":
        return message.path
    if name == "@query":
        return "?" + message.query
    return _query_param(message, item, ident)


_SIMPLE_DERIVED: dict[str, Callable[[HttpRequest], str]] = {
    "@method": attrgetter("method"),
    "@target-uri": attrgetter("url"),
    "@authority": attrgetter("authority"),
    "@scheme": attrgetter("scheme"),
    "@request-target": attrgetter("target"),
    "@path": attrgetter("path"),
    "@query": lambda m: "?" + m.query,
}


def component_value(message: HttpMessage, item: Item, ident: str | None = None) -> str:
    """The value of one covered component of ``message``.

    ``ident`` is the serialised identifier when the caller already has it.

    :raises MissingComponentError: when the message lacks it.
    :raises MalformedSignatureError: for an unknown or misused identifier.
    """
    name = item.value
    if not item.params and type(name) is str:
        # Fast path: a plain derived component of a request, or a plain header field.
        if isinstance(message, HttpRequest):
            getter = _SIMPLE_DERIVED.get(name)
            if getter is not None:
                derived = getter(message)
                if "\n" not in derived and "\r" not in derived:
                    return derived
        values = message.headers.index.get(name) if name[:1] != "@" else None
        if values is not None:  # the index is lower-case, so name is too
            value = (
                values[0].strip(" \t") if len(values) == 1 else ", ".join(_canonical_lines(values))
            )
            if "\n" not in value and "\r" not in value:
                return value
    if ident is None:
        ident = serialize_component_id(item)
    if not isinstance(name, str) or not name or name != name.lower():
        raise MalformedSignatureError(f"component identifier {ident} must be a lower-case string")
    unknown = set(item.params) - _ALLOWED_PARAMS
    if unknown:
        raise MalformedSignatureError(
            f"component {ident} has unknown parameter {sorted(unknown)[0]}"
        )
    if item.params.get("req"):
        if not isinstance(message, HttpResponse) or message.request is None:
            raise MissingComponentError(f"component {ident} needs the related request")
        message = message.request
    if name.startswith("@"):
        if name not in DERIVED_COMPONENTS:
            raise MalformedSignatureError(f"unknown derived component {name}")
        if name != "@query-param" and set(item.params) - {"req"}:
            raise MalformedSignatureError(f"derived component {ident} takes no such parameter")
        value = _derived_value(message, item, ident)
    else:
        value = _field_value(message, item, ident)
    if "\n" in value or "\r" in value:
        raise MalformedSignatureError(f"component {ident} value contains a line break")
    return value


def signature_params_value(components: Sequence[Item], params: Params) -> str:
    """The ``@signature-params`` value: the inner list of components with its parameters."""
    return serialize_member(InnerList(list(components), params))


def signature_base(
    message: HttpMessage,
    components: Sequence[Item],
    params_value: str,
    idents: Sequence[str] | None = None,
) -> str:
    """The RFC 9421 signature base for ``components``, ending with ``@signature-params``.

    ``idents`` are the serialised identifiers of ``components`` when already known.

    :raises MalformedSignatureError: when a component is repeated or ``@signature-params``.
    """
    if idents is None:
        idents = [serialize_component_id(item) for item in components]
    lines = []
    seen = set()
    for item, ident in zip(components, idents, strict=True):
        if ident in seen:
            raise MalformedSignatureError(f"component {ident} is covered twice")
        if item.value == "@signature-params":
            raise MalformedSignatureError("@signature-params cannot be a covered component")
        seen.add(ident)
        lines.append(f"{ident}: {component_value(message, item, ident)}")
    lines.append(f'"@signature-params": {params_value}')
    return "\n".join(lines)


class PlainComponents(tuple[Item, ...]):
    """Covered components that are all plain names (``"@method" "content-digest"``).

    The same list arrives on every request from one implementation, so it is parsed once
    (:func:`plain_components`) and what verification needs is worked out then: the names
    the signature covers and, for the signature base, a line prefix and a value getter per
    component.  Instances are shared between parsed signatures: treat them as read-only.
    """

    idents: tuple[str, ...]
    names: frozenset[str]
    #: (line prefix, field name, derived getter or None) per component; None when the
    #: signature base needs the general code (a repeat, @status, @query-param, ...).
    plan: tuple[tuple[str, str, Callable[[HttpRequest], str] | None], ...] | None

    def __new__(cls, idents: tuple[str, ...]) -> PlainComponents:
        self = super().__new__(cls, [Item(ident[1:-1]) for ident in idents])
        self.idents = idents
        self.names = frozenset(str(item.value) for item in self)
        plan = []
        for ident, item in zip(idents, self, strict=True):
            name = str(item.value)
            getter = _SIMPLE_DERIVED.get(name)
            if getter is None and name[:1] == "@":
                self.plan = None
                return self
            plan.append((f"{ident}: ", name, getter))
        self.plan = tuple(plan) if len(self.names) == len(idents) else None
        return self


_PLAIN_LIST = re.compile(r'(?:"[a-z0-9@_\-.]+"(?: "[a-z0-9@_\-.]+")*)?')


@lru_cache(maxsize=256)
def plain_components(idents: str) -> PlainComponents | None:
    """The :class:`PlainComponents` for quoted plain names joined by single spaces.

    ``'"@method" "content-digest"'``; None when ``idents`` is anything else (names with
    parameters, upper case, other spacing: the structured-field parser's business).
    """
    if _PLAIN_LIST.fullmatch(idents) is None:
        return None
    return PlainComponents(tuple(idents.split(" ")) if idents else ())


def plain_signature_base(
    message: HttpMessage, components: PlainComponents, params_value: str
) -> str | None:
    """:func:`signature_base` for plain components of a request, by their precomputed plan.

    Returns None whenever the general code must decide (a response, a missing or repeated
    header line, a line break in a value), so it gives the same answer or none.
    """
    plan = components.plan
    if plan is None or type(message) is not HttpRequest:
        return None
    index = message.headers.index
    lines = []
    for prefix, name, derived in plan:
        if derived is not None:
            lines.append(prefix + derived(message))
            continue
        values = index.get(name)
        if values is None or len(values) != 1:
            return None
        lines.append(prefix + values[0].strip(" \t"))
    lines.append('"@signature-params": ' + params_value)
    base = "\n".join(lines)
    # One scan instead of one per value: a line break inside any value adds a line.
    if base.count("\n") != len(plan) or "\r" in base:
        return None
    return base


__all__ = [
    "PlainComponents",
    "plain_components",
    "plain_signature_base",
    "DERIVED_COMPONENTS",
    "FIELD_TYPES",
    "component_id",
    "serialize_component_id",
    "component_value",
    "signature_params_value",
    "signature_base",
]

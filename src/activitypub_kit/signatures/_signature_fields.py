"""Parsing the RFC 9421 fields: ``Signature-Input``, ``Signature``, ``Accept-Signature``.

Labels and parameters must be unique (a repeat is a parser-differential risk and is
refused).  The common shape - one label, plain component names, canonical parameters - is
read with str operations and small regular expressions (the label and component list once
per distinct list); everything else by the general structured-field parser, and property
tests pin the two to the same result.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from activitypub_kit.errors import MalformedSignatureError, MissingSignatureError
from activitypub_kit.signatures._components import (
    PlainComponents,
    plain_components,
    serialize_component_id,
)
from activitypub_kit.signatures._message import HttpMessage
from activitypub_kit.signatures._sfv import (
    BareItem,
    InnerList,
    Item,
    Token,
    parse_dictionary,
    parse_item,
    serialize_member,
)

# Fast path for the overwhelmingly common shape: one label, plain component names without
# parameters, and the known parameters as non-negative integers or escape-free strings in
# canonical form (so the text as sent *is* its re-serialisation).  It is read with
# str.partition/split; anything else goes through the full parser.
_new = tuple.__new__
_FAST_STRING = r'"([\x20\x21\x23-\x5b\x5d-\x7e]*)"'
_FAST_INT = r"(0|[1-9][0-9]{0,14})"
_USUAL_PARAMS = re.compile(rf";created={_FAST_INT};keyid={_FAST_STRING};alg={_FAST_STRING}")
_FAST_LABEL = re.compile(r"[a-z*][a-z0-9_\-.*]*")


class MessageSignature(NamedTuple):
    """One parsed RFC 9421 signature (a label of ``Signature-Input`` + ``Signature``)."""

    label: str
    #: Covered component identifiers, in order (read-only: a list of plain names is a
    #: :class:`~activitypub_kit.signatures._components.PlainComponents` shared between parses).
    components: tuple[Item, ...]
    #: The signature parameters, in order (``created``, ``keyid``, ``alg``, ...).
    params: dict[str, BareItem]
    signature: bytes
    #: The serialised ``@signature-params`` value.
    params_value: str
    #: The covered component identifiers, serialised (``"@method"``, ...).
    covered: tuple[str, ...]

    @property
    def key_id(self) -> str | None:
        """The ``keyid`` parameter."""
        value = self.params.get("keyid")
        return value if isinstance(value, str) else None

    @property
    def algorithm(self) -> str | None:
        """The ``alg`` parameter, if sent."""
        value = self.params.get("alg")
        return value if isinstance(value, str) else None

    @property
    def created(self) -> int | None:
        """The ``created`` parameter."""
        value = self.params.get("created")
        return value if type(value) is int else None

    @property
    def expires(self) -> int | None:
        """The ``expires`` parameter."""
        value = self.params.get("expires")
        return value if type(value) is int else None

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter."""
        value = self.params.get("tag")
        return value if isinstance(value, str) else None


_PARAM_TYPES: dict[str, type] = {
    "created": int, "expires": int, "nonce": str, "alg": str, "keyid": str, "tag": str
}  # fmt: skip


def _inner_list(member: object, label: str, field_name: str) -> InnerList:
    if not isinstance(member, InnerList):
        raise MalformedSignatureError(f"{field_name} {label!r} is not an inner list")
    for item in member.items:
        if not isinstance(item.value, str) or isinstance(item.value, Token):
            raise MalformedSignatureError(f"{field_name} {label!r} has a non-string component")
    for name, value in member.params.items():
        wanted = _PARAM_TYPES.get(name)
        if wanted is not None and (
            type(value) is not wanted if wanted is int else not isinstance(value, str)
        ):
            raise MalformedSignatureError(f"{field_name} {label!r} parameter {name} has a bad type")
    return member


def _fast_params(text: str) -> dict[str, BareItem] | None:
    # ";created=1;keyid=\"k\"" -> {"created": 1, "keyid": "k"}, or None to use the parser.
    params: dict[str, BareItem] = {}
    if not text:
        return params
    usual = _USUAL_PARAMS.fullmatch(text)
    if usual is not None:  # what sign_rfc9421 writes by default: one match
        created, keyid, alg = usual.groups()
        return {"created": int(created), "keyid": keyid, "alg": alg}
    pieces = text.split(";")
    if pieces[0]:
        return None
    del pieces[0]
    for piece in pieces:
        name, sep, value = piece.partition("=")
        kind = _PARAM_TYPES.get(name)
        if kind is None or not sep or name in params:
            return None  # other names, repeats, and type errors: the parser decides
        if kind is int:
            if not (value.isdigit() and value.isascii() and len(value) <= 15) or (
                value[0] == "0" and len(value) > 1
            ):
                return None
            params[name] = int(value)
        else:
            inner = value[1:-1]
            if (
                len(value) < 2
                or value[0] != '"'
                or value[-1] != '"'
                or '"' in inner
                or "\\" in inner
                or not (inner.isascii() and inner.isprintable())
            ):
                return None  # (a ";" inside a string also lands here)
            params[name] = inner
    return params


@lru_cache(maxsize=256)
def _fast_head(head: str) -> tuple[str, PlainComponents, str] | None:
    # 'sig1=("@method" "content-digest")' repeats on every request from one implementation.
    label, sep, names = head.partition("=(")
    if not sep or _FAST_LABEL.fullmatch(label) is None or names[-1:] != ")":
        return None
    components = plain_components(names[:-1])
    return None if components is None else (label, components, f"{label}=:")


def _parse_fast(raw_input: str, raw_sig: str) -> MessageSignature | None:
    end = raw_input.find(")") + 1  # plain names hold no ")"
    head = _fast_head(raw_input[:end]) if end else None
    if head is None:
        return None
    label, components, sig_start = head
    tail = raw_input[end:]
    raw_sig = raw_sig.strip(" ")
    prefix = len(sig_start)
    if not raw_sig.startswith(sig_start) or raw_sig[-1:] != ":" or len(raw_sig) <= prefix:
        return None
    params = _fast_params(tail)
    if params is None:
        return None
    try:
        signature = binascii.a2b_base64(raw_sig[prefix:-1], strict_mode=True)
    except binascii.Error:
        return None
    # tuple.__new__ skips the NamedTuple's Python-level __new__ (this runs per request).
    return _new(
        MessageSignature,
        (label, components, params, signature, raw_input[len(label) + 1 :], components.idents),
    )


def parse_rfc9421(message: HttpMessage) -> list[MessageSignature]:
    """Parse every signature of ``message`` (pure; no key needed).

    :raises MissingSignatureError: when there is no ``Signature-Input``.
    :raises MalformedSignatureError: on malformed fields, duplicate labels or parameters,
        or a label present in one field but not the other.
    """
    headers = message.headers
    raw_input = headers.get("signature-input")
    if raw_input is None:
        raise MissingSignatureError("message has no Signature-Input header")
    raw_sig = headers.get("signature")
    if raw_sig is None:
        raise MissingSignatureError("message has Signature-Input but no Signature header")
    fast = _parse_fast(raw_input, raw_sig)
    if fast is not None:
        return [fast]
    return _parse_full(raw_input, raw_sig)


def _parse_full(raw_input: str, raw_sig: str) -> list[MessageSignature]:
    inputs = parse_dictionary(raw_input, "Signature-Input", unique=True)
    values = parse_dictionary(raw_sig, "Signature", unique=True)
    result = []
    for label, member in inputs.items():
        inner = _inner_list(member, label, "Signature-Input")
        sig = values.get(label)
        if sig is None:
            raise MalformedSignatureError(f"Signature has no value for label {label!r}")
        if not isinstance(sig, Item) or not isinstance(sig.value, bytes):
            raise MalformedSignatureError(f"Signature {label!r} is not a byte sequence")
        items = tuple(inner.items)
        result.append(
            MessageSignature(
                label,
                items,
                dict(inner.params),
                sig.value,
                serialize_member(inner),
                tuple(serialize_component_id(c) for c in items),
            )
        )
    for label in values:
        if label not in inputs:
            raise MalformedSignatureError(f"Signature label {label!r} has no Signature-Input")
    return result


@lru_cache(maxsize=512)
def parsed_component(text: str) -> tuple[str, tuple[tuple[str, BareItem], ...], str]:
    """Parse a component identifier once: (name, parameters, canonical serialisation).

    A bare name without parameters (``@method``, ``content-digest``) is accepted too.
    """
    if '"' not in text and ";" not in text:
        text = f'"{text.strip()}"'
    item = parse_item(text, "component identifier")
    if not isinstance(item.value, str) or isinstance(item.value, Token):
        raise MalformedSignatureError(f"component identifier {text!r} is not a quoted string")
    return item.value, tuple(item.params.items()), serialize_component_id(item)


# --- Accept-Signature ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignatureRequest:
    """One member of ``Accept-Signature``: what the peer asks us to sign."""

    label: str
    components: tuple[str, ...]
    params: dict[str, BareItem]

    @property
    def key_id(self) -> str | None:
        """The requested ``keyid``, if any."""
        value = self.params.get("keyid")
        return value if isinstance(value, str) else None

    @property
    def algorithm(self) -> str | None:
        """The requested ``alg``, if any."""
        value = self.params.get("alg")
        return value if isinstance(value, str) else None


def parse_accept_signature(value: str) -> list[SignatureRequest]:
    """Parse an ``Accept-Signature`` field.

    :raises MalformedSignatureError: when it is not a dictionary of inner lists.
    """
    requests = []
    for label, member in parse_dictionary(value, "Accept-Signature", unique=True).items():
        inner = _inner_list(member, label, "Accept-Signature")
        comps = tuple(serialize_component_id(i) for i in inner.items)
        requests.append(SignatureRequest(label, comps, dict(inner.params)))
    return requests


def accept_signature(components: Sequence[str], *, label: str = "sig1", **params: BareItem) -> str:
    """Build an ``Accept-Signature`` value asking for ``components`` (and parameters)."""
    items = [parse_item(c, "component identifier") for c in components]
    return f"{label}={serialize_member(InnerList(items, dict(params)))}"


__all__ = [
    "MessageSignature",
    "parse_rfc9421",
    "parsed_component",
    "SignatureRequest",
    "parse_accept_signature",
    "accept_signature",
]

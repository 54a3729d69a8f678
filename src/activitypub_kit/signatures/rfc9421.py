"""RFC 9421 HTTP Message Signatures: parse, verify, sign; ``Accept-Signature``.

As with draft-cavage, verification is split so the key lookup happens outside::

    signatures = parse_rfc9421(request)        # every labelled signature, pure
    sig = signatures[0]                          # or pick by label / tag
    key = await my_key_lookup(sig.key_id)
    verify_rfc9421(request, sig, key)
"""

from __future__ import annotations

import binascii
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from activitypub_kit.errors import (
    AlgorithmMismatchError,
    InvalidSignatureError,
    MalformedSignatureError,
    MissingComponentError,
    MissingSignatureError,
    UncoveredComponentError,
    UnsupportedAlgorithmError,
)
from activitypub_kit.signatures import algorithms
from activitypub_kit.signatures.algorithms import (
    RFC9421_ALGORITHMS,
    SigningKey,
    VerifyingKey,
    algorithm_for_key,
    key_kind,
)
from activitypub_kit.signatures.clock import DEFAULT_WINDOW, TimeWindow
from activitypub_kit.signatures.components import (
    serialize_component_id,
    signature_base,
)
from activitypub_kit.signatures.digest import content_digest, verify_content_digest
from activitypub_kit.signatures.message import HttpMessage, HttpRequest
from activitypub_kit.signatures.sfv import (
    BareItem,
    InnerList,
    Item,
    Token,
    parse_dictionary,
    parse_item,
    serialize_member,
    serialize_params,
)

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# Fast path for the overwhelmingly common shape: one label, plain component names without
# parameters, and integer or escape-free string parameters in canonical form (so the text
# as sent *is* its re-serialisation).  Anything else goes through the full parser.
_FAST_KEY = r"[a-z*][a-z0-9_\-.*]*"
_FAST_INPUT = re.compile(
    rf'({_FAST_KEY})=\(((?:"[a-z0-9@_\-.]+"(?: "[a-z0-9@_\-.]+")*)?)\)'
    rf'((?:;{_FAST_KEY}=(?:-?(?:0|[1-9][0-9]{{0,14}})|"[\x20\x21\x23-\x5b\x5d-\x7e]*"))*)'
)
_FAST_PARAM = re.compile(rf';({_FAST_KEY})=(?:(-?[0-9]+)|"([^"]*)")')


class MessageSignature(NamedTuple):
    """One parsed RFC 9421 signature (a label of ``Signature-Input`` + ``Signature``)."""

    label: str
    #: Covered component identifiers, in order.
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


def _parse_fast(raw_input: str, raw_sig: str) -> MessageSignature | None:
    match = _FAST_INPUT.fullmatch(raw_input)
    if match is None:
        return None
    label = match.group(1)
    raw_sig = raw_sig.strip(" ")
    prefix = len(label) + 2
    if raw_sig[:prefix] != label + "=:" or raw_sig[-1:] != ":" or len(raw_sig) < prefix + 1:
        return None
    names = match.group(2)
    idents = tuple(names.split(" ")) if names else ()
    params: dict[str, BareItem] = {}
    found = _FAST_PARAM.findall(match.group(3))
    for name, number, text in found:
        params[name] = int(number) if number else text
    if len(params) != len(found):
        return None  # a repeated parameter: let the full parser report it
    for name, value in params.items():
        wanted = _PARAM_TYPES.get(name)
        if wanted is not None and type(value) is not wanted:
            return None
    try:
        signature = binascii.a2b_base64(raw_sig[prefix:-1], strict_mode=True)
    except binascii.Error:
        return None
    items = tuple([Item(ident[1:-1]) for ident in idents])
    return MessageSignature(label, items, params, signature, raw_input[len(label) + 1 :], idents)


def parse_rfc9421(message: HttpMessage) -> list[MessageSignature]:
    """Parse every signature of ``message`` (pure; no key needed).

    :raises MissingSignatureError: when there is no ``Signature-Input``.
    :raises MalformedSignatureError: on malformed fields, duplicate labels or parameters,
        or a label present in one field but not the other.
    """
    raw_input = message.headers.get("signature-input")
    if raw_input is None:
        raise MissingSignatureError("message has no Signature-Input header")
    raw_sig = message.headers.get("signature")
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


@dataclass(frozen=True, slots=True)
class Rfc9421Policy:
    """What :func:`verify_rfc9421` demands beyond a valid signature.

    The defaults follow Mastodon's profile: ``created`` required, ``@method`` and
    ``@target-uri`` covered, and a covered, matching ``content-digest`` on requests
    with a body.
    """

    window: TimeWindow = DEFAULT_WINDOW
    #: Components that must be covered (serialised identifiers without quotes).
    required_components: tuple[str, ...] = ("@method", "@target-uri")
    require_created: bool = True
    #: Demand a covered ``content-digest`` on requests with a body and POST/PUT/PATCH.
    require_digest: bool = True
    #: Check ``created``/``expires`` against the window.
    check_time: bool = True
    #: Accepted algorithms (``alg`` or key-derived).
    algorithms: tuple[str, ...] = RFC9421_ALGORITHMS


DEFAULT_POLICY = Rfc9421Policy()
#: Checks only the signature itself and any covered digest (for test vectors, tooling).
LENIENT_POLICY = Rfc9421Policy(
    required_components=(), require_created=False, require_digest=False, check_time=False
)


class VerifiedMessageSignature(NamedTuple):
    """The result of a successful :func:`verify_rfc9421`."""

    label: str
    key_id: str | None
    algorithm: str
    covered: tuple[str, ...]


def _check_policy(message: HttpMessage, sig: MessageSignature, policy: Rfc9421Policy) -> None:
    names = {str(c.value) for c in sig.components if not c.params}
    for required in policy.required_components:
        if required not in names:
            raise UncoveredComponentError(f"signature {sig.label!r} does not cover {required}")
    if (
        policy.require_digest
        and isinstance(message, HttpRequest)
        and (message.body or message.method.upper() in _BODY_METHODS)
        and "content-digest" not in names
    ):
        raise UncoveredComponentError(
            f"signature {sig.label!r} of a {message.method.upper()} does not cover content-digest"
        )
    if policy.require_created and sig.created is None:
        raise MissingComponentError(f"signature {sig.label!r} has no created parameter")


def verify_rfc9421(
    message: HttpMessage,
    signature: MessageSignature,
    key: VerifyingKey,
    *,
    algorithm: str | None = None,
    now: float | None = None,
    policy: Rfc9421Policy = DEFAULT_POLICY,
) -> VerifiedMessageSignature:
    """Verify one parsed signature with the signer's key (pure).

    The algorithm is the ``alg`` parameter, else ``algorithm``, else the key's default
    (an RSA key without either tries rsa-v1_5-sha256 then rsa-pss-sha512).

    :raises SignatureError: (a subclass) saying exactly which rule failed.
    """
    declared = signature.algorithm
    if declared is not None and algorithm is not None and declared != algorithm:
        raise AlgorithmMismatchError(
            f"signature {signature.label!r} declares alg {declared!r}, expected {algorithm!r}"
        )
    chosen = declared or algorithm or algorithm_for_key(key)
    if chosen not in policy.algorithms:
        raise UnsupportedAlgorithmError(f"signature algorithm {chosen!r} is not accepted")
    algorithms.check_key(chosen, key)
    _check_policy(message, signature, policy)
    if policy.check_time:
        policy.window.check(
            created=signature.created,
            expires=signature.expires,
            now=time.time() if now is None else now,
            what=f"signature {signature.label!r} created",
        )
    for component in signature.components:
        if component.value == "content-digest" and not component.params:
            verify_content_digest(message.headers.get("content-digest"), message.body)
    base = signature_base(
        message, signature.components, signature.params_value, signature.covered
    ).encode()
    what = f"signature {signature.label!r}"
    try:
        algorithms.verify(chosen, key, base, signature.signature, what)
    except InvalidSignatureError:
        if declared or algorithm or key_kind(key) != "rsa":
            raise
        chosen = "rsa-pss-sha512"
        algorithms.verify(chosen, key, base, signature.signature, what)
    return VerifiedMessageSignature(signature.label, signature.key_id, chosen, signature.covered)


def default_components(message: HttpMessage) -> list[str]:
    """The components :func:`sign_rfc9421` covers by default.

    Requests: ``@method @target-uri @authority`` plus ``content-type`` and
    ``content-digest`` when there is a body.  Responses: ``@status`` (+ the same fields).
    """
    if isinstance(message, HttpRequest):
        names = ['"@method"', '"@target-uri"', '"@authority"']
        has_body = bool(message.body) or message.method.upper() in _BODY_METHODS
    else:
        names = ['"@status"']
        has_body = bool(message.body)
    if has_body:
        if "content-type" in message.headers:
            names.append('"content-type"')
        names.append('"content-digest"')
    return names


@dataclass
class SignatureOptions:
    """Optional signature parameters for :func:`sign_rfc9421`."""

    created: int | None = None
    expires: int | None = None
    nonce: str | None = None
    tag: str | None = None
    #: Send the ``alg`` parameter (Mastodon infers it from the key; others like it sent).
    include_alg: bool = True
    #: Exact parameters, in order, replacing all of the above (to reproduce vectors).
    params: list[tuple[str, BareItem]] | None = field(default=None)


@lru_cache(maxsize=512)
def _component(text: str) -> tuple[str, tuple[tuple[str, BareItem], ...], str]:
    """Parse a component identifier once: (name, parameters, canonical serialisation).

    A bare name without parameters (``@method``, ``content-digest``) is accepted too.
    """
    if '"' not in text and ";" not in text:
        text = f'"{text.strip()}"'
    item = parse_item(text, "component identifier")
    if not isinstance(item.value, str) or isinstance(item.value, Token):
        raise MalformedSignatureError(f"component identifier {text!r} is not a quoted string")
    return item.value, tuple(item.params.items()), serialize_component_id(item)


def sign_rfc9421(
    message: HttpMessage,
    key: SigningKey,
    key_id: str | None,
    *,
    label: str = "sig1",
    components: Sequence[str] | None = None,
    algorithm: str | None = None,
    options: SignatureOptions | None = None,
    now: float | None = None,
    digest_algorithms: Sequence[str] = ("sha-256",),
) -> HttpMessage:
    """Sign ``message`` and return a copy carrying ``Signature-Input`` and ``Signature``.

    ``components`` are serialised identifiers (``'"@method"'``,
    ``'"@query-param";name="id"'``); plain names (``"@method"``) work too.  A covered
    ``content-digest`` that is missing is computed from the body.  Existing signatures are
    kept (multiple signatures); reusing their label raises.
    """
    opts = options or SignatureOptions()
    chosen = algorithm or algorithm_for_key(key)
    algorithms.check_key(chosen, key)
    parsed = [
        _component(c)
        for c in (components if components is not None else default_components(message))
    ]
    items = [Item(value, dict(item_params)) for value, item_params, _ in parsed]
    idents = [ident for _, _, ident in parsed]
    if any(i.value == "content-digest" and not i.params for i in items) and (
        "content-digest" not in message.headers
    ):
        message = message.with_headers(
            {"Content-Digest": content_digest(message.body, digest_algorithms)}
        )
    if opts.params is not None:
        params: dict[str, BareItem] = dict(opts.params)
    else:
        params = {"created": opts.created if opts.created is not None else int(
            time.time() if now is None else now
        )}  # fmt: skip
        if opts.expires is not None:
            params["expires"] = opts.expires
        if key_id is not None:
            params["keyid"] = key_id
        if opts.include_alg:
            params["alg"] = chosen
        if opts.nonce is not None:
            params["nonce"] = opts.nonce
        if opts.tag is not None:
            params["tag"] = opts.tag
    params_value = f"({' '.join(idents)}){serialize_params(params)}"
    base = signature_base(message, items, params_value, idents)
    raw = algorithms.sign(chosen, key, base.encode())
    sig_value = serialize_member(Item(raw))
    existing_input = message.headers.get("signature-input")
    existing_sig = message.headers.get("signature")
    if existing_input:
        if label in parse_dictionary(existing_input, "Signature-Input"):
            raise MalformedSignatureError(f"the message already has a signature {label!r}")
        new_input = f"{existing_input}, {label}={params_value}"
        new_sig = f"{existing_sig}, {label}={sig_value}" if existing_sig else f"{label}={sig_value}"
    else:
        new_input, new_sig = f"{label}={params_value}", f"{label}={sig_value}"
    return message.with_headers({"Signature-Input": new_input, "Signature": new_sig})


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
    "Rfc9421Policy",
    "DEFAULT_POLICY",
    "LENIENT_POLICY",
    "VerifiedMessageSignature",
    "verify_rfc9421",
    "default_components",
    "SignatureOptions",
    "sign_rfc9421",
    "SignatureRequest",
    "parse_accept_signature",
    "accept_signature",
]

"""RFC 9421 HTTP Message Signatures: verify and sign (parsing is in ``signature_fields``).

As with draft-cavage, verification is split so the key lookup happens outside::

    signatures = parse_rfc9421(request)        # every labelled signature, pure
    sig = signatures[0]                          # or pick by label / tag
    key = await my_key_lookup(sig.key_id)
    verify_rfc9421(request, sig, key)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import NamedTuple

from activitypub_kit.errors import (
    AlgorithmMismatchError,
    MalformedSignatureError,
    MissingComponentError,
    UncoveredComponentError,
    UnsupportedAlgorithmError,
)
from activitypub_kit.signatures import _algorithms as algorithms
from activitypub_kit.signatures._algorithms import (
    RFC9421_ALGORITHMS,
    SigningKey,
    VerifyingKey,
    algorithm_for_key,
    key_kind,
)
from activitypub_kit.signatures._clock import DEFAULT_WINDOW, TimeWindow
from activitypub_kit.signatures._components import (
    PlainComponents,
    plain_components,
    plain_signature_base,
    signature_base,
)
from activitypub_kit.signatures._digest import content_digest, verify_content_digest
from activitypub_kit.signatures._encoding import b64encode
from activitypub_kit.signatures._message import HttpMessage, HttpRequest
from activitypub_kit.signatures._sfv import (
    BareItem,
    Item,
    parse_dictionary,
    serialize_params,
)
from activitypub_kit.signatures._signature_fields import (
    MessageSignature,
    SignatureRequest,
    accept_signature,
    parse_accept_signature,
    parse_rfc9421,
    parsed_component,
)

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_new = tuple.__new__  # skips a NamedTuple's Python-level __new__ on the per-request path


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


def _own_names(sig: MessageSignature) -> set[str]:
    # Names of the components of this message (not ";req" ones from the related request).
    return {str(c.value) for c in sig.components if not c.params or not c.params.get("req")}


def _check_policy(
    message: HttpMessage,
    sig: MessageSignature,
    policy: Rfc9421Policy,
    names: AbstractSet[str],
    created: int | None,
) -> None:
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
    if policy.require_created and created is None:
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
    # The parameters, read once (as the MessageSignature properties read them).
    params = signature.params
    declared, created, expires = params.get("alg"), params.get("created"), params.get("expires")
    if not isinstance(declared, str):
        declared = None
    if type(created) is not int:
        created = None
    if type(expires) is not int:
        expires = None
    if declared is not None and algorithm is not None and declared != algorithm:
        raise AlgorithmMismatchError(
            f"signature {signature.label!r} declares alg {declared!r}, expected {algorithm!r}"
        )
    chosen = declared or algorithm or algorithm_for_key(key)
    if chosen not in policy.algorithms:
        raise UnsupportedAlgorithmError(f"signature algorithm {chosen!r} is not accepted")
    algorithms.check_key(chosen, key)
    components = signature.components
    plain = components if type(components) is PlainComponents else None
    names = _own_names(signature) if plain is None else plain.names
    _check_policy(message, signature, policy, names, created)
    if policy.check_time:
        moment = time.time() if now is None else now
        if not policy.window.allows(created=created, expires=expires, now=moment):
            policy.window.check(
                created=created,
                expires=expires,
                now=moment,
                what=f"signature {signature.label!r} created",
            )
    if "content-digest" in names:
        verify_content_digest(message.headers.get("content-digest"), message.body)
    text = None if plain is None else plain_signature_base(message, plain, signature.params_value)
    if text is None:
        text = signature_base(message, components, signature.params_value, signature.covered)
    base = text.encode()
    if not algorithms.verifies(chosen, key, base, signature.signature):
        what = f"signature {signature.label!r}"
        if declared or algorithm or key_kind(key) != "rsa":
            raise algorithms.mismatch(chosen, key, what)
        chosen = "rsa-pss-sha512"
        algorithms.verify(chosen, key, base, signature.signature, what)
    return _new(
        VerifiedMessageSignature, (signature.label, signature.key_id, chosen, signature.covered)
    )


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
    wanted = components if components is not None else default_components(message)
    # Quoted plain names (the default list): parsed once per distinct list.
    plain = plain_components(" ".join(wanted))
    items: Sequence[Item]
    if plain is not None and len(plain) == len(wanted):
        items, idents, covers_digest = plain, plain.idents, "content-digest" in plain.names
    else:
        plain = None
        parsed = [parsed_component(c) for c in wanted]
        items = [Item(value, dict(item_params)) for value, item_params, _ in parsed]
        idents = tuple(ident for _, _, ident in parsed)
        covers_digest = any(i.value == "content-digest" and not i.params.get("req") for i in items)
    if covers_digest and "content-digest" not in message.headers:
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
    base = None if plain is None else plain_signature_base(message, plain, params_value)
    if base is None:
        base = signature_base(message, items, params_value, idents)
    raw = algorithms.sign(chosen, key, base.encode())
    sig_value = f":{b64encode(raw)}:"  # a byte-sequence item
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

"""The one exception hierarchy of activitypub_kit.

Every rejection of bad input raises a subclass of :class:`ActivityPubError` whose message
says, in one line, what was wrong.  Each part of the library owns one branch of the tree;
code that serves HTTP maps an error to a status with :attr:`ActivityPubError.http_status`.

Sections below are grouped by the part that raises them.
"""

from __future__ import annotations


class ActivityPubError(Exception):
    """Base class of every error raised by activitypub_kit."""

    #: The HTTP status a server should answer with when this error rejects a request.
    http_status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --- models / JSON-LD -------------------------------------------------------------------


class ValidationError(ActivityPubError, ValueError):
    """A document is not a valid ActivityStreams object.

    :attr:`path` names the offending property (dotted, with list indexes), or is empty when
    the document as a whole is wrong (not JSON, not an object, ...).
    """

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class JsonLdError(ValidationError):
    """A JSON-LD ``@context`` could not be processed (unknown remote context, bad syntax)."""


# --- signatures -----------------------------------------------------------------------


class SignatureError(ActivityPubError):
    """A signature, digest, key or proof failed a check."""

    http_status = 401


class MissingSignatureError(SignatureError):
    """The request carries no signature of the expected kind."""


class MalformedSignatureError(SignatureError):
    """A ``Signature``, ``Signature-Input`` or ``Authorization`` header cannot be parsed.

    Also raised for duplicate parameters, unknown component names and bad base64.
    """


class MissingComponentError(SignatureError):
    """A header or derived component named by the signature is absent from the message."""


class UncoveredComponentError(SignatureError):
    """The signature does not cover a component the verification policy requires."""


class DigestError(SignatureError):
    """A ``Digest``, ``Content-Digest`` or ``Repr-Digest`` header is missing or malformed."""


class DigestMismatchError(DigestError):
    """A digest header does not match the digest of the body."""


class ClockSkewError(SignatureError):
    """A signature is too old, not yet valid, or expired.

    :attr:`skew` is how many seconds the offending time is outside the accepted window
    (positive: in the future; negative: in the past).
    """

    def __init__(self, message: str, *, skew: float) -> None:
        super().__init__(message)
        self.skew = skew


class UnsupportedAlgorithmError(SignatureError):
    """A signature or digest names an algorithm this library does not accept."""


class AlgorithmMismatchError(SignatureError):
    """The signature's algorithm does not fit the type of the key."""


class InvalidSignatureError(SignatureError):
    """The signature bytes do not verify against the key and the signed content."""


class KeyFormatError(SignatureError, ValueError):
    """A key could not be decoded from PEM, JWK or Multikey, or has an unusable type."""

    http_status = 400


class ProofError(SignatureError):
    """An object integrity proof or Linked Data signature failed a check."""


class LdWorkLimitError(ProofError):
    """A Linked Data signature was refused because checking it would cost too much work.

    Canonicalising JSON-LD (URDNA2015) can take factorial time on small hostile documents,
    so :mod:`activitypub_kit.signatures._ldsig` refuses, without verifying the signature, a
    document that breaks a structural limit (explicit ``_:`` blank node labels, too many
    blank nodes or values, too deep), exceeds the canonicalisation work budget, or is not
    canonicalised within the time limit.  The signature is then neither valid nor invalid:
    it is unchecked, and the document is unauthenticated (HTTP 401, like any
    :class:`ProofError`).
    """


# --- outbound HTTP, WebFinger, NodeInfo -----------------------------------------------


class FetchError(ActivityPubError):
    """An outbound request was refused by policy or failed."""

    http_status = 502


class UrlRefusedError(FetchError):
    """A URL was refused before any connection: bad scheme, credentials, malformed host."""


class SchemeRefusedError(UrlRefusedError):
    """A URL uses a scheme other than the allowed ones (``http``/``https``)."""


class AddressRefusedError(UrlRefusedError):
    """A host is, or resolves to, an address the SSRF guard refuses.

    :attr:`host` is the name asked for, :attr:`address` the refused address and
    :attr:`reason` the range it falls in.
    """

    def __init__(self, host: str, address: str, reason: str) -> None:
        shown = host if host == address else f"{host} ({address})"
        super().__init__(f"refused to connect to {shown}: {reason}")
        self.host = host
        self.address = address
        self.reason = reason


class RedirectError(FetchError):
    """A redirect chain broke a rule (count, loop, scheme change)."""


class TooManyRedirectsError(RedirectError):
    """A response asked for one more redirect than the limit allows."""


class RedirectLoopError(RedirectError):
    """A redirect pointed back to a URL already visited in the same chain."""


class SchemeDowngradeError(RedirectError):
    """A redirect changed the scheme (``https`` to ``http``, or any other change)."""


class ResponseTooLargeError(FetchError):
    """A response body exceeded the size limit (counted after decompression)."""


class FetchTimeoutError(FetchError):
    """Connecting, reading or the whole exchange took longer than its limit."""

    http_status = 504


class ConnectionFailedError(FetchError):
    """The host could not be resolved or reached, or the connection broke."""


class HttpStatusError(FetchError):
    """The server answered with a status that is not a success.

    :attr:`status_code` is the status received.
    """

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class ResourceGoneError(HttpStatusError):
    """The server answered ``410 Gone``: the resource was deleted for good."""


class WrongContentTypeError(FetchError):
    """A response had a content type the caller does not accept."""


class InvalidResponseError(FetchError):
    """A response body is not what was asked for (not JSON, not an object, bad encoding)."""


class WrongTypeError(InvalidResponseError):
    """A looked-up document is not of the type the caller asked for.

    Raised by ``ctx.lookup(uri, Note)`` when ``uri`` is, say, a ``Person`` (subclasses of
    the class asked for are accepted) and by ``ctx.lookup_actor`` for a non-actor.
    :attr:`uri` is the URI looked up, :attr:`expected` the name of the class asked for and
    :attr:`actual` the document's type names (``"/"``-joined; empty without a ``type``).
    """

    def __init__(self, message: str, *, uri: str, expected: str, actual: str) -> None:
        super().__init__(message)
        self.uri = uri
        self.expected = expected
        self.actual = actual


class OriginMismatchError(FetchError):
    """A document's ``id`` (or an embedded object's) is not on the origin it came from."""


class FetchBudgetExhaustedError(FetchError):
    """A chain of fetches caused by one request used up its fetch budget."""

    http_status = 503


class KeyResolutionError(FetchError):
    """A public key could not be resolved or is not owned by the actor that claims it."""


class KeyOwnerMismatchError(KeyResolutionError):
    """A key names an owner/controller that does not list the key back."""


class KeyNotFoundError(KeyResolutionError):
    """The document at a key id holds no key with that id."""


class WebFingerError(FetchError):
    """A WebFinger lookup failed or gave an answer that does not hold together."""


class InvalidHandleError(WebFingerError, ValueError):
    """A handle (``user@host``) or WebFinger resource is malformed or smuggles a URL part."""

    http_status = 400


class WebFingerMismatchError(WebFingerError):
    """WebFinger and the actor document do not point at each other (round trip failed)."""


class NoActorLinkError(WebFingerError):
    """A JRD has no ``rel="self"`` link with an ActivityPub media type."""


class NodeInfoError(FetchError):
    """NodeInfo discovery or its document is invalid."""


# --- storage and queues ---------------------------------------------------------------


class StorageError(ActivityPubError):
    """A key-value store or message queue operation failed."""

    http_status = 503


class SerializationError(StorageError, ValueError):
    """A value given to a store or queue is not JSON-serialisable (nothing was stored)."""

    http_status = 500


class MessageTooLargeError(StorageError, ValueError):
    """An encoded value is larger than the store's or queue's limit (nothing was stored).

    :attr:`size` is the encoded size in bytes and :attr:`limit` the configured maximum.
    """

    http_status = 500

    def __init__(self, message: str, *, size: int, limit: int) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


class InvalidKeyError(StorageError, ValueError):
    """A key, key prefix, ordering key or deduplication key is malformed."""

    http_status = 500


class InvalidArgumentError(StorageError, ValueError):
    """A storage call got an out-of-range argument (negative delay, zero lease, ...)."""

    http_status = 500


class StorageConnectionError(StorageError, ConnectionError):
    """The backend is unreachable or the connection broke during an operation.

    The operation may or may not have been applied; messages already enqueued are kept.
    """


class StorageClosedError(StorageConnectionError):
    """The store or queue was used after :meth:`aclose`."""


class SchemaVersionError(StorageError):
    """The database holds a schema version this library does not know (it is newer)."""


# --- delivery -------------------------------------------------------------------------


class DeliveryError(ActivityPubError):
    """Delivering an activity to a remote inbox failed."""

    http_status = 502


# --- moderation -----------------------------------------------------------------------


class BlockedError(ActivityPubError):
    """Moderation refused a host or an actor: no request is made to it.

    Raised by a resolver with a block policy (the :class:`~activitypub_kit.server.Federation`'s)
    for a URL on a blocked host, before any request or cache lookup; never cached, so lifting
    the block takes effect at once.  It is not a :class:`FetchError` — a block is a decision,
    not a failure — and a server answers it with ``403``.  :attr:`host` is the blocked host.
    """

    http_status = 403

    def __init__(self, message: str, *, host: str | None = None) -> None:
        super().__init__(message)
        self.host = host


# --- server ---------------------------------------------------------------------------


class InboxError(ActivityPubError):
    """An incoming activity was rejected by the inbox pipeline."""


class PayloadTooLargeError(InboxError):
    """The request body is larger than the inbox accepts."""

    http_status = 413


class InvalidActivityError(InboxError):
    """The body is not a usable activity: bad UTF-8 or JSON, too deep, not an object..."""


class UnauthenticatedActivityError(InboxError):
    """No valid signature vouches for the activity, or the signer is not its actor."""

    http_status = 401


class ForbiddenActivityError(InboxError):
    """The activity is authentic but breaks an origin rule or a domain-block policy."""

    http_status = 403


class InvalidCursorError(ActivityPubError, ValueError):
    """A collection page was asked for with a ``cursor`` its dispatcher cannot read.

    Raised by :func:`~activitypub_kit.server._collections.offset_cursor` (or by an app's own
    collection dispatcher); the server answers ``400 {"error": message}``.  :attr:`cursor`
    is the cursor received, as given.
    """

    def __init__(self, message: str, *, cursor: str | None = None) -> None:
        super().__init__(message)
        self.cursor = cursor


class RouteError(ActivityPubError, ValueError):
    """A URL template is malformed, or a URI cannot be built or served from it."""

    http_status = 500


class ForwardingError(ActivityPubError, RuntimeError):
    """``ctx.forward`` cannot pass this activity on: no received bytes, or another activity.

    Only an inbox handler holds the bytes an activity arrived with, and only for an
    activity carrying an LD signature or a proof (the only ones a receiver can check).
    """

    http_status = 500


class MoveError(ActivityPubError):
    """An account ``Move`` that cannot be sent or trusted (see ``server.moving``)."""

    http_status = 400


class InvalidMoveError(MoveError, InvalidActivityError):
    """A ``Move`` that is not an account move: ``object`` is not its ``actor``, no target..."""


class UnconfirmedMoveError(MoveError):
    """The ``Move`` target does not list the moving account in its ``alsoKnownAs``."""

    http_status = 403


class NoContextDataError(ActivityPubError, RuntimeError):
    """``ctx.data`` was read on a Federation built without ``context_data``.

    Build it with ``Federation(origin, context_data=value)`` or
    ``Federation(origin, context_data_factory=make)`` to hand app state to every callback.
    """

    http_status = 500


__all__ = [
    "ActivityPubError",
    "ValidationError",
    "JsonLdError",
    "SignatureError",
    "MissingSignatureError",
    "MalformedSignatureError",
    "MissingComponentError",
    "UncoveredComponentError",
    "DigestError",
    "DigestMismatchError",
    "ClockSkewError",
    "UnsupportedAlgorithmError",
    "AlgorithmMismatchError",
    "InvalidSignatureError",
    "KeyFormatError",
    "ProofError",
    "LdWorkLimitError",
    "FetchError",
    "UrlRefusedError",
    "SchemeRefusedError",
    "AddressRefusedError",
    "RedirectError",
    "TooManyRedirectsError",
    "RedirectLoopError",
    "SchemeDowngradeError",
    "ResponseTooLargeError",
    "FetchTimeoutError",
    "ConnectionFailedError",
    "HttpStatusError",
    "ResourceGoneError",
    "WrongContentTypeError",
    "InvalidResponseError",
    "WrongTypeError",
    "OriginMismatchError",
    "FetchBudgetExhaustedError",
    "KeyResolutionError",
    "KeyOwnerMismatchError",
    "KeyNotFoundError",
    "WebFingerError",
    "InvalidHandleError",
    "WebFingerMismatchError",
    "NoActorLinkError",
    "NodeInfoError",
    "StorageError",
    "SerializationError",
    "MessageTooLargeError",
    "InvalidKeyError",
    "InvalidArgumentError",
    "StorageConnectionError",
    "StorageClosedError",
    "SchemaVersionError",
    "DeliveryError",
    "BlockedError",
    "InboxError",
    "PayloadTooLargeError",
    "InvalidActivityError",
    "UnauthenticatedActivityError",
    "ForbiddenActivityError",
    "InvalidCursorError",
    "RouteError",
    "ForwardingError",
    "MoveError",
    "InvalidMoveError",
    "UnconfirmedMoveError",
    "NoContextDataError",
]

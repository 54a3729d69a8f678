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


# --- outbound HTTP, WebFinger, NodeInfo -----------------------------------------------


class FetchError(ActivityPubError):
    """An outbound request was refused by policy or failed."""

    http_status = 502


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


# --- server ---------------------------------------------------------------------------


class InboxError(ActivityPubError):
    """An incoming activity was rejected by the inbox pipeline."""


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
    "FetchError",
    "StorageError",
    "SerializationError",
    "MessageTooLargeError",
    "InvalidKeyError",
    "InvalidArgumentError",
    "StorageConnectionError",
    "StorageClosedError",
    "SchemaVersionError",
    "DeliveryError",
    "InboxError",
]

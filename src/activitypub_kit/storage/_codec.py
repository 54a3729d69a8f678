"""Encoding shared by every backend: JSON values, size limits, keys and arguments.

All backends store values as compact JSON text produced here, so a value that one backend
accepts every backend accepts, and compare-and-set compares the same canonical text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from activitypub_kit.errors import (
    InvalidArgumentError,
    InvalidKeyError,
    MessageTooLargeError,
    SerializationError,
)
from activitypub_kit.storage._base import JSONValue, Key, Outgoing

#: Default largest encoded message body, in bytes (UTF-8 JSON): 256 KiB.  An ActivityPub
#: activity is rarely above 64 KiB; anything bigger belongs in a store, referenced by id.
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024
#: Default largest encoded key-value value, in bytes: 1 MiB.
DEFAULT_MAX_VALUE_BYTES = 1024 * 1024
#: Longest ordering key, deduplication key or key part, in characters.
MAX_KEY_CHARS = 1024
#: Default deduplication window, in seconds (24 hours).
DEFAULT_DEDUP_WINDOW = 24 * 3600.0


def _reject(value: object) -> Any:
    raise TypeError(f"object of type {type(value).__name__} is not JSON-serialisable")


def encode(value: JSONValue, *, limit: int, what: str = "value") -> str:
    """Return the canonical JSON text of ``value``; raise a typed error if impossible.

    Canonical: sorted object keys, no insignificant whitespace, no NaN or infinities.
    """
    try:
        text = json.dumps(
            value,
            ensure_ascii=False,
            allow_nan=False,
            sort_keys=True,
            separators=(",", ":"),
            default=_reject,
        )
    except (TypeError, ValueError, RecursionError) as exc:
        raise SerializationError(f"{what} is not JSON-serialisable: {exc}") from None
    size = len(text.encode("utf-8"))
    if size > limit:
        raise MessageTooLargeError(
            f"{what} is {size} bytes encoded as JSON; the limit is {limit}",
            size=size,
            limit=limit,
        )
    return text


def decode(text: str | bytes) -> JSONValue:
    """Parse JSON text written by :func:`encode`."""
    value: JSONValue = json.loads(text)
    return value


def check_key(key: Key, *, allow_empty: bool = False) -> Key:
    """Validate a key-value key (or prefix, with ``allow_empty``) and return it."""
    if not isinstance(key, tuple):
        raise InvalidKeyError(f"key must be a tuple of strings, not {type(key).__name__}")
    if not key and not allow_empty:
        raise InvalidKeyError("key must have at least one part")
    for part in key:
        if not isinstance(part, str):
            raise InvalidKeyError(f"key part {part!r} is a {type(part).__name__}, not a str")
        if len(part) > MAX_KEY_CHARS:
            raise InvalidKeyError(f"key part is {len(part)} characters; limit {MAX_KEY_CHARS}")
    return key


def key_text(key: Key) -> str:
    r"""Encode a key as text whose string prefixes match tuple prefixes.

    Each part becomes its ASCII JSON string literal, which is self-delimiting, so
    ``key_text(prefix)`` is a string prefix of ``key_text(key)`` exactly when ``prefix`` is a
    tuple prefix of ``key``.  Every character is below U+007F, so ``text + "\x7f"`` is an
    upper bound for a range scan.
    """
    return "".join(json.dumps(part, ensure_ascii=True) for part in key)


def key_from_text(text: str) -> Key:
    """Invert :func:`key_text`."""
    decoder = json.JSONDecoder()
    parts: list[str] = []
    index = 0
    while index < len(text):
        part, index = decoder.raw_decode(text, index)
        parts.append(part)
    return tuple(parts)


def check_name(value: str | None, what: str) -> str | None:
    """Validate an optional ordering key or deduplication key."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidKeyError(f"{what} must be a non-empty str, not {value!r}")
    if len(value) > MAX_KEY_CHARS:
        raise InvalidKeyError(f"{what} is {len(value)} characters; limit {MAX_KEY_CHARS}")
    if "\x00" in value:
        raise InvalidKeyError(f"{what} must not contain NUL characters")
    return value


def check_seconds(value: float, what: str, *, positive: bool = False) -> float:
    """Validate a duration in seconds (finite, >= 0, or > 0 with ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(f"{what} must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise InvalidArgumentError(f"{what} must be a finite number {bound}, not {value!r}")
    return float(value)


def check_count(value: int, what: str) -> int:
    """Validate a positive integer count."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"{what} must be an int >= 1, not {value!r}")
    return value


def check_enqueue(
    body: JSONValue,
    *,
    delay: float,
    ordering_key: str | None,
    dedup_key: str | None,
    limit: int,
) -> tuple[str, float]:
    """Validate the arguments of ``MessageQueue.enqueue``; return the encoded body and delay.

    Every backend runs this first, so bad input fails the same way everywhere and before
    anything is written.
    """
    text = encode(body, limit=limit, what="message body")
    seconds = check_seconds(delay, "delay")
    check_name(ordering_key, "ordering_key")
    check_name(dedup_key, "dedup_key")
    return text, seconds


def check_batch(messages: Sequence[Outgoing], *, limit: int) -> list[tuple[Outgoing, str, float]]:
    """Validate every message of ``MessageQueue.enqueue_many`` before anything is written.

    Return ``(message, encoded body, delay)`` for each message, in order.  Backends then
    write the batch in one transaction with the semantics of ``enqueue`` in a loop.
    """
    given: object = messages
    if isinstance(given, str | bytes) or not isinstance(given, Sequence):
        raise InvalidArgumentError(
            f"messages must be a sequence of Outgoing, not {type(messages).__name__}"
        )
    checked: list[tuple[Outgoing, str, float]] = []
    for message in messages:
        if not isinstance(message, Outgoing):
            raise InvalidArgumentError(
                f"each message must be an Outgoing, not {type(message).__name__}"
            )
        text, delay = check_enqueue(
            message.body,
            delay=message.delay,
            ordering_key=message.ordering_key,
            dedup_key=message.dedup_key,
            limit=limit,
        )
        checked.append((message, text, delay))
    return checked


__all__ = [
    "check_enqueue",
    "check_batch",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_MAX_VALUE_BYTES",
    "DEFAULT_DEDUP_WINDOW",
    "MAX_KEY_CHARS",
    "encode",
    "decode",
    "check_key",
    "key_text",
    "key_from_text",
    "check_name",
    "check_seconds",
    "check_count",
]

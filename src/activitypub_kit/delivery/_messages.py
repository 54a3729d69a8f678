"""The shapes the outbox writes to its queue and store (JSON), in one place.

Queue messages stay small: the activity body is stored once under :func:`body_key` and
referenced by id; a large explicit audience is stored in chunks under
:func:`audience_key`; a target carries at most :data:`MAX_RECIPIENTS_PER_TARGET`
recipient ids (enough for the hooks; a shared inbox may reach thousands of followers).
Nothing here ever holds a private key: messages name the key (``key_ref``).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from activitypub_kit.delivery._planning import InboxTarget, Recipient
from activitypub_kit.storage._base import JSONValue, Key

#: Recipient ids kept per target in a message (the hooks receive at most these).
MAX_RECIPIENTS_PER_TARGET = 100
#: An explicit audience larger than this (bytes of JSON) is stored in the key-value store.
MAX_INLINE_AUDIENCE_BYTES = 64 * 1024
#: Largest chunk of a stored audience (bytes of JSON), well below the store's value limit.
AUDIENCE_CHUNK_BYTES = 512 * 1024


def body_key(activity_id: str) -> Key:
    """Where the serialised activity is stored."""
    return ("delivery", "body", activity_id)


def audience_key(activity_id: str, chunk: int) -> Key:
    """Where chunk ``chunk`` of a large explicit audience is stored."""
    return ("delivery", "audience", activity_id, str(chunk))


def fanned_key(activity_id: str) -> Key:
    """Set once every batch of ``activity_id`` is enqueued (then the audience is deleted)."""
    return ("delivery", "fanned", activity_id)


def inbox_digest(inbox: str) -> str:
    """A short, fixed-size stand-in for an inbox URL inside a key."""
    return hashlib.sha256(inbox.encode()).hexdigest()[:24]


def pending_prefix(object_id: str, host: str | None = None) -> Key:
    """Prefix of the pending-retry markers of an object (optionally: on one host)."""
    return ("delivery", "pending", object_id) if host is None else (
        "delivery", "pending", object_id, host
    )  # fmt: skip


def pending_key(object_id: str, host: str, activity_id: str, inbox: str) -> Key:
    """The marker of one retry chain: this activity, about this object, to this inbox."""
    return ("delivery", "pending", object_id, host, activity_id, inbox_digest(inbox))


def shard_of(host: str, shards: int) -> int:
    """The batch shard of a host: fixed, so activities about one object keep their order."""
    return zlib.crc32(host.encode()) % shards


def encode_target(target: InboxTarget) -> list[JSONValue]:
    """A target as it travels in a message."""
    return [
        target.inbox,
        target.host,
        list(target.recipients[:MAX_RECIPIENTS_PER_TARGET]),
        target.shared,
    ]


def decode_target(raw: Sequence[Any]) -> InboxTarget:
    """Invert :func:`encode_target`."""
    return InboxTarget(inbox=raw[0], host=raw[1], recipients=tuple(raw[2]), shared=bool(raw[3]))


def encode_recipient(entry: Recipient | str | Mapping[str, JSONValue]) -> JSONValue:
    """An audience entry as it travels: a dict for a recipient, a string, or a reference."""
    if isinstance(entry, Recipient):
        return {"id": entry.id, "inbox": entry.inbox, "shared": entry.shared_inbox}
    if isinstance(entry, str):
        return entry
    return dict(entry)


def decode_recipient(entry: Mapping[str, Any]) -> Recipient:
    """Invert :func:`encode_recipient` for a recipient dict."""
    inbox, shared = entry.get("inbox"), entry.get("shared")
    return Recipient(
        id=str(entry["id"]),
        inbox=inbox if isinstance(inbox, str) else None,
        shared_inbox=shared if isinstance(shared, str) else None,
    )


def chunk_audience(audience: list[JSONValue]) -> list[list[JSONValue]] | None:
    """Split an audience into stored chunks, or ``None`` when it is small enough inline."""
    sizes = [len(json.dumps(entry, ensure_ascii=False)) + 1 for entry in audience]
    if sum(sizes) <= MAX_INLINE_AUDIENCE_BYTES:
        return None
    chunks: list[list[JSONValue]] = [[]]
    used = 0
    for entry, size in zip(audience, sizes, strict=True):
        if used + size > AUDIENCE_CHUNK_BYTES and chunks[-1]:
            chunks.append([])
            used = 0
        chunks[-1].append(entry)
        used += size
    return chunks


__all__ = [
    "MAX_RECIPIENTS_PER_TARGET",
    "MAX_INLINE_AUDIENCE_BYTES",
    "AUDIENCE_CHUNK_BYTES",
    "body_key",
    "audience_key",
    "fanned_key",
    "inbox_digest",
    "pending_prefix",
    "pending_key",
    "shard_of",
    "encode_target",
    "decode_target",
    "encode_recipient",
    "decode_recipient",
    "chunk_audience",
]

"""Planning: from recipients to the smallest set of inboxes (pure, no I/O).

A popular account's post to 10,000 followers on 1,000 servers must cost 1,000 requests, not
10,000.  The planner groups recipients by the inbox they are best reached at — the server's
``endpoints.sharedInbox`` when it has one — removes duplicates, never delivers to the public
collection, hands local recipients back to the caller instead of making HTTP requests to
ourselves, and skips what a domain-block policy refuses or what is not a usable URL.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from activitypub_kit.delivery._failures import DeliveryFailure
from activitypub_kit.models._helpers import PUBLIC_IRIS

#: A moderation predicate: ``(host or actor id) -> blocked?``, plain or ``async``.
Predicate = Callable[[str], bool | Awaitable[bool]]


async def ask(predicate: Predicate, value: str) -> bool:
    """Call a plain or ``async`` predicate and return its answer as a ``bool``."""
    answer = predicate(value)
    if inspect.isawaitable(answer):
        answer = await answer
    return bool(answer)


@dataclass(frozen=True, slots=True)
class Recipient:
    """A remote (or local) actor as far as delivery cares: who it is, where its inboxes are."""

    id: str
    inbox: str | None = None
    shared_inbox: str | None = None

    @classmethod
    def from_actor(cls, actor: Mapping[str, Any]) -> Recipient:
        """Build a recipient from an actor document (a JSON dict).

        ``endpoints`` may be an embedded object or, rarely, a bare IRI (then unusable).
        """
        endpoints = actor.get("endpoints")
        shared = endpoints.get("sharedInbox") if isinstance(endpoints, Mapping) else None
        inbox = actor.get("inbox")
        return cls(
            id=str(actor.get("id", "")),
            inbox=inbox if isinstance(inbox, str) else None,
            shared_inbox=shared if isinstance(shared, str) else None,
        )


@dataclass(frozen=True, slots=True)
class Unresolved:
    """An audience member that could not be made a recipient (its actor fetch failed, say).

    A :class:`~activitypub_kit.delivery.RecipientResolver` yields it instead of dropping the
    member silently: the outbox reports it to the ``on_failure`` hook with ``reason`` (and
    counts it) and goes on with the others.
    """

    id: str
    error: str
    reason: DeliveryFailure = DeliveryFailure.UNRESOLVED


class SkipReason(StrEnum):
    """Why a recipient gets no delivery."""

    PUBLIC = "public collection is an audience, not an inbox"
    LOCAL = "local recipient, handled in-process"
    NO_INBOX = "recipient has no inbox"
    BAD_URL = "inbox is not an absolute http(s) URL"
    BLOCKED = "domain blocked by policy"
    SENDER = "the sender itself"


@dataclass(frozen=True, slots=True)
class InboxTarget:
    """One POST to make: an inbox and every recipient reached through it."""

    inbox: str
    host: str
    recipients: tuple[str, ...]
    shared: bool


@dataclass(slots=True)
class DeliveryPlan:
    """The result of :func:`plan_delivery`."""

    targets: list[InboxTarget] = field(default_factory=list)
    local: list[Recipient] = field(default_factory=list)
    skipped: list[tuple[str, SkipReason]] = field(default_factory=list)

    @property
    def inboxes(self) -> list[str]:
        """The inbox URLs to POST to, in a stable order."""
        return [t.inbox for t in self.targets]


def inbox_host(url: str) -> str | None:
    """Return ``host[:port]`` (lower-case) of an absolute http(s) URL, or ``None`` if unusable.

    URLs with user information are refused: ``https://user@host/`` can hide the real host
    from a reader, and no inbox needs one.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{host}:{port}" if port is not None else host


def plan_delivery(
    recipients: Iterable[Recipient | str],
    *,
    sender: str | None = None,
    prefer_shared_inbox: bool = True,
    is_local: Callable[[str], bool] | None = None,
    is_blocked: Callable[[str], bool] | None = None,
) -> DeliveryPlan:
    """Turn recipients into one :class:`InboxTarget` per distinct inbox.

    ``recipients`` holds :class:`Recipient` values and bare strings; a bare string is an
    inbox URL given explicitly (or the public collection, which is skipped).
    ``is_local(url)`` tells whether an actor or inbox URL is ours; ``is_blocked(host)``
    whether a host is refused by policy (it receives the lower-case ``host[:port]``).
    The order of targets follows the first appearance of each inbox.
    """
    plan = DeliveryPlan()
    # inbox -> (host, recipient ids as an ordered set, reached through a shared inbox)
    by_inbox: dict[str, tuple[str, dict[str, None], bool]] = {}
    seen: set[str] = set()  # recipient ids already placed; the first description wins
    hosts: dict[str, str | None] = {}
    for recipient in recipients:
        if isinstance(recipient, str):
            if recipient in PUBLIC_IRIS:
                plan.skipped.append((recipient, SkipReason.PUBLIC))
                continue
            recipient = Recipient(id=recipient, inbox=recipient)
        if recipient.id in PUBLIC_IRIS:
            plan.skipped.append((recipient.id, SkipReason.PUBLIC))
            continue
        if sender is not None and recipient.id == sender:
            plan.skipped.append((recipient.id, SkipReason.SENDER))
            continue
        if recipient.id in seen:
            continue
        seen.add(recipient.id)
        if is_local is not None and is_local(recipient.id):
            plan.local.append(recipient)
            continue
        shared = bool(prefer_shared_inbox and recipient.shared_inbox)
        inbox = recipient.shared_inbox if shared else recipient.inbox
        if not inbox:
            plan.skipped.append((recipient.id, SkipReason.NO_INBOX))
            continue
        if inbox in hosts:
            host = hosts[inbox]
        else:  # parse each distinct inbox once: 10,000 followers often share 1,000 inboxes
            host = hosts[inbox] = inbox_host(inbox)
        if host is None:
            plan.skipped.append((recipient.id, SkipReason.BAD_URL))
            continue
        if is_blocked is not None and is_blocked(host):
            plan.skipped.append((recipient.id, SkipReason.BLOCKED))
            continue
        entry = by_inbox.get(inbox)
        if entry is None:
            by_inbox[inbox] = (host, {recipient.id: None}, shared)
        else:
            entry[1][recipient.id] = None
    plan.targets = [
        InboxTarget(inbox=inbox, host=host, recipients=tuple(ids), shared=shared)
        for inbox, (host, ids, shared) in by_inbox.items()
    ]
    return plan


def strip_hidden_recipients(activity: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``activity`` without ``bto``/``bcc``, also on an embedded object.

    Blind recipients are used for planning and must never be revealed to anyone.
    """
    body = {k: v for k, v in activity.items() if k not in ("bto", "bcc")}
    obj = body.get("object")
    if isinstance(obj, Mapping) and ("bto" in obj or "bcc" in obj):
        body["object"] = {k: v for k, v in obj.items() if k not in ("bto", "bcc")}
    return body


__all__ = [
    "Predicate",
    "ask",
    "Recipient",
    "Unresolved",
    "SkipReason",
    "InboxTarget",
    "DeliveryPlan",
    "inbox_host",
    "plan_delivery",
    "strip_hidden_recipients",
]

"""What the outbox calls back into the application: audience expansion and outcome hooks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from activitypub_kit.delivery._failures import DeliveryFailureEvent
from activitypub_kit.delivery._planning import Recipient, Unresolved
from activitypub_kit.storage._base import JSONValue

FailureHook = Callable[[DeliveryFailureEvent], Awaitable[None]]


class RecipientResolver(Protocol):
    """Expands an audience reference (e.g. a local actor's followers) into recipients."""

    def expand(
        self, audience: Mapping[str, JSONValue]
    ) -> AsyncIterator[Recipient | str | Unresolved]:
        """Yield the recipients of one ``{"followers": handle}``-style audience entry.

        Yield :class:`~activitypub_kit.delivery._planning.Unresolved` for a member that
        cannot be made a recipient: the failure hook hears of it.
        """
        ...


@dataclass(slots=True)
class DeliveryHooks:
    """Callbacks for outcomes an application wants to act on (all optional).

    An exception raised by ``on_failure`` or ``on_gone`` is logged and does not affect
    delivery.
    """

    #: ``(event)`` for every inbox (or recipient without a usable inbox) that will not get
    #: the activity, with the reason (:class:`~activitypub_kit.delivery.DeliveryFailure`):
    #: retries exhausted, refused, gone, host unavailable, circuit open, blocked, invalid
    #: inbox, unresolved.  For a shared inbox ``event.recipients`` holds at most
    #: ``MAX_RECIPIENTS_PER_TARGET`` of its recipients.
    on_failure: FailureHook | None = None
    #: ``(event)`` when a personal inbox answered 410 Gone (``event.recipients`` are gone);
    #: ``on_failure`` hears of it too.
    on_gone: FailureHook | None = None
    #: ``(activity, recipient_ids)`` for recipients that ``is_local`` says are ours: they get
    #: no HTTP request, this hook hands the activity (bto/bcc removed) to them in-process.
    #: It may run again for the same activity if a worker dies mid-fan-out: make it
    #: idempotent (the Federation de-duplicates by activity id).
    on_local: Callable[[dict[str, Any], Sequence[str]], Awaitable[None]] | None = None


__all__ = ["FailureHook", "RecipientResolver", "DeliveryHooks"]

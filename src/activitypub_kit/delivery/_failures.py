"""Why a delivery was given up, as handed to the failure hooks.

Every recipient that will not receive an activity — whatever the cause — ends as one
:class:`DeliveryFailureEvent` handed to ``DeliveryHooks.on_failure`` (the
:class:`~activitypub_kit.server.Federation`'s ``on_delivery_failed``).  Its
:class:`DeliveryFailure` reason tells the causes apart, so an application can, say, drop
followers whose inbox is gone but keep those whose server is only down.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeliveryFailure(StrEnum):
    """Why a target was given up."""

    #: Transient failures (network, 5xx, 429...) until the retry policy gave up.
    RETRIES_EXHAUSTED = "retries_exhausted"
    #: The inbox answered a permanent refusal (4xx other than 401/408/410/429, or 501).
    REFUSED = "refused"
    #: The inbox answered ``410 Gone`` (on a personal inbox ``on_gone`` hears of it too).
    GONE = "gone"
    #: The host failed on too many distinct days and is skipped until it comes back.
    HOST_UNAVAILABLE = "host_unavailable"
    #: The host's circuit stayed open past the retry horizon.
    CIRCUIT_OPEN = "circuit_open"
    #: The block policy refuses the host or the recipient: no request was made.
    BLOCKED = "blocked"
    #: The recipient has no inbox, or its inbox is not a URL we may POST to.
    INVALID_INBOX = "invalid_inbox"
    #: The recipient could not be resolved to an actor with an inbox (its fetch failed).
    UNRESOLVED = "unresolved"


@dataclass(frozen=True, slots=True)
class DeliveryFailureEvent:
    """One inbox (or one recipient without a usable inbox) that will not get an activity."""

    reason: DeliveryFailure
    #: The activity's id.
    activity: str
    #: The inbox given up (``None`` when the recipient had no usable one).
    inbox: str | None
    #: ``host[:port]`` of the inbox (``None`` without one).
    host: str | None
    #: The recipients reached through the inbox (at most 100 for a shared inbox), or the
    #: one recipient that could not be resolved.
    recipients: tuple[str, ...]
    #: The last HTTP status received (``None``: no answer, or no request made).
    status: int | None = None
    #: What went wrong, in words (network error, refusal reason...).
    error: str | None = None
    #: Attempts made for this inbox (0 when none was made).
    attempts: int = 0


__all__ = ["DeliveryFailure", "DeliveryFailureEvent"]

"""What to do after a delivery attempt: classify the answer, choose the next delay (pure).

The defaults follow Mastodon, whose behaviour the rest of the fediverse is tuned to:
a failed delivery is retried with a polynomial back-off (``attempt**4 + 15`` seconds plus
jitter) for about two days; 4xx answers other than 401, 408 and 429, and 501, are permanent
and never retried; ``Retry-After`` on 429/503 is honoured (bounded, so a hostile server
cannot park our queue for a year).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum


class Outcome(StrEnum):
    """The class of a delivery attempt's result."""

    DELIVERED = "delivered"
    RETRY = "retry"
    PERMANENT = "permanent"
    GONE = "gone"


#: 4xx statuses that are worth retrying: unauthorised (key not yet fetchable, clock skew),
#: request timeout and too many requests.
RETRYABLE_4XX = frozenset({401, 408, 429})


def classify_status(status: int) -> Outcome:
    """Classify an HTTP status returned by a remote inbox."""
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status == 410:
        return Outcome.GONE
    if (400 <= status < 500 and status not in RETRYABLE_4XX) or status == 501:
        return Outcome.PERMANENT
    return Outcome.RETRY


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the delay in seconds a ``Retry-After`` header asks for, or ``None``.

    Accepts delay-seconds and HTTP-dates; a date in the past gives ``0``; anything
    unparseable gives ``None`` (then our own schedule applies).
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


@dataclass(frozen=True, slots=True)
class DeliverySchedule:
    """When to try a delivery again, and when to give up (``Outbox(policy=...)``).

    Not a :class:`~activitypub_kit.storage.Worker` ``retry`` policy: that one is
    :class:`activitypub_kit.storage.RetryPolicy`, whose ``delay(attempts, error)`` the
    worker calls after a handler failure.

    ``delay(attempt)`` for the n-th failed attempt (1-based) is
    ``attempt**exponent + base`` seconds, plus up to ``jitter`` × ``attempt**exponent`` of
    random spread.  Retries stop once the sum of planned delays would pass ``horizon``
    (default two days) or ``max_attempts`` attempts have been made.
    """

    base: float = 15.0
    exponent: float = 4.0
    jitter: float = 0.5
    horizon: float = 2 * 24 * 3600.0
    max_attempts: int = 25
    #: Upper bound on a ``Retry-After`` the remote may impose, in seconds.
    max_retry_after: float = 6 * 3600.0

    def delay(
        self, attempt: int, *, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before attempt ``attempt + 1``, after ``attempt`` failures."""
        if attempt < 1:
            raise ValueError("attempt counts failures and starts at 1")
        step = math.pow(attempt, self.exponent)
        spread = (rng or random).random() * self.jitter * step
        planned = step + self.base + spread
        if retry_after is not None:
            return min(max(planned, retry_after), max(self.max_retry_after, planned))
        return planned

    def should_retry(self, attempt: int, elapsed: float) -> bool:
        """Whether to try again after ``attempt`` failures, ``elapsed`` seconds after the first."""
        return attempt < self.max_attempts and elapsed < self.horizon


RetryPolicy = DeliverySchedule
"""Deprecated alias of :class:`DeliverySchedule`, kept for one release.

Renamed because :class:`activitypub_kit.storage.RetryPolicy` is another class with an
incompatible ``delay()``; import ``DeliverySchedule`` instead.
"""

__all__ = [
    "Outcome",
    "RETRYABLE_4XX",
    "classify_status",
    "parse_retry_after",
    "DeliverySchedule",
    "RetryPolicy",
]

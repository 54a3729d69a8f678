"""Observability of delivery: counters, one structured log event per delivery, a metrics hook.

Every attempt's outcome becomes a :class:`DeliveryEvent`.  :class:`Observability` turns it
into

- a counter in :class:`DeliveryStats` (per process; the queue depth comes from the queue
  itself, see :meth:`~activitypub_kit.delivery.Outbox.metrics`);
- a log record on the ``activitypub_kit.delivery`` logger whose ``extra=`` fields are the
  event's (``delivery_outcome``, ``activity``, ``inbox``, ``host``, ``status``, ...):
  successes and circuit skips at DEBUG, retries at INFO, permanent failures at WARNING;
- a call to an optional :class:`DeliveryObserver`, for example
  :class:`OpenTelemetryObserver`, which feeds an OpenTelemetry meter and tracer given by the
  application (this module never imports ``opentelemetry``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Protocol

logger = logging.getLogger("activitypub_kit.delivery")


class DeliveryOutcome(StrEnum):
    """What happened to one delivery attempt (or the decision not to make one)."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    GONE = "gone"
    CIRCUIT_OPEN = "circuit_open"
    UNAVAILABLE = "unavailable"
    DEFERRED = "deferred"
    #: The block policy refused the inbox's host or its recipients: no request made.
    BLOCKED = "blocked"


_LEVELS = {
    DeliveryOutcome.SENT: logging.DEBUG,
    DeliveryOutcome.CIRCUIT_OPEN: logging.DEBUG,
    DeliveryOutcome.DEFERRED: logging.DEBUG,
    DeliveryOutcome.RETRY: logging.INFO,
    DeliveryOutcome.GONE: logging.INFO,
    DeliveryOutcome.BLOCKED: logging.INFO,
    DeliveryOutcome.FAILED: logging.WARNING,
    DeliveryOutcome.UNAVAILABLE: logging.WARNING,
}


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    """One delivery outcome, as logged and handed to observers."""

    outcome: DeliveryOutcome
    activity: str
    inbox: str
    host: str
    #: The HTTP status of the last POST (``None``: no answer, or no attempt made).
    status: int | None = None
    #: Why it failed (network error text, "retries exhausted", ...).
    error: str | None = None
    #: Which attempt this was for the inbox (1 = first).
    attempt: int = 1
    #: Seconds the POST(s) took (``None`` when none was made).
    duration: float | None = None
    #: The signature scheme used (``"draft-cavage"`` / ``"rfc9421"``).
    scheme: str | None = None
    #: For a retry or a deferral: seconds until the next attempt.
    retry_in: float | None = None


@dataclass(slots=True)
class DeliveryStats:
    """Counters since the outbox was created (one process)."""

    sent: int = 0
    retried: int = 0
    failed_permanently: int = 0
    gone: int = 0
    circuit_open_skips: int = 0
    unavailable_skips: int = 0
    deferred_for_order: int = 0
    #: Inboxes (or recipients behind a shared inbox) skipped by the block policy.
    blocked: int = 0
    fanouts: int = 0
    batches: int = 0
    #: HTTP requests made (a 400/401 answered by signing with the other scheme counts 2).
    requests: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)


_COUNTER = {
    DeliveryOutcome.SENT: "sent",
    DeliveryOutcome.RETRY: "retried",
    DeliveryOutcome.FAILED: "failed_permanently",
    DeliveryOutcome.GONE: "gone",
    DeliveryOutcome.CIRCUIT_OPEN: "circuit_open_skips",
    DeliveryOutcome.UNAVAILABLE: "unavailable_skips",
    DeliveryOutcome.DEFERRED: "deferred_for_order",
    DeliveryOutcome.BLOCKED: "blocked",
}


class DeliveryObserver(Protocol):
    """A hook for metrics and traces; every method is called synchronously and must not block."""

    def on_delivery(self, event: DeliveryEvent) -> None:
        """One delivery outcome."""
        ...

    def on_fanout(self, activity: str, inboxes: int, batches: int) -> None:
        """A fan-out was planned into ``inboxes`` targets spread over ``batches`` messages."""
        ...


class Observability:
    """Counts, logs and forwards :class:`DeliveryEvent` values (used by the outbox)."""

    def __init__(self, stats: DeliveryStats, observer: DeliveryObserver | None = None) -> None:
        self.stats = stats
        self.observer = observer

    def record(self, event: DeliveryEvent, *, requests: int = 0) -> None:
        """Count, log and forward one event."""
        stats = self.stats
        name = _COUNTER[event.outcome]
        setattr(stats, name, getattr(stats, name) + 1)
        stats.requests += requests
        level = _LEVELS[event.outcome]
        if logger.isEnabledFor(level):
            logger.log(
                level,
                "delivery %s: %s -> %s",
                event.outcome.value,
                event.activity,
                event.inbox,
                extra={
                    "delivery_outcome": event.outcome.value,
                    "activity": event.activity,
                    "inbox": event.inbox,
                    "host": event.host,
                    "status": event.status,
                    "error": event.error,
                    "attempt": event.attempt,
                    "duration": event.duration,
                    "scheme": event.scheme,
                    "retry_in": event.retry_in,
                },
            )
        if self.observer is not None:
            try:
                self.observer.on_delivery(event)
            except Exception:  # an observer bug must not break delivery
                logger.exception("delivery observer failed")

    def fanout(self, activity: str, inboxes: int, batches: int) -> None:
        """Count, log and forward one planned fan-out."""
        self.stats.fanouts += 1
        logger.info(
            "fan-out planned: %s to %d inboxes in %d batches",
            activity,
            inboxes,
            batches,
            extra={"activity": activity, "inboxes": inboxes, "batches": batches},
        )
        if self.observer is not None:
            try:
                self.observer.on_fanout(activity, inboxes, batches)
            except Exception:
                logger.exception("delivery observer failed")


class OpenTelemetryObserver:
    """Feed an OpenTelemetry ``Meter`` and/or ``Tracer`` (duck-typed; no import needed).

    Metrics: the counter ``activitypub_kit.delivery.outcomes`` (attribute ``outcome``,
    and ``status`` when there is one), the histogram ``activitypub_kit.delivery.duration``
    (seconds, for attempts that made a request) and the counter
    ``activitypub_kit.delivery.fanouts``.  Traces: one span ``activitypub_kit.delivery``
    per attempt that made a request, back-dated to the request's start, with the event's
    fields as attributes (``host`` rather than the full inbox URL, to keep cardinality low
    in metrics; spans carry the inbox too).
    """

    def __init__(self, meter: Any = None, tracer: Any = None, *, time_ns: Any = None) -> None:
        import time

        self.tracer = tracer
        self._time_ns = time_ns or time.time_ns
        self._outcomes = self._duration = self._fanouts = None
        if meter is not None:
            self._outcomes = meter.create_counter(
                "activitypub_kit.delivery.outcomes", unit="1", description="delivery outcomes"
            )
            self._duration = meter.create_histogram(
                "activitypub_kit.delivery.duration", unit="s", description="POST duration"
            )
            self._fanouts = meter.create_counter(
                "activitypub_kit.delivery.fanouts", unit="1", description="fan-outs planned"
            )

    def on_delivery(self, event: DeliveryEvent) -> None:
        """Count the outcome, record the duration, emit a span."""
        attributes: dict[str, Any] = {"outcome": event.outcome.value}
        if event.status is not None:
            attributes["status"] = event.status
        if self._outcomes is not None:
            self._outcomes.add(1, attributes)
        if event.duration is None:
            return
        if self._duration is not None:
            self._duration.record(event.duration, attributes)
        if self.tracer is not None:
            end = self._time_ns()
            span = self.tracer.start_span(
                "activitypub_kit.delivery",
                attributes=_span_attributes(event),
                start_time=end - int(event.duration * 1e9),
            )
            span.end(end_time=end)

    def on_fanout(self, activity: str, inboxes: int, batches: int) -> None:
        """Count the fan-out."""
        if self._fanouts is not None:
            self._fanouts.add(1, {})


def _span_attributes(event: DeliveryEvent) -> Mapping[str, Any]:
    fields = {
        "delivery.outcome": event.outcome.value,
        "delivery.activity": event.activity,
        "delivery.inbox": event.inbox,
        "server.address": event.host,
        "delivery.attempt": event.attempt,
        "http.response.status_code": event.status,
        "delivery.scheme": event.scheme,
        "error.type": event.error,
    }
    return {k: v for k, v in fields.items() if v is not None}


__all__ = [
    "DeliveryOutcome",
    "DeliveryEvent",
    "DeliveryStats",
    "DeliveryObserver",
    "Observability",
    "OpenTelemetryObserver",
]

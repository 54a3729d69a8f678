"""Delivery: batched per-instance fan-out, durable retries, circuit breaking.

The pipeline (see ``docs/delivery.md``)::

    outbox = Outbox(queue, store, HttpTransport(client, keys), resolver=followers, ...)
    await outbox.send(activity, key_ref="https://me.example/users/alice#main-key",
                      to=[{"followers": "alice"}])          # one queue message, returns at once
    worker = Worker(queue, outbox.handle)                     # anywhere, any number of them
    await worker.run()

- :mod:`~activitypub_kit.delivery._planning`: recipients -> one target per inbox;
- :mod:`~activitypub_kit.delivery._outbox`: the durable two-stage fan-out, retries, ordering;
- :mod:`~activitypub_kit.delivery._transport`: signed POSTs through the one HttpClient;
- :mod:`~activitypub_kit.delivery._retry`, :mod:`~activitypub_kit.delivery._health`: when to
  try again, circuit breaker and unavailable domains;
- :mod:`~activitypub_kit.delivery._observe`: counters, structured logs, a metrics hook;
- :mod:`~activitypub_kit.delivery._options`: every setting in one frozen
  :class:`DeliveryOptions` (what ``Federation(delivery=...)`` takes);
- :mod:`~activitypub_kit.delivery._failures`: why a delivery was given up, for the hooks.
"""

from activitypub_kit.delivery._failures import DeliveryFailure, DeliveryFailureEvent
from activitypub_kit.delivery._health import (
    Admission,
    CircuitBreaker,
    CircuitState,
    UnavailableDomains,
)
from activitypub_kit.delivery._hooks import DeliveryHooks, FailureHook, RecipientResolver
from activitypub_kit.delivery._known import HostInbox, KnownInboxes, StoreKnownInboxes
from activitypub_kit.delivery._observe import (
    DeliveryEvent,
    DeliveryObserver,
    DeliveryOutcome,
    DeliveryStats,
    OpenTelemetryObserver,
)
from activitypub_kit.delivery._options import BreakerOptions, DeliveryOptions, UnavailableOptions
from activitypub_kit.delivery._outbox import Outbox
from activitypub_kit.delivery._planning import (
    DeliveryPlan,
    InboxTarget,
    Recipient,
    SkipReason,
    Unresolved,
    inbox_host,
    plan_delivery,
    strip_hidden_recipients,
)
from activitypub_kit.delivery._retry import (
    RETRYABLE_4XX,
    DeliverySchedule,
    Outcome,
    RetryPolicy,  # deprecated alias of DeliverySchedule, for one release
    classify_status,
    parse_retry_after,
)
from activitypub_kit.delivery._transport import (
    ACTIVITY_CONTENT_TYPE,
    DeliveryResult,
    HttpTransport,
    SigningKeyResolver,
    Transport,
)

__all__ = [
    # sending
    "Outbox",
    "DeliveryOptions",
    "BreakerOptions",
    "UnavailableOptions",
    "DeliveryHooks",
    "FailureHook",
    "DeliveryFailure",
    "DeliveryFailureEvent",
    "RecipientResolver",
    "Transport",
    "HttpTransport",
    "SigningKeyResolver",
    "DeliveryResult",
    "ACTIVITY_CONTENT_TYPE",
    # planning
    "Recipient",
    "InboxTarget",
    "DeliveryPlan",
    "SkipReason",
    "Unresolved",
    "plan_delivery",
    "inbox_host",
    "strip_hidden_recipients",
    # known servers
    "KnownInboxes",
    "StoreKnownInboxes",
    "HostInbox",
    # retry and health
    "DeliverySchedule",
    "RetryPolicy",
    "Outcome",
    "RETRYABLE_4XX",
    "classify_status",
    "parse_retry_after",
    "CircuitBreaker",
    "CircuitState",
    "Admission",
    "UnavailableDomains",
    # observability
    "DeliveryStats",
    "DeliveryEvent",
    "DeliveryOutcome",
    "DeliveryObserver",
    "OpenTelemetryObserver",
]

"""The outbox's queue logic, driven step by step with an injected clock.

The HTTP edge is replaced by an in-process transport that records what it is asked to POST
and answers as each scripted host would; real HTTP sinks are exercised by the delivery
integration tests.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict

import pytest

from activitypub_kit.delivery._failures import DeliveryFailure
from activitypub_kit.delivery._health import CircuitBreaker
from activitypub_kit.delivery._outbox import DeliveryHooks, DeliveryResult, Outbox
from activitypub_kit.delivery._planning import Recipient
from activitypub_kit.delivery._retry import DeliverySchedule
from activitypub_kit.errors import DeliveryError
from activitypub_kit.storage._worker import RetryLater

pytestmark = pytest.mark.anyio


class ScriptedHosts:
    """Answers per host: a list of statuses consumed in order (then 202), or an error."""

    def __init__(self):
        self.script: dict[str, list[int | None]] = defaultdict(list)
        self.posts: list[tuple[str, dict]] = []

    async def deliver(self, inbox, body, *, body_sha256, key_ref):
        assert hashlib.sha256(body).digest() == body_sha256
        assert key_ref == "https://me.example/users/alice#main-key"
        host = inbox.split("/")[2]
        self.posts.append((inbox, json.loads(body)))
        answers = self.script[host]
        status = answers.pop(0) if answers else 202
        if status is None:
            return DeliveryResult(status=None, error="connection reset")
        return DeliveryResult(status=status, retry_after=30.0 if status == 503 else None)

    def count(self, host):
        return sum(1 for inbox, _ in self.posts if inbox.split("/")[2] == host)


class Followers:
    def __init__(self, recipients):
        self.recipients = recipients

    async def expand(self, audience):
        assert audience == {"followers": "alice"}
        for r in self.recipients:
            yield r


async def drain(outbox, queue, clock, *, until=None, max_rounds=10_000):
    """Handle every message that is or becomes due, advancing the fake clock as needed."""
    for _ in range(max_rounds):
        messages = await queue.receive(lease=300, max_messages=50)
        if not messages:
            stats = await queue.stats()
            if stats.depth == 0 or (until is not None and clock.now >= until):
                return
            clock.advance(5)
            continue
        for message in messages:
            try:
                await outbox.handle(message)
            except RetryLater as later:
                settled = await queue.nack(message, delay=later.delay)
            else:
                settled = await queue.ack(message)
            assert settled
    raise AssertionError("queue did not drain")


def follower(host: str, n: int) -> Recipient:
    return Recipient(
        id=f"https://{host}/users/u{n}",
        inbox=f"https://{host}/users/u{n}/inbox",
        shared_inbox=f"https://{host}/inbox",
    )


def create(n: int = 1, kind: str = "Create", note: int = 1) -> dict:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"https://me.example/activities/{kind.lower()}-{n}",
        "type": kind,
        "actor": "https://me.example/users/alice",
        "object": {"id": f"https://me.example/notes/{note}", "type": "Note", "content": "hi"},
        "bcc": ["https://secret.example/users/s"],
    }


@pytest.fixture
def hosts():
    return ScriptedHosts()


KEY = "https://me.example/users/alice#main-key"


async def test_send_enqueues_one_message_whatever_the_audience(queue, store, hosts, clock):
    outbox = Outbox(queue, store, hosts, resolver=Followers([]), clock=clock)
    await outbox.send(create(), key_ref=KEY, to=[{"followers": "alice"}])
    stats = await queue.stats()
    assert stats.depth == 1
    [message] = await queue.receive(lease=10)
    assert message.body["kind"] == "fanout"
    assert "PRIVATE KEY" not in json.dumps(message.body)
    assert hosts.posts == []


async def test_ten_thousand_followers_on_a_thousand_hosts(queue, store, hosts, clock):
    recipients = [follower(f"h{h}.example", n) for h in range(1000) for n in range(10)]
    outbox = Outbox(queue, store, hosts, resolver=Followers(recipients), clock=clock)
    await outbox.send(create(), key_ref=KEY, to=[{"followers": "alice"}])
    await drain(outbox, queue, clock)
    inboxes = [inbox for inbox, _ in hosts.posts]
    assert len(inboxes) == 1000
    assert set(inboxes) == {f"https://h{h}.example/inbox" for h in range(1000)}
    assert all("bcc" not in body for _, body in hosts.posts)
    assert outbox.stats.sent == 1000
    assert outbox.stats.batches <= outbox.shards


async def test_transient_failures_are_retried_until_delivered(queue, store, hosts, clock):
    hosts.script["flaky.example"] = [500, None, 503]
    outbox = Outbox(queue, store, hosts, clock=clock)
    await outbox.send(create(), key_ref=KEY, to=[follower("flaky.example", 1)])
    await drain(outbox, queue, clock)
    assert hosts.count("flaky.example") == 4
    assert outbox.stats.sent == 1
    assert outbox.stats.retried == 3
    assert [k async for k in store.list(("delivery", "pending"))] == []
    assert [k async for k in store.list(("delivery", "failures"))] == []


async def test_permanent_failure_reaches_the_hook_without_retry(queue, store, hosts, clock):
    failures = []

    async def on_failure(event):
        failures.append((event.inbox, event.status, event.recipients, event.reason))

    hosts.script["strict.example"] = [403]
    outbox = Outbox(queue, store, hosts, hooks=DeliveryHooks(on_failure=on_failure), clock=clock)
    await outbox.send(create(), key_ref=KEY, to=[follower("strict.example", 1)])
    await drain(outbox, queue, clock)
    assert hosts.count("strict.example") == 1
    assert failures == [
        (
            "https://strict.example/inbox",
            403,
            ("https://strict.example/users/u1",),
            DeliveryFailure.REFUSED,
        )
    ]


async def test_gone_personal_inbox_marks_the_recipient(queue, store, hosts, clock):
    gone, failed = [], []

    async def on_gone(event):
        gone.extend(event.recipients)

    async def on_failure(event):
        failed.append((event.reason, event.status, event.attempts))

    hooks = DeliveryHooks(on_gone=on_gone, on_failure=on_failure)
    hosts.script["old.example"] = [410]
    outbox = Outbox(queue, store, hosts, hooks=hooks, clock=clock)
    personal = Recipient(
        id="https://old.example/users/x", inbox="https://old.example/users/x/inbox"
    )
    await outbox.send(create(), key_ref=KEY, to=[personal])
    await drain(outbox, queue, clock)
    assert gone == ["https://old.example/users/x"]
    assert failed == [(DeliveryFailure.GONE, 410, 1)]


async def test_retries_stop_at_the_horizon(queue, store, hosts, clock):
    failures = []

    async def on_failure(event):
        failures.append((event.status, event.reason, event.attempts))

    hosts.script["down.example"] = [500] * 1000
    policy = DeliverySchedule(horizon=3600, jitter=0)
    outbox = Outbox(
        queue, store, hosts, policy=policy, hooks=DeliveryHooks(on_failure=on_failure), clock=clock
    )
    await outbox.send(create(), key_ref=KEY, to=[follower("down.example", 1)])
    await drain(outbox, queue, clock)
    attempts = hosts.count("down.example")
    # retries after 16, 31, 96, 271, 640, 1311, 2416 s: the 8th failure comes ~4,781 s after
    # the first, past the one-hour horizon, so it is the last attempt
    assert attempts == 8
    assert failures == [(500, DeliveryFailure.RETRIES_EXHAUSTED, 8)]


async def test_delete_never_overtakes_a_pending_create(queue, store, hosts, clock):
    hosts.script["slow.example"] = [503, 503]
    outbox = Outbox(queue, store, hosts, clock=clock)
    target = follower("slow.example", 1)
    await outbox.send(create(1, "Create"), key_ref=KEY, to=[target])
    await outbox.send(create(2, "Delete"), key_ref=KEY, to=[target])
    await drain(outbox, queue, clock)
    kinds = [body["type"] for inbox, body in hosts.posts if "slow.example" in inbox]
    assert kinds == ["Create", "Create", "Create", "Delete"]
    assert outbox.stats.deferred_for_order == 1
    assert [k async for k in store.list(("delivery", "pending"))] == []


async def test_open_circuit_holds_deliveries_without_counting_attempts(queue, store, hosts, clock):
    hosts.script["dead.example"] = [None] * 1000
    breaker = CircuitBreaker(store, failure_threshold=3, cooldown=600, clock=clock)
    outbox = Outbox(queue, store, hosts, breaker=breaker, clock=clock)
    for n in range(5):  # five different posts: no ordering between them
        await outbox.send(create(n, note=n), key_ref=KEY, to=[follower("dead.example", n)])
    await drain(outbox, queue, clock, until=clock.now + 590)
    # three failures open the circuit; nothing else reaches the host during the cooldown
    assert hosts.count("dead.example") == 3
    assert outbox.stats.circuit_open_skips >= 2


async def test_activity_without_id_is_refused(queue, store, hosts, clock):
    outbox = Outbox(queue, store, hosts, clock=clock)
    with pytest.raises(DeliveryError, match="string id"):
        await outbox.send({"type": "Create"}, key_ref=KEY, to=[])


async def test_foreign_message_is_refused(queue, store, hosts, clock):
    outbox = Outbox(queue, store, hosts, clock=clock)
    await queue.enqueue({"kind": "surprise"})
    [message] = await queue.receive(lease=10)
    with pytest.raises(DeliveryError, match="not a delivery message"):
        await outbox.handle(message)


async def test_local_recipients_reach_the_local_hook_not_the_network(queue, store, hosts, clock):
    handed = []

    async def on_local(activity, recipients):
        handed.append((activity, list(recipients)))

    outbox = Outbox(
        queue,
        store,
        hosts,
        hooks=DeliveryHooks(on_local=on_local),
        is_local=lambda url: url.startswith("https://me.example/"),
        clock=clock,
    )
    local = Recipient(
        id="https://me.example/users/dave", inbox="https://me.example/users/dave/inbox"
    )
    await outbox.send(create(), key_ref=KEY, to=[local, follower("remote.example", 1)])
    await drain(outbox, queue, clock)
    assert [inbox for inbox, _ in hosts.posts] == ["https://remote.example/inbox"]
    [(activity, recipients)] = handed
    assert recipients == ["https://me.example/users/dave"]
    assert activity["id"] == create()["id"]
    assert "bcc" not in activity

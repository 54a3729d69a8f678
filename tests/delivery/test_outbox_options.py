"""DeliveryOptions, a fixed outbox configuration, failure reasons, moderation at fan-out.

Driven step by step with the scripted in-process transport and a fake clock (see
``test_outbox``); the same behaviour over real HTTP is in
``tests/server/test_server_foundation.py``.
"""

from __future__ import annotations

import dataclasses
import logging

import pytest
from test_outbox import KEY, ScriptedHosts, create, drain, follower

from activitypub_kit.delivery import (
    BreakerOptions,
    CircuitBreaker,
    CircuitState,
    DeliveryFailure,
    DeliveryHooks,
    DeliveryOptions,
    DeliveryResult,
    DeliverySchedule,
    Outbox,
    Recipient,
    UnavailableDomains,
    UnavailableOptions,
    Unresolved,
)

pytestmark = pytest.mark.anyio


class Events:
    """Collects what ``on_failure`` / ``on_gone`` receive."""

    def __init__(self):
        self.failed, self.gone = [], []

    async def on_failure(self, event):
        self.failed.append(event)

    async def on_gone(self, event):
        self.gone.append(event)

    def hooks(self, **extra):
        return DeliveryHooks(on_failure=self.on_failure, on_gone=self.on_gone, **extra)

    def reasons(self):
        return sorted((e.reason.value, e.inbox or e.recipients[0]) for e in self.failed)


async def test_an_outbox_refuses_a_setting_changed_after_construction(queue, store, clock):
    outbox = Outbox(queue, store, ScriptedHosts(), clock=clock)
    for name, value in [
        ("breaker", CircuitBreaker(store)),
        ("domains", UnavailableDomains(store)),
        ("policy", DeliverySchedule(max_attempts=1)),
        ("per_host_limit", 1),
        ("is_blocked", lambda host: True),
    ]:
        with pytest.raises(AttributeError, match="fixed once the outbox is built"):
            setattr(outbox, name, value)
    assert outbox.breaker is None  # unchanged
    # a new outbox is the way to change one
    changed = dataclasses.replace(outbox, per_host_limit=1)
    assert changed.per_host_limit == 1
    assert outbox.per_host_limit == 4


def test_delivery_options_are_frozen_and_checked():
    options = DeliveryOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.shards = 2  # type: ignore[misc]
    with pytest.raises(ValueError, match="shards"):
        DeliveryOptions(shards=0)
    with pytest.raises(ValueError, match="failure_threshold"):
        BreakerOptions(failure_threshold=0)
    with pytest.raises(ValueError, match="days_threshold"):
        UnavailableOptions(days_threshold=0)


async def test_from_options_wires_every_setting(queue, store, clock):
    options = DeliveryOptions(
        schedule=DeliverySchedule(max_attempts=3, jitter=0),
        breaker=BreakerOptions(failure_threshold=2, cooldown=900),
        unavailable=UnavailableOptions(days_threshold=3, unavailable_ttl=60),
        shards=8,
        batch_size=16,
        global_limit=7,
        per_host_limit=2,
        health_cache_ttl=0.5,
        clock=clock,
    )
    hosts = ScriptedHosts()
    outbox = Outbox.from_options(queue, store, hosts, options)
    assert outbox.policy is options.schedule
    assert (outbox.shards, outbox.batch_size, outbox.global_limit) == (8, 16, 7)
    assert (outbox.per_host_limit, outbox.health_cache_ttl) == (2, 0.5)
    assert outbox.breaker is not None
    assert outbox.breaker.store is store
    assert (outbox.breaker.failure_threshold, outbox.breaker.cooldown) == (2, 900)
    assert outbox.domains is not None
    assert outbox.domains.days_threshold == 3
    # and they act: two failures open the circuit, the schedule stops after 3 attempts
    hosts.script["down.example"] = [500] * 10
    await outbox.send(create(), key_ref=KEY, to=[follower("down.example", 1)])
    await drain(outbox, queue, clock, until=clock.now + 800)
    assert hosts.count("down.example") == 2
    assert (await outbox.breaker.admit("down.example")).state is CircuitState.OPEN
    off = Outbox.from_options(queue, store, hosts, DeliveryOptions(breaker=None, unavailable=None))
    assert off.breaker is None
    assert off.domains is None


async def test_every_reason_reaches_on_failure(queue, store, clock):
    class Transport(ScriptedHosts):
        async def deliver(self, inbox, body, *, body_sha256, key_ref):
            if "refused-url" in inbox:  # what HttpTransport says of an SSRF-refused URL
                self.posts.append((inbox, {}))
                return DeliveryResult(None, error="address refused", permanent=True)
            return await super().deliver(inbox, body, body_sha256=body_sha256, key_ref=key_ref)

    class Audience:
        async def expand(self, audience):
            yield Unresolved("https://lost.example/users/x", "HttpStatusError: 404")
            yield follower("strict.example", 1)

    events = Events()
    hosts = Transport()
    hosts.script["strict.example"] = [403]
    hosts.script["flaky.example"] = [500] * 10
    hosts.script["gone.example"] = [410]
    hosts.script["shared-gone.example"] = [410]
    outbox = Outbox(
        queue, store, hosts, resolver=Audience(), hooks=events.hooks(), clock=clock,
        policy=DeliverySchedule(max_attempts=2, jitter=0),
    )  # fmt: skip
    personal = Recipient("https://gone.example/users/g", inbox="https://gone.example/users/g/inbox")
    to = [
        {"followers": "alice"},
        follower("flaky.example", 1),
        personal,
        follower("shared-gone.example", 1),
        Recipient("https://refused-url.example/users/r", inbox="https://refused-url.example/in"),
        Recipient("https://no-inbox.example/users/n"),
        Recipient("https://bad.example/users/b", inbox="ftp://bad.example/inbox"),
    ]
    await outbox.send(create(), key_ref=KEY, to=to)
    await drain(outbox, queue, clock)
    assert events.reasons() == [
        ("gone", "https://gone.example/users/g/inbox"),
        ("gone", "https://shared-gone.example/inbox"),
        ("invalid_inbox", "https://bad.example/users/b"),
        ("invalid_inbox", "https://no-inbox.example/users/n"),
        ("invalid_inbox", "https://refused-url.example/in"),
        ("refused", "https://strict.example/inbox"),
        ("retries_exhausted", "https://flaky.example/inbox"),
        ("unresolved", "https://lost.example/users/x"),
    ]
    by_reason = {e.reason: e for e in events.failed}
    assert by_reason[DeliveryFailure.RETRIES_EXHAUSTED].attempts == 2
    assert by_reason[DeliveryFailure.RETRIES_EXHAUSTED].status == 500
    assert by_reason[DeliveryFailure.REFUSED].status == 403
    assert by_reason[DeliveryFailure.UNRESOLVED].error == "HttpStatusError: 404"
    # only the personal inbox's recipients are gone
    assert [e.recipients for e in events.gone] == [("https://gone.example/users/g",)]
    assert outbox.stats.failed_permanently == 7  # every failure but the personal 410


async def test_an_open_circuit_gives_up_at_the_horizon(queue, store, clock):
    events = Events()
    hosts = ScriptedHosts()
    hosts.script["dead.example"] = [None] * 10
    breaker = CircuitBreaker(store, failure_threshold=1, cooldown=7200, clock=clock)
    outbox = Outbox(
        queue, store, hosts, breaker=breaker, hooks=events.hooks(), clock=clock,
        policy=DeliverySchedule(horizon=3600, jitter=0),
    )  # fmt: skip
    await outbox.send(create(), key_ref=KEY, to=[follower("dead.example", 1)])
    await drain(outbox, queue, clock)
    assert hosts.count("dead.example") == 1
    [event] = events.failed
    assert event.reason is DeliveryFailure.CIRCUIT_OPEN
    assert event.attempts == 1
    assert event.inbox == "https://dead.example/inbox"


async def test_blocked_hosts_and_actors_get_no_request(queue, store, clock):
    blocked_hosts, asked = {"evil.example"}, []

    async def host_blocked(host):  # async, like a database lookup
        asked.append(host)
        return host in blocked_hosts

    events = Events()
    hosts = ScriptedHosts()
    outbox = Outbox(
        queue, store, hosts, hooks=events.hooks(), clock=clock,
        is_blocked=host_blocked,
        is_blocked_actor=lambda actor: actor.endswith("/troll"),
    )  # fmt: skip
    troll = Recipient(
        "https://ok.example/users/troll",
        inbox="https://ok.example/users/troll/inbox",
        shared_inbox="https://ok.example/inbox",
    )
    lone_troll = Recipient("https://other.example/troll", inbox="https://other.example/t/inbox")
    to = [
        follower("evil.example", 1),
        follower("evil.example", 2),
        follower("ok.example", 1),
        troll,
        lone_troll,
    ]
    await outbox.send(create(), key_ref=KEY, to=to)
    await drain(outbox, queue, clock)
    # ok.example's shared inbox still gets it, for u1 only; nothing else is requested
    assert [inbox for inbox, _ in hosts.posts] == ["https://ok.example/inbox"]
    assert sorted(set(asked)) == ["evil.example", "ok.example", "other.example"]
    assert len(asked) == 3  # each host asked once
    assert outbox.stats.blocked == 3
    assert sorted((e.reason, e.inbox, e.recipients) for e in events.failed) == [
        (DeliveryFailure.BLOCKED, "https://evil.example/inbox", (
            "https://evil.example/users/u1", "https://evil.example/users/u2",
        )),
        (DeliveryFailure.BLOCKED, "https://ok.example/inbox", ("https://ok.example/users/troll",)),
        (DeliveryFailure.BLOCKED, "https://other.example/t/inbox", (lone_troll.id,)),
    ]  # fmt: skip


async def test_a_retry_chain_stops_when_its_host_gets_blocked(queue, store, clock):
    blocked: set[str] = set()
    events = Events()
    hosts = ScriptedHosts()
    hosts.script["soon-blocked.example"] = [500] * 10
    outbox = Outbox(
        queue, store, hosts, hooks=events.hooks(), clock=clock,
        is_blocked=lambda host: host in blocked,
    )  # fmt: skip
    await outbox.send(create(), key_ref=KEY, to=[follower("soon-blocked.example", 1)])
    await drain(outbox, queue, clock, until=clock.now + 1)  # the first attempt fails
    assert hosts.count("soon-blocked.example") == 1
    blocked.add("soon-blocked.example")
    await drain(outbox, queue, clock)
    assert hosts.count("soon-blocked.example") == 1
    [event] = events.failed
    assert (event.reason, event.attempts) == (DeliveryFailure.BLOCKED, 1)
    assert [k async for k in store.list(("delivery", "pending"))] == []


async def test_a_failing_hook_is_logged_and_does_not_redo_the_batch(queue, store, clock, caplog):
    async def on_failure(event):
        raise RuntimeError("hook bug")

    hosts = ScriptedHosts()
    hosts.script["strict.example"] = [403]
    outbox = Outbox(queue, store, hosts, hooks=DeliveryHooks(on_failure=on_failure), clock=clock)
    with caplog.at_level(logging.ERROR, logger="activitypub_kit.delivery"):
        await outbox.send(
            create(), key_ref=KEY, to=[follower("strict.example", 1), follower("ok.example", 1)]
        )
        await drain(outbox, queue, clock)
    assert hosts.count("ok.example") == 1
    assert hosts.count("strict.example") == 1
    [record] = [r for r in caplog.records if "delivery hook failed" in r.getMessage()]
    assert record.exc_info is not None
    assert "hook bug" in str(record.exc_info[1])


async def test_record_inbound_makes_an_unavailable_host_available(queue, store, clock):
    class CountingStore:
        def __init__(self, inner):
            self.inner, self.deletes = inner, 0

        def __getattr__(self, name):
            return getattr(self.inner, name)

        async def delete(self, key):
            self.deletes += 1
            await self.inner.delete(key)

    counting = CountingStore(store)
    domains = UnavailableDomains(counting, days_threshold=1, clock=clock)
    outbox = Outbox(queue, counting, ScriptedHosts(), domains=domains, clock=clock)
    await outbox.record_inbound("healthy.example")
    assert counting.deletes == 0  # no state, no store write
    assert await domains.record_failure("down.example")  # one failing day: unavailable
    clock.advance(outbox.health_cache_ttl)
    await outbox.record_inbound("down.example")
    assert await domains.is_available("down.example")
    assert [k async for k in store.list(("delivery", "unavailable"))] == []

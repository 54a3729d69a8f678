"""The outbox with the unavailable-domain tracker and the in-process health picture."""

from __future__ import annotations

import pytest
from test_outbox import KEY, ScriptedHosts, create, drain, follower

from activitypub_kit.delivery import (
    CircuitBreaker,
    DeliveryFailure,
    DeliveryHooks,
    Outbox,
    UnavailableDomains,
)

pytestmark = pytest.mark.anyio


async def test_unavailable_host_is_skipped_until_it_comes_back(queue, store, clock):
    failures = []

    async def on_failure(event):
        failures.append((event.inbox, event.activity, event.reason))

    hosts = ScriptedHosts()
    hosts.script["gone.example"] = [None] * 3  # fails today, then is reachable again
    domains = UnavailableDomains(store, days_threshold=1, clock=clock)
    policy_hooks = DeliveryHooks(on_failure=on_failure)
    outbox = Outbox(queue, store, hosts, domains=domains, hooks=policy_hooks, clock=clock)
    await outbox.send(create(1, note=1), key_ref=KEY, to=[follower("gone.example", 1)])
    await drain(outbox, queue, clock)
    # one failure on one day marks it unavailable: the pending retry gives up without a POST
    assert hosts.count("gone.example") == 1
    assert not await domains.is_available("gone.example")
    await outbox.send(create(2, note=2), key_ref=KEY, to=[follower("gone.example", 1)])
    await drain(outbox, queue, clock)
    assert hosts.count("gone.example") == 1
    assert outbox.stats.unavailable_skips == 2
    assert [(a, r) for _, a, r in failures] == [
        (create(1)["id"], DeliveryFailure.HOST_UNAVAILABLE),
        (create(2)["id"], DeliveryFailure.HOST_UNAVAILABLE),
    ]
    # an inbound request from the host (the server calls record_success) brings it back
    await domains.record_success("gone.example")
    clock.advance(outbox.health_cache_ttl)  # the in-process picture is refreshed
    hosts.script["gone.example"] = []
    await outbox.send(create(3, note=3), key_ref=KEY, to=[follower("gone.example", 1)])
    await drain(outbox, queue, clock)
    assert hosts.count("gone.example") == 2


async def test_a_recovered_host_forgets_its_failure_days(queue, store, clock):
    hosts = ScriptedHosts()
    hosts.script["wobbly.example"] = [500]
    domains = UnavailableDomains(store, days_threshold=2, clock=clock)
    breaker = CircuitBreaker(store, failure_threshold=5, clock=clock)
    outbox = Outbox(queue, store, hosts, domains=domains, breaker=breaker, clock=clock)
    await outbox.send(create(), key_ref=KEY, to=[follower("wobbly.example", 1)])
    await drain(outbox, queue, clock)
    assert hosts.count("wobbly.example") == 2  # failed, then delivered on retry
    assert [k async for k in store.list(("delivery", "unavailable"))] == []
    assert [k async for k in store.list(("delivery", "circuit"))] == []


async def test_healthy_hosts_cost_no_health_reads(queue, store, clock):
    class CountingStore:
        """Counts reads of host-health keys going through the outbox's store."""

        def __init__(self, inner):
            self.inner, self.health_reads = inner, 0

        def __getattr__(self, name):
            return getattr(self.inner, name)

        async def get(self, key):
            if key[:2] in (("delivery", "circuit"), ("delivery", "unavailable")):
                self.health_reads += 1
            return await self.inner.get(key)

    counting = CountingStore(store)
    hosts = ScriptedHosts()
    outbox = Outbox(
        queue, counting, hosts, clock=clock,
        breaker=CircuitBreaker(counting, clock=clock),
        domains=UnavailableDomains(counting, clock=clock),
    )  # fmt: skip
    await outbox.send(create(), key_ref=KEY, to=[follower(f"h{n}.example", 1) for n in range(50)])
    await drain(outbox, queue, clock)
    assert outbox.stats.sent == 50
    assert counting.health_reads == 0

import pytest

from activitypub_kit.delivery._health import CircuitBreaker, CircuitState, UnavailableDomains

pytestmark = pytest.mark.anyio


async def test_breaker_opens_after_threshold_and_probes_once(kv, clock):
    breaker = CircuitBreaker(kv, failure_threshold=3, cooldown=60, clock=clock)
    for _ in range(2):
        assert (await breaker.admit("h.example")).allowed
        assert await breaker.record_failure("h.example") is CircuitState.CLOSED
    assert await breaker.record_failure("h.example") is CircuitState.OPEN
    refused = await breaker.admit("h.example")
    assert not refused.allowed
    assert refused.state is CircuitState.OPEN
    assert refused.retry_at == clock.now + 60
    clock.advance(60)
    probe = await breaker.admit("h.example")
    assert probe.allowed
    assert probe.state is CircuitState.HALF_OPEN
    assert not (await breaker.admit("h.example")).allowed  # only one probe at a time
    await breaker.record_success("h.example")
    assert (await breaker.admit("h.example")).state is CircuitState.CLOSED


async def test_failed_probe_reopens_for_twice_as_long(kv, clock):
    breaker = CircuitBreaker(kv, failure_threshold=1, cooldown=10, max_cooldown=25, clock=clock)
    await breaker.record_failure("h")
    clock.advance(10)
    assert (await breaker.admit("h")).allowed
    assert await breaker.record_failure("h") is CircuitState.OPEN
    assert (await breaker.admit("h")).retry_at == clock.now + 20
    clock.advance(20)
    assert (await breaker.admit("h")).allowed
    await breaker.record_failure("h")
    assert (await breaker.admit("h")).retry_at == clock.now + 25  # capped


async def test_stuck_probe_is_released_after_its_timeout(kv, clock):
    breaker = CircuitBreaker(kv, failure_threshold=1, cooldown=5, probe_timeout=30, clock=clock)
    await breaker.record_failure("h")
    clock.advance(5)
    assert (await breaker.admit("h")).allowed
    clock.advance(29)
    assert not (await breaker.admit("h")).allowed
    clock.advance(1)
    assert (await breaker.admit("h")).allowed


async def test_breaker_state_always_expires(kv, clock):
    breaker = CircuitBreaker(kv, failure_threshold=1, state_ttl=100, clock=clock)
    for n in range(50):
        await breaker.record_failure(f"dead{n}.example")
    assert len([k async for k in kv.list(("delivery",))]) == 50
    clock.advance(99)
    assert len([k async for k in kv.list(("delivery",))]) == 50
    clock.advance(1)
    assert [k async for k in kv.list(("delivery",))] == []


async def test_host_unavailable_after_failures_on_distinct_days(kv, clock):
    domains = UnavailableDomains(kv, days_threshold=3, clock=clock)
    for _ in range(10):  # many failures on one day count once
        assert not await domains.record_failure("gone.example")
    clock.advance(86400)
    assert not await domains.record_failure("gone.example")
    assert await domains.is_available("gone.example")
    clock.advance(86400)
    assert await domains.record_failure("gone.example")
    assert not await domains.is_available("gone.example")
    assert await domains.is_available("other.example")
    await domains.record_success("gone.example")
    assert await domains.is_available("gone.example")
    clock.advance(86400)
    assert not await domains.record_failure("gone.example")  # the count started over
    for _ in range(3):
        await domains.record_failure("forever.example")
        clock.advance(86400)
    assert not await domains.is_available("forever.example")
    clock.advance(31 * 86400)  # every trace of a host expires eventually
    assert [k async for k in kv.list(("delivery",))] == []

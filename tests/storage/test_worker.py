"""The Worker on every backend: concurrency, retries, timeouts, lease renewal, shutdown."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from activitypub_kit.delivery import DeliverySchedule
from activitypub_kit.storage import (
    MemoryQueue,
    Message,
    MessageQueue,
    RetryLater,
    RetryPolicy,
    Worker,
)
from activitypub_kit.testing import FakeClock, wait_until

pytestmark = pytest.mark.anyio


class CountingQueue:
    """A real queue whose lease renewals are counted (every call goes to the queue)."""

    def __init__(self, inner: MessageQueue) -> None:
        self.inner = inner
        self.extends = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def extend(self, message: Message, *, lease: float) -> bool:
        self.extends += 1
        return await self.inner.extend(message, lease=lease)


async def test_concurrency_limit_and_all_handled(queue_factory: Any) -> None:
    queue = await queue_factory()
    ids = {await queue.enqueue(n) for n in range(10)}
    gate = anyio.Event()
    active = 0
    most = 0
    handled: list[str] = []

    async def handler(message: Message) -> None:
        nonlocal active, most
        active += 1
        most = max(most, active)
        await gate.wait()
        handled.append(message.id)
        active -= 1

    worker = Worker(queue, handler, concurrency=3, lease=30, poll_wait=0.05)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)

        async def three_running() -> bool:
            return active == 3

        await wait_until(three_running)
        assert (await queue.stats()).leased == 3
        gate.set()

        async def all_done() -> bool:
            return len(handled) == 10

        await wait_until(all_done)
        await worker.stop()
    assert most == 3
    assert set(handled) == ids
    assert worker.stats.handled == 10
    assert (await queue.stats()).depth == 0


async def test_failures_are_retried_then_dead_lettered(queue_factory: Any) -> None:
    clock = FakeClock()
    queue = await queue_factory(clock=clock)
    await queue.enqueue({"inbox": "https://remote.example/inbox"})
    calls: list[int] = []

    async def handler(message: Message) -> None:
        calls.append(message.attempts)
        raise RuntimeError("503 from remote")

    policy = RetryPolicy(max_attempts=2, initial=30)
    worker = Worker(queue, handler, lease=60, poll_wait=0.05, retry=policy)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)

        async def retried() -> bool:
            return worker.stats.retried == 1

        await wait_until(retried)
        assert (await queue.stats()).ready == 0  # waiting out the 30 s retry delay
        clock.advance(31)

        async def dead() -> bool:
            return worker.stats.dead_lettered == 1

        await wait_until(dead)
        await worker.stop()
    assert calls == [1, 2]
    (letter,) = await queue.dead_letters()
    assert letter.reason == "gave up after 2 attempts: RuntimeError: 503 from remote"
    assert (await queue.stats()).depth == 0


async def test_handler_timeout(queue_factory: Any) -> None:
    queue = await queue_factory()
    await queue.enqueue("hangs")

    async def handler(message: Message) -> None:
        await anyio.sleep_forever()

    policy = RetryPolicy(max_attempts=1)
    worker = Worker(queue, handler, handler_timeout=0.1, poll_wait=0.05, retry=policy)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)

        async def dead() -> bool:
            return worker.stats.dead_lettered == 1

        await wait_until(dead)
        await worker.stop()
    (letter,) = await queue.dead_letters()
    assert "timed out after 0.1 s" in letter.reason


async def test_long_handler_keeps_its_lease(queue_factory: Any) -> None:
    queue = CountingQueue(await queue_factory())
    other = await queue_factory()
    mid = await queue.enqueue("slow")
    gate = anyio.Event()
    seen: list[Message] = []

    async def handler(message: Message) -> None:
        seen.append(message)
        await gate.wait()

    worker = Worker(queue, handler, lease=0.3, poll_wait=0.05)  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)

        async def renewed_past_the_lease() -> bool:
            return queue.extends >= 5  # renewed every 0.1 s: the 0.3 s lease is long over

        await wait_until(renewed_past_the_lease)
        assert await other.receive(lease=10) == []  # still leased to the worker
        gate.set()

        async def done() -> bool:
            return worker.stats.handled == 1

        await wait_until(done)
        await worker.stop()
    assert [(m.id, m.attempts) for m in seen] == [(mid, 1)]
    assert (await queue.stats()).depth == 0


async def test_graceful_stop_finishes_in_flight_messages(queue_factory: Any) -> None:
    queue = await queue_factory()
    await queue.enqueue("in flight")
    gate = anyio.Event()
    started = anyio.Event()

    async def handler(message: Message) -> None:
        started.set()
        await gate.wait()

    worker = Worker(queue, handler, lease=30, poll_wait=0.05)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        await started.wait()
        tg.start_soon(worker.stop)
        await queue.enqueue("arrives during shutdown")
        gate.set()
    assert worker.stats.handled == 1
    stats = await queue.stats()
    assert (stats.depth, stats.ready, stats.leased) == (1, 1, 0)


async def test_stop_after_grace_releases_in_flight_messages(queue_factory: Any) -> None:
    queue = await queue_factory()
    other = await queue_factory()
    mid = await queue.enqueue("stuck")
    started = anyio.Event()

    async def handler(message: Message) -> None:
        started.set()
        await anyio.sleep_forever()

    worker = Worker(queue, handler, lease=60, poll_wait=0.05)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        await started.wait()
        await worker.stop(grace=0.05)
    assert worker.stats.released == 1
    (again,) = await other.receive(lease=10, wait=5)
    assert (again.id, again.attempts) == (mid, 2)


async def test_message_that_keeps_losing_its_lease_is_dead_lettered(
    queue_factory: Any,
) -> None:
    clock = FakeClock()
    queue = await queue_factory(clock=clock)
    await queue.enqueue("crashes its worker")
    (first,) = await queue.receive(lease=10)  # a worker took it and died
    clock.advance(11)
    calls: list[Message] = []

    async def handler(message: Message) -> None:
        calls.append(message)

    worker = Worker(queue, handler, poll_wait=0.05, max_deliveries=1)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)

        async def dead() -> bool:
            return worker.stats.dead_lettered == 1

        await wait_until(dead)
        await worker.stop()
    assert calls == []
    (letter,) = await queue.dead_letters()
    assert (letter.id, letter.reason) == (first.id, "delivered 2 times without being acked")


async def test_retry_later_keeps_the_place_and_skips_the_policy(queue_factory: Any) -> None:
    clock = FakeClock()
    queue = await queue_factory(clock=clock)
    await queue.enqueue("first", ordering_key="host")
    await queue.enqueue("second", ordering_key="host")
    seen: list[tuple[Any, int]] = []

    async def handler(message: Message) -> None:
        seen.append((message.body, message.attempts))
        if message.body == "first" and message.attempts < 3:
            raise RetryLater(600, "429 Too Many Requests")

    # max_attempts=1: a *failure* would dead-letter at once; RetryLater is not a failure.
    worker = Worker(queue, handler, poll_wait=0.05, retry=RetryPolicy(max_attempts=1))
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        for expected in (1, 2):

            async def asked_later(expected: int = expected) -> bool:
                return worker.stats.retried_later == expected

            await wait_until(asked_later)
            assert (await queue.stats()).ready == 0  # "second" waits behind "first"
            clock.advance(600)

        async def both_done() -> bool:
            return worker.stats.handled == 2

        await wait_until(both_done)
        await worker.stop()
    assert seen == [("first", 1), ("first", 2), ("first", 3), ("second", 1)]
    assert worker.stats.dead_lettered == 0


async def _ok(message: Message) -> None:
    return None


async def test_a_delivery_schedule_is_refused_at_construction() -> None:
    # Its delay(attempt, *, retry_after=...) cannot take (attempts, error): before, the
    # worker was built and died with a TypeError at the first handler failure.
    with pytest.raises(TypeError, match=r"retry=.*delay\(attempts, error\).*DeliverySchedule"):
        Worker(MemoryQueue(), _ok, retry=DeliverySchedule())  # type: ignore[arg-type]


@pytest.mark.parametrize("retry", [5, "16", lambda attempts, error: 1.0])
async def test_a_retry_without_a_usable_delay_is_refused(retry: Any) -> None:
    with pytest.raises(TypeError, match="FailurePolicy"):
        Worker(MemoryQueue(), _ok, retry=retry)


async def test_any_object_with_the_failure_policy_shape_is_accepted() -> None:
    class Fixed:
        def delay(self, attempts: int, error: BaseException | None = None) -> float | None:
            return 1.0

    class Loose:
        def delay(self, *args: Any, **kwargs: Any) -> float | None:
            return None

    for policy in (Fixed(), Loose(), RetryPolicy(max_attempts=3)):
        assert Worker(MemoryQueue(), _ok, retry=policy).retry is policy

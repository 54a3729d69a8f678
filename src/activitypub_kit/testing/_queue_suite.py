"""The conformance suite every :class:`~activitypub_kit.storage.MessageQueue` must pass.

Subclass :class:`QueueConformance` in a test module and provide a ``queue_factory`` fixture::

    class TestMyQueue(QueueConformance):
        @pytest.fixture
        async def queue_factory(self):
            handles = []

            async def make(*, clock, max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES,
                           dedup_window=DEFAULT_DEDUP_WINDOW):
                queue = MyQueue(..., clock=clock, max_message_bytes=max_message_bytes,
                                dedup_window=dedup_window)
                handles.append(queue)
                return queue

            yield make
            for queue in handles:
                await queue.aclose()
            ...  # drop the test's data

Every call of ``make`` within one test must return a handle on the *same* queue (as two
processes would have); the fixture cleans up after the test.  The ``clock`` must drive
leases, delays and message ages; deduplication windows may use real time instead.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from activitypub_kit.errors import (
    InvalidArgumentError,
    InvalidKeyError,
    MessageTooLargeError,
    SerializationError,
    StorageClosedError,
)
from activitypub_kit.storage._base import MessageQueue, Outgoing
from activitypub_kit.testing._clock import FakeClock, wait_until

QueueFactory = Callable[..., Awaitable[MessageQueue]]

SAMPLES: list[Any] = [
    None,
    True,
    0,
    -(2**62),
    1.5,
    "",
    'héllo \u2603 \U0001f600 \\ " \x00',
    [],
    {},
    {"type": "Create", "object": {"content": "<p>hi</p>", "tag": [1, [2, {"a": None}]]}},
]


class QueueConformance:
    """Behaviour shared by every message queue backend (see the module docstring)."""

    @pytest.fixture
    def anyio_backend(self) -> str:
        """The suite runs on asyncio (the PostgreSQL and Redis drivers need it)."""
        return "asyncio"

    @pytest.fixture
    def clock(self) -> FakeClock:
        """The fake clock handed to every queue of a test."""
        return FakeClock()

    @pytest.fixture
    async def queue(self, queue_factory: QueueFactory, clock: FakeClock) -> MessageQueue:
        """A handle on the test's queue."""
        return await queue_factory(clock=clock)

    # --- basics ----------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_round_trip_keeps_every_json_value(self, queue: MessageQueue) -> None:
        """Round trip keeps every json value."""
        ids = [await queue.enqueue(value) for value in SAMPLES]
        assert all(isinstance(i, str) for i in ids)
        assert len(set(ids)) == len(ids)
        got = await queue.receive(lease=30, max_messages=len(SAMPLES))
        assert [m.id for m in got] == ids
        assert [m.body for m in got] == SAMPLES
        assert all(m.attempts == 1 and m.ordering_key is None for m in got)
        for message in got:
            assert await queue.ack(message)
        assert await queue.receive(lease=30) == []
        assert (await queue.stats()).depth == 0

    @pytest.mark.anyio
    async def test_first_in_first_out_and_max_messages(self, queue: MessageQueue) -> None:
        """First in first out and max messages."""
        ids = [await queue.enqueue({"n": n}) for n in range(5)]
        first = await queue.receive(lease=30, max_messages=2)
        assert [m.id for m in first] == ids[:2]
        rest = await queue.receive(lease=30, max_messages=10)
        assert [m.id for m in rest] == ids[2:]

    @pytest.mark.anyio
    async def test_body_is_a_fresh_copy(self, queue: MessageQueue) -> None:
        """Body is a fresh copy."""
        body = {"list": [1, 2]}
        await queue.enqueue(body)
        body["list"].append(3)
        (message,) = await queue.receive(lease=30)
        assert message.body == {"list": [1, 2]}

    # --- leases ----------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_a_leased_message_is_invisible(self, queue: MessageQueue) -> None:
        """A leased message is invisible."""
        await queue.enqueue("x")
        assert len(await queue.receive(lease=30)) == 1
        assert await queue.receive(lease=30) == []
        stats = await queue.stats()
        assert (stats.depth, stats.ready, stats.leased) == (1, 0, 1)

    @pytest.mark.anyio
    async def test_expired_lease_makes_the_message_visible_again(
        self, queue: MessageQueue, clock: FakeClock
    ) -> None:
        """Expired lease makes the message visible again."""
        await queue.enqueue("x")
        (first,) = await queue.receive(lease=10)
        clock.advance(9)
        assert await queue.receive(lease=10) == []
        clock.advance(2)
        (second,) = await queue.receive(lease=10)
        assert second.id == first.id
        assert second.attempts == 2
        assert second.lease_token != first.lease_token
        # The first consumer lost its lease: it can no longer settle the message.
        assert not await queue.ack(first)
        assert not await queue.nack(first)
        assert not await queue.extend(first, lease=10)
        assert not await queue.dead_letter(first, reason="late")
        assert await queue.ack(second)
        assert (await queue.stats()).depth == 0

    @pytest.mark.anyio
    async def test_extend_keeps_the_lease(self, queue: MessageQueue, clock: FakeClock) -> None:
        """Extend keeps the lease."""
        await queue.enqueue("x")
        (message,) = await queue.receive(lease=10)
        clock.advance(8)
        assert await queue.extend(message, lease=10)
        clock.advance(8)
        assert await queue.receive(lease=10) == []
        clock.advance(3)
        (again,) = await queue.receive(lease=10)
        assert again.id == message.id

    @pytest.mark.anyio
    async def test_ack_twice_is_refused(self, queue: MessageQueue) -> None:
        """Ack twice is refused."""
        await queue.enqueue("x")
        (message,) = await queue.receive(lease=30)
        assert await queue.ack(message)
        assert not await queue.ack(message)

    @pytest.mark.anyio
    async def test_nack_releases_now_or_after_a_delay(
        self, queue: MessageQueue, clock: FakeClock
    ) -> None:
        """Nack releases now or after a delay."""
        await queue.enqueue("x")
        (message,) = await queue.receive(lease=30)
        assert await queue.nack(message)
        (again,) = await queue.receive(lease=30)
        assert again.attempts == 2
        assert await queue.nack(again, delay=60)
        assert await queue.receive(lease=30) == []
        assert (await queue.stats()).ready == 0
        clock.advance(61)
        (third,) = await queue.receive(lease=30)
        assert (third.id, third.attempts) == (message.id, 3)

    @pytest.mark.anyio
    async def test_enqueue_delay(self, queue: MessageQueue, clock: FakeClock) -> None:
        """Enqueue delay."""
        await queue.enqueue("later", delay=60)
        await queue.enqueue("now")
        (now,) = await queue.receive(lease=30, max_messages=5)
        assert now.body == "now"
        stats = await queue.stats()
        assert (stats.depth, stats.ready) == (2, 0)
        assert await queue.ack(now)
        clock.advance(60)
        assert [m.body for m in await queue.receive(lease=30, max_messages=5)] == ["later"]

    # --- ordering keys ---------------------------------------------------------------

    @pytest.mark.anyio
    async def test_ordering_key_hands_out_one_at_a_time_in_order(self, queue: MessageQueue) -> None:
        """Ordering key hands out one at a time in order."""
        a1 = await queue.enqueue("a1", ordering_key="a")
        await queue.enqueue("a2", ordering_key="a")
        await queue.enqueue("a3", ordering_key="a")
        await queue.enqueue("b1", ordering_key="b")
        await queue.enqueue("free")
        got = await queue.receive(lease=30, max_messages=10)
        assert sorted(m.body for m in got) == ["a1", "b1", "free"]  # type: ignore[type-var]
        assert {m.ordering_key for m in got} == {"a", "b", None}
        assert await queue.receive(lease=30, max_messages=10) == []
        first = next(m for m in got if m.id == a1)
        assert await queue.ack(first)
        (a2,) = await queue.receive(lease=30, max_messages=10)
        assert a2.body == "a2"
        # A nacked message keeps its place: a3 still waits behind a2.
        assert await queue.nack(a2)
        (again,) = await queue.receive(lease=30, max_messages=10)
        assert (again.body, again.attempts) == ("a2", 2)
        # A dead-lettered one lets the next through.
        assert await queue.dead_letter(again, reason="gave up")
        (a3,) = await queue.receive(lease=30, max_messages=10)
        assert a3.body == "a3"

    @pytest.mark.anyio
    async def test_ordering_key_survives_lease_expiry(
        self, queue: MessageQueue, clock: FakeClock
    ) -> None:
        """Ordering key survives lease expiry."""
        await queue.enqueue(1, ordering_key="k")
        await queue.enqueue(2, ordering_key="k")
        (first,) = await queue.receive(lease=10, max_messages=5)
        clock.advance(11)
        (again,) = await queue.receive(lease=10, max_messages=5)
        assert (again.body, again.attempts) == (1, 2)
        assert not await queue.ack(first)
        assert await queue.ack(again)
        (second,) = await queue.receive(lease=10, max_messages=5)
        assert second.body == 2

    @pytest.mark.anyio
    async def test_ordering_key_waits_for_a_delayed_predecessor(
        self, queue: MessageQueue, clock: FakeClock
    ) -> None:
        """Ordering key waits for a delayed predecessor."""
        await queue.enqueue(1, ordering_key="k", delay=30)
        await queue.enqueue(2, ordering_key="k")
        assert await queue.receive(lease=10, max_messages=5) == []
        clock.advance(30)
        (first,) = await queue.receive(lease=10, max_messages=5)
        assert first.body == 1
        assert await queue.ack(first)
        (second,) = await queue.receive(lease=10, max_messages=5)
        assert second.body == 2

    # --- deduplication and dead letters ----------------------------------------------

    @pytest.mark.anyio
    async def test_dedup_key_is_remembered_for_the_window(
        self, queue_factory: QueueFactory, clock: FakeClock
    ) -> None:
        """Dedup key is remembered for the window."""
        queue = await queue_factory(clock=clock, dedup_window=1.0)
        first = await queue.enqueue("x", dedup_key="activity-1")
        assert first is not None
        assert await queue.enqueue("x", dedup_key="activity-1") is None
        assert await queue.enqueue("y", dedup_key="activity-2") is not None
        (message, _) = await queue.receive(lease=30, max_messages=5)
        assert await queue.ack(message)
        # Handled, but still inside the window: still a duplicate.
        assert await queue.enqueue("x", dedup_key="activity-1") is None
        assert (await queue.stats()).depth == 1
        clock.advance(2.0)

        async def accepted_again() -> bool:
            return await queue.enqueue("x", dedup_key="activity-1") is not None

        await wait_until(accepted_again, message="dedup key expiry")
        assert (await queue.stats()).depth == 2

    @pytest.mark.anyio
    async def test_dead_letters_are_kept_and_purged(
        self, queue: MessageQueue, clock: FakeClock
    ) -> None:
        """Dead letters are kept and purged."""
        await queue.enqueue({"to": "inbox"}, ordering_key="k")
        (message,) = await queue.receive(lease=30)
        clock.advance(5)
        assert await queue.dead_letter(message, reason="410 Gone")
        assert await queue.receive(lease=30) == []
        stats = await queue.stats()
        assert (stats.depth, stats.dead) == (0, 1)
        (dead,) = await queue.dead_letters()
        assert (dead.id, dead.body, dead.reason) == (message.id, {"to": "inbox"}, "410 Gone")
        assert (dead.attempts, dead.ordering_key) == (1, "k")
        assert dead.dead_at >= dead.enqueued_at
        assert await queue.purge_dead_letters() == 1
        assert await queue.dead_letters() == []

    # --- monitoring ------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_stats_report_depth_and_oldest_age(
        self, queue: MessageQueue, clock: FakeClock
    ) -> None:
        """Stats report depth and oldest age."""
        empty = await queue.stats()
        assert (empty.depth, empty.ready, empty.leased, empty.dead) == (0, 0, 0, 0)
        assert empty.oldest_age is None
        await queue.enqueue("old")
        clock.advance(100)
        await queue.enqueue("new")
        await queue.enqueue("blocked-1", ordering_key="k")
        await queue.enqueue("blocked-2", ordering_key="k")
        stats = await queue.stats()
        assert (stats.depth, stats.ready, stats.leased) == (4, 3, 0)
        assert stats.oldest_age is not None
        assert math.isclose(stats.oldest_age, 100, abs_tol=0.01)

    # --- several consumers -----------------------------------------------------------

    @pytest.mark.anyio
    async def test_two_handles_never_get_the_same_message(
        self, queue_factory: QueueFactory, clock: FakeClock
    ) -> None:
        """Two handles never get the same message."""
        producer = await queue_factory(clock=clock)
        consumers = [await queue_factory(clock=clock) for _ in range(2)]
        ids = {await producer.enqueue(n) for n in range(40)}
        seen: list[list[str]] = [[], []]

        async def consume(index: int) -> None:
            while got := await consumers[index].receive(lease=60, max_messages=3):
                seen[index].extend(m.id for m in got)

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume, 0)
            tg.start_soon(consume, 1)
        assert not set(seen[0]) & set(seen[1])
        assert set(seen[0]) | set(seen[1]) == ids

    @pytest.mark.anyio
    async def test_waiting_receive_wakes_on_enqueue(
        self, queue_factory: QueueFactory, clock: FakeClock
    ) -> None:
        """Waiting receive wakes on enqueue."""
        consumer = await queue_factory(clock=clock)
        producer = await queue_factory(clock=clock)
        assert await consumer.receive(lease=30, wait=0.01) == []
        got: list[Any] = []

        async def consume() -> None:
            got.extend(await consumer.receive(lease=30, wait=30))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(consume)
                await producer.enqueue("wake up")
        assert [m.body for m in got] == ["wake up"]

    # --- bad input -------------------------------------------------------------------

    @pytest.mark.anyio
    @pytest.mark.parametrize(
        "value",
        [{1, 2}, object(), b"bytes", float("nan"), float("inf"), {"a": [1, {"b": object()}]}],
        ids=["set", "object", "bytes", "nan", "inf", "nested"],
    )
    async def test_unserialisable_body_is_refused_and_nothing_lost(
        self, queue: MessageQueue, value: Any
    ) -> None:
        """Unserialisable body is refused and nothing lost."""
        kept = await queue.enqueue("kept")
        with pytest.raises(SerializationError, match="not JSON-serialisable"):
            await queue.enqueue(value)
        (message,) = await queue.receive(lease=30, max_messages=5)
        assert (message.id, message.body) == (kept, "kept")
        assert (await queue.stats()).depth == 1

    @pytest.mark.anyio
    async def test_oversized_body_is_refused_and_nothing_lost(
        self, queue_factory: QueueFactory, clock: FakeClock
    ) -> None:
        """Oversized body is refused and nothing lost."""
        queue = await queue_factory(clock=clock, max_message_bytes=1000)
        await queue.enqueue("kept")
        fits = "x" * 998  # 1000 bytes with its quotes
        assert await queue.enqueue(fits) is not None
        with pytest.raises(MessageTooLargeError, match=r"1001 bytes.*limit is 1000") as info:
            await queue.enqueue("x" * 999)
        assert (info.value.size, info.value.limit) == (1001, 1000)
        with pytest.raises(MessageTooLargeError):
            await queue.enqueue("\u00e9" * 500)  # 1002 bytes in UTF-8
        got = await queue.receive(lease=30, max_messages=5)
        assert [m.body for m in got] == ["kept", fits]

    @pytest.mark.anyio
    async def test_bad_arguments_are_refused(self, queue: MessageQueue) -> None:
        """Bad arguments are refused."""
        with pytest.raises(InvalidKeyError, match="ordering_key"):
            await queue.enqueue("x", ordering_key="")
        with pytest.raises(InvalidKeyError, match="dedup_key"):
            await queue.enqueue("x", dedup_key=42)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="delay"):
            await queue.enqueue("x", delay=-1)
        with pytest.raises(InvalidArgumentError, match="delay"):
            await queue.enqueue("x", delay=float("nan"))
        with pytest.raises(InvalidArgumentError, match="lease"):
            await queue.receive(lease=0)
        with pytest.raises(InvalidArgumentError, match="max_messages"):
            await queue.receive(lease=10, max_messages=0)
        assert (await queue.stats()).depth == 0

    # --- enqueue_many ------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_enqueue_many_keeps_order_and_returns_ids(self, queue: MessageQueue) -> None:
        """A batch is enqueued in order; the ids are those the messages are received with."""
        assert await queue.enqueue_many([]) == []
        await queue.enqueue("before")
        ids = await queue.enqueue_many([Outgoing(i) for i in range(5)])
        assert len(ids) == 5
        assert all(isinstance(i, str) for i in ids)
        assert len(set(ids)) == 5
        await queue.enqueue("after")
        got = await queue.receive(lease=30, max_messages=10)
        assert [m.body for m in got] == ["before", 0, 1, 2, 3, 4, "after"]
        assert [m.id for m in got[1:6]] == ids

    @pytest.mark.anyio
    async def test_enqueue_many_ordering_keys_across_a_batch(self, queue: MessageQueue) -> None:
        """Ordering keys chain within a batch and behind messages enqueued before it."""
        await queue.enqueue("a0", ordering_key="a")
        await queue.enqueue_many(
            [
                Outgoing("a1", ordering_key="a"),
                Outgoing("b0", ordering_key="b"),
                Outgoing("a2", ordering_key="a"),
                Outgoing("b1", ordering_key="b"),
                Outgoing("free"),
            ]
        )
        seen: list[Any] = []
        for _ in range(3):
            got = await queue.receive(lease=30, max_messages=10)
            seen.append(sorted(m.body for m in got))
            for message in got:
                assert await queue.ack(message)
        assert seen == [["a0", "b0", "free"], ["a1", "b1"], ["a2"]]

    @pytest.mark.anyio
    async def test_enqueue_many_deduplicates_within_and_against_earlier(
        self, queue: MessageQueue
    ) -> None:
        """A dedup key seen before, or earlier in the batch, gives ``None`` and stores nothing."""
        assert await queue.enqueue("old", dedup_key="k1") is not None
        ids = await queue.enqueue_many(
            [
                Outgoing("dup-old", dedup_key="k1"),
                Outgoing("first", dedup_key="k2"),
                Outgoing("dup-batch", dedup_key="k2"),
                Outgoing("plain"),
            ]
        )
        assert ids[0] is None
        assert ids[2] is None
        assert ids[1] is not None
        assert ids[3] is not None
        got = await queue.receive(lease=30, max_messages=10)
        assert [m.body for m in got] == ["old", "first", "plain"]
        assert await queue.enqueue("again", dedup_key="k2") is None

    @pytest.mark.anyio
    async def test_enqueue_many_delays(self, queue: MessageQueue, clock: FakeClock) -> None:
        """Each message of a batch keeps its own delay."""
        await queue.enqueue_many([Outgoing("later", delay=60), Outgoing("now")])
        got = await queue.receive(lease=300, max_messages=10)
        assert [m.body for m in got] == ["now"]
        clock.advance(61)
        assert [m.body for m in await queue.receive(lease=30, max_messages=10)] == ["later"]

    @pytest.mark.anyio
    async def test_enqueue_many_is_all_or_nothing(
        self, queue_factory: QueueFactory, clock: FakeClock
    ) -> None:
        """A batch with one invalid message enqueues nothing, its dedup keys included."""
        queue = await queue_factory(clock=clock, max_message_bytes=64)
        bad: list[tuple[Outgoing, type[Exception]]] = [
            (Outgoing({1, 2}), SerializationError),  # type: ignore[arg-type]
            (Outgoing("x" * 100), MessageTooLargeError),
            (Outgoing("x", delay=-1), InvalidArgumentError),
            (Outgoing("x", ordering_key=""), InvalidKeyError),
            (Outgoing("x", dedup_key="a\x00b"), InvalidKeyError),
        ]
        for outgoing, error in bad:
            with pytest.raises(error):
                await queue.enqueue_many(
                    [Outgoing("ok", dedup_key="kept", ordering_key="o"), outgoing]
                )
        with pytest.raises(InvalidArgumentError):
            await queue.enqueue_many(["not an Outgoing"])  # type: ignore[list-item]
        assert (await queue.stats()).depth == 0
        assert await queue.enqueue("ok", dedup_key="kept", ordering_key="o") is not None

    @pytest.mark.anyio
    async def test_closed_queue_raises_a_typed_error(
        self, queue_factory: QueueFactory, clock: FakeClock
    ) -> None:
        """Closed queue raises a typed error."""
        queue = await queue_factory(clock=clock)
        await queue.enqueue("kept")
        await queue.aclose()
        with pytest.raises(StorageClosedError):
            await queue.enqueue("x")
        with pytest.raises(StorageClosedError):
            await queue.receive(lease=10)
        with pytest.raises(StorageClosedError):
            await queue.enqueue_many([Outgoing("x")])


__all__ = ["QueueConformance", "QueueFactory"]

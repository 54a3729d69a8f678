"""Run handlers over a :class:`~activitypub_kit.storage.MessageQueue`.

A :class:`Worker` leases messages, runs up to ``concurrency`` handlers at once, renews the
lease of a handler that runs long, acks on success, and on failure asks its
:class:`RetryPolicy` whether to retry later (nack with a delay) or give up (dead letter).
"""

from __future__ import annotations

import inspect
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import anyio.abc

from activitypub_kit.errors import InvalidArgumentError, StorageError
from activitypub_kit.storage._base import Message, MessageQueue
from activitypub_kit.storage._codec import check_count, check_seconds

logger = logging.getLogger("activitypub_kit.storage._worker")

#: A message handler: returning normally acks the message, raising retries it.
Handler = Callable[[Message], Awaitable[None]]


class RetryLater(Exception):  # noqa: N818 - a request, not an error
    """Raised by a handler: deliver this message again after ``delay`` seconds.

    The message is nacked with exactly that delay and keeps its place at the head of its
    ordering key.  This is the handler's own decision, so the :class:`RetryPolicy` is not
    consulted; only the worker's ``max_deliveries`` bound still applies.
    """

    def __init__(self, delay: float, reason: str = "") -> None:
        self.delay = check_seconds(delay, "RetryLater delay")
        super().__init__(reason or f"retry in {self.delay} s")


class FailurePolicy(Protocol):
    """Decides what a handler failure means; :class:`RetryPolicy` is the stock one."""

    def delay(self, attempts: int, error: BaseException | None = None) -> float | None:
        """Seconds before delivery ``attempts + 1``, or ``None`` to dead-letter now."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with a cap, then a dead letter after ``max_attempts``.

    The delay before delivery ``n + 1`` is ``min(initial * factor ** (n - 1), maximum)``.
    The defaults retry for about 2.5 days, like Mastodon's delivery schedule.
    """

    max_attempts: int = 16
    initial: float = 30.0
    factor: float = 2.0
    maximum: float = 6 * 3600.0

    def delay(self, attempts: int, error: BaseException | None = None) -> float | None:
        """Seconds to wait before the next delivery, or ``None`` to dead-letter."""
        if attempts >= self.max_attempts:
            return None
        exponent = min(attempts - 1, 64)
        return float(min(self.initial * self.factor**exponent, self.maximum))


@dataclass(slots=True)
class WorkerStats:
    """Counters of one :class:`Worker` since it was created."""

    handled: int = 0
    failed: int = 0
    retried: int = 0
    retried_later: int = 0
    dead_lettered: int = 0
    lost_leases: int = 0
    released: int = 0
    in_flight: int = 0
    #: The last 100 storage errors met while receiving or settling (newest last).
    errors: deque[str] = field(default_factory=lambda: deque(maxlen=100))


class Worker:
    """Handle messages from ``queue`` with ``handler`` until :meth:`stop` is called.

    - ``concurrency``: handlers running at once;
    - ``lease``: lease length; a running handler's lease is renewed every ``lease / 3``;
    - ``handler_timeout``: a handler still running after this long is cancelled and its
      message retried by the policy (``None``: no limit);
    - ``poll_wait``: how long one receive waits for messages;
    - ``retry``: a :class:`FailurePolicy` deciding retry delays and when to dead-letter after
      a handler failure (an exception or a timeout); a handler that raises
      :class:`RetryLater` chooses its own delay instead.  Anything whose ``delay`` cannot be
      called as ``delay(attempts, error)`` is refused here with :class:`TypeError`;
    - ``max_deliveries``: a message handed out more often than this, whatever the reason
      (its leases kept expiring because it crashes its worker, or it keeps asking to be
      retried later), is dead-lettered without running the handler again.
    """

    def __init__(
        self,
        queue: MessageQueue,
        handler: Handler,
        *,
        concurrency: int = 8,
        lease: float = 60.0,
        handler_timeout: float | None = 300.0,
        poll_wait: float = 5.0,
        retry: FailurePolicy | None = None,
        max_deliveries: int = 100,
    ) -> None:
        self.queue = queue
        self.handler = handler
        self.concurrency = check_count(concurrency, "concurrency")
        self.lease = check_seconds(lease, "lease", positive=True)
        if handler_timeout is not None:
            check_seconds(handler_timeout, "handler_timeout", positive=True)
        self.handler_timeout = handler_timeout
        self.poll_wait = check_seconds(poll_wait, "poll_wait")
        self.retry: FailurePolicy = _check_policy(retry or RetryPolicy())
        self.max_deliveries = check_count(max_deliveries, "max_deliveries")
        self.stats = WorkerStats()
        self._stopping = anyio.Event()
        self._stopped = anyio.Event()
        self._slots = anyio.Semaphore(self.concurrency)
        self._handlers_scope: anyio.CancelScope | None = None
        self._receive_scope: anyio.CancelScope | None = None
        self._idle: anyio.Event | None = None
        self._running = False

    async def run(self) -> None:
        """Receive and handle messages until :meth:`stop`; returns once all are settled."""
        if self._running:
            raise RuntimeError("this Worker is already running")
        self._running = True
        try:
            async with anyio.create_task_group() as handlers:
                self._handlers_scope = handlers.cancel_scope
                await self._fetch_loop(handlers)
        finally:
            self._stopped.set()

    async def _fetch_loop(self, handlers: anyio.abc.TaskGroup) -> None:
        while not self._stopping.is_set():
            await self._slots.acquire()
            free = 1
            while free < self.concurrency and self._slots.value > 0:
                await self._slots.acquire()
                free += 1
            try:
                messages = await self._receive(free)
            except BaseException:
                for _ in range(free):
                    self._slots.release()
                raise
            for _ in range(free - len(messages)):
                self._slots.release()
            for message in messages:
                self.stats.in_flight += 1  # counted now, so stop() sees it at once
                handlers.start_soon(self._handle, message)

    async def _receive(self, limit: int) -> list[Message]:
        with anyio.CancelScope() as scope:
            self._receive_scope = scope
            if self._stopping.is_set():
                return []
            try:
                return await self.queue.receive(
                    lease=self.lease, max_messages=limit, wait=self.poll_wait
                )
            except StorageError as exc:
                logger.warning("receive failed, retrying in 1 s: %s", exc)
                self.stats.errors.append(str(exc))
                await anyio.sleep(1.0)
        return []

    async def stop(self, *, grace: float = 30.0) -> None:
        """Stop receiving; give in-flight handlers ``grace`` seconds, then release them.

        Released messages are nacked without delay, so another worker picks them up at
        once.  Returns when :meth:`run` has returned.
        """
        self._stopping.set()
        if not self._running:
            return
        if self._receive_scope is not None:
            self._receive_scope.cancel()
        with anyio.move_on_after(grace):
            while self.stats.in_flight:
                await self._idle_event().wait()
        if self._handlers_scope is not None and self.stats.in_flight:
            self._handlers_scope.cancel()
        await self._stopped.wait()

    def _idle_event(self) -> anyio.Event:
        if self._idle is None or self._idle.is_set():
            self._idle = anyio.Event()
        return self._idle

    async def _handle(self, message: Message) -> None:
        try:
            if message.attempts > self.max_deliveries:
                reason = f"delivered {message.attempts} times without being acked"
                await self._settle(self.queue.dead_letter(message, reason=reason), "dead")
                return
            await self._run_handler(message)
        finally:
            self.stats.in_flight -= 1
            self._slots.release()
            if self._idle is not None:
                self._idle.set()

    async def _run_handler(self, message: Message) -> None:
        lost = anyio.Event()
        error: BaseException | None = None
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._renew, message, lost, tg.cancel_scope)
                try:
                    with anyio.fail_after(self.handler_timeout):
                        await self.handler(message)
                except Exception as exc:
                    error = exc
                tg.cancel_scope.cancel()
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._settle(self.queue.nack(message), "released")
            raise
        if lost.is_set():
            self.stats.lost_leases += 1
            logger.warning("lease on message %s was lost; another worker has it", message.id)
            return
        if error is None:
            await self._settle(self.queue.ack(message), "handled")
            return
        if isinstance(error, RetryLater):
            await self._settle(self.queue.nack(message, delay=error.delay), "later")
            return
        self.stats.failed += 1
        if isinstance(error, TimeoutError):
            description = f"handler timed out after {self.handler_timeout} s"
        else:
            description = f"{type(error).__name__}: {error}"
        logger.info("message %s failed (attempt %d): %s", message.id, message.attempts, error)
        delay = self.retry.delay(message.attempts, error)
        if delay is None:
            reason = f"gave up after {message.attempts} attempts: {description}"
            await self._settle(self.queue.dead_letter(message, reason=reason), "dead")
        else:
            await self._settle(self.queue.nack(message, delay=delay), "retried")

    async def _renew(
        self, message: Message, lost: anyio.Event, handler_scope: anyio.CancelScope
    ) -> None:
        while True:
            await anyio.sleep(self.lease / 3)
            try:
                kept = await self.queue.extend(message, lease=self.lease)
            except StorageError as exc:
                logger.warning("could not renew lease on %s: %s", message.id, exc)
                continue
            if not kept:
                lost.set()
                handler_scope.cancel()
                return

    async def _settle(self, outcome: Awaitable[bool], counter: str) -> None:
        try:
            ok = await outcome
        except StorageError as exc:
            # The lease will expire and the message will be delivered again.
            logger.warning("could not settle a message (%s): %s", counter, exc)
            self.stats.errors.append(str(exc))
            return
        if not ok:
            self.stats.lost_leases += 1
            return
        if counter == "handled":
            self.stats.handled += 1
        elif counter == "retried":
            self.stats.retried += 1
        elif counter == "later":
            self.stats.retried_later += 1
        elif counter == "dead":
            self.stats.dead_lettered += 1
        else:
            self.stats.released += 1


def _check_policy(policy: FailurePolicy) -> FailurePolicy:
    if not isinstance(policy, RetryPolicy):
        if not _takes_attempts_and_error(getattr(policy, "delay", None)):
            kind = type(policy)
            hint = ""
            if kind.__module__.startswith("activitypub_kit.delivery"):
                hint = " (a delivery schedule belongs in Outbox(policy=...))"
            raise TypeError(
                "Worker(retry=...) takes a FailurePolicy: an object whose delay(attempts, error)"
                " returns the seconds to wait or None to dead-letter, such as"
                " activitypub_kit.storage.RetryPolicy(max_attempts=16); got"
                f" {kind.__module__}.{kind.__qualname__}{hint}"
            )
        return policy
    if policy.max_attempts < 1 or not math.isfinite(policy.initial):
        raise InvalidArgumentError("retry policy needs max_attempts >= 1 and a finite delay")
    return policy


def _takes_attempts_and_error(delay: Any) -> bool:
    """Whether ``delay(attempts, error)`` is a valid call (unknown signatures pass)."""
    if not callable(delay):
        return False
    try:
        signature = inspect.signature(delay)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(1, None)
    except TypeError:
        return False
    return True


__all__ = ["FailurePolicy", "Handler", "RetryLater", "RetryPolicy", "Worker", "WorkerStats"]

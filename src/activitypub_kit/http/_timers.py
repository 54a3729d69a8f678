"""A cheaper read timeout for aiohttp connections (same rule, fewer timers).

aiohttp enforces ``sock_read`` by cancelling and re-creating an event-loop timer every time
data arrives and every time a request starts: two timers per small exchange, plus the
cancelled ones left in the loop's heap.  On the delivery hot path that is about a tenth
of a request's cost (see ``benchmarks/http_client.py``).

:class:`LazyReadTimeoutHandler` keeps the rule - no more than ``sock_read`` seconds
without data while a response is awaited - but moves a deadline instead of a timer: the
one timer of a connection stays armed, and when it fires it either finds the deadline
passed (the read timed out) or re-arms itself for the new deadline.  Between requests the
deadline is cleared and the timer, when it fires, does nothing.

This overrides two private methods of aiohttp's ``ResponseHandler``.  :func:`supported`
checks at import that they exist; if a future aiohttp changes them, the client uses
aiohttp's own handler, and the read-timeout tests keep both paths honest.
"""

from __future__ import annotations

import asyncio
import functools
from typing import cast

import aiohttp
from aiohttp.client_proto import ResponseHandler

_NEEDED = ("_reschedule_timeout", "_drop_timeout", "_on_read_timeout")


def supported() -> bool:
    """Whether this aiohttp has the handler internals the lazy timer relies on."""
    return all(callable(getattr(ResponseHandler, name, None)) for name in _NEEDED)


class LazyReadTimeoutHandler(ResponseHandler):
    """aiohttp's connection protocol with a deadline-based ``sock_read`` timer."""

    _read_deadline: float | None = None

    def _drop_timeout(self) -> None:
        # Leave the timer armed: when it fires without a deadline it does nothing.
        self._read_deadline = None

    def _reschedule_timeout(self) -> None:
        timeout = self._read_timeout
        if not timeout:
            self._read_deadline = None
            return
        loop = self._loop
        deadline = loop.time() + timeout
        self._read_deadline = deadline
        handle = self._read_timeout_handle
        if handle is not None and handle.when() > deadline:
            handle.cancel()  # a shorter timeout than the armed one: re-arm earlier
            handle = None
        if handle is None:
            self._read_timeout_handle = loop.call_at(deadline, self._check_read_deadline)

    def _check_read_deadline(self) -> None:
        self._read_timeout_handle = None
        deadline = self._read_deadline
        if deadline is None:
            return
        if deadline > self._loop.time():
            self._read_timeout_handle = self._loop.call_at(deadline, self._check_read_deadline)
            return
        self._read_deadline = None
        self._on_read_timeout()


def use_lazy_read_timeout(connector: aiohttp.TCPConnector) -> bool:
    """Make ``connector`` build :class:`LazyReadTimeoutHandler` connections, if possible."""
    if not supported() or not hasattr(connector, "_factory"):
        return False
    loop = asyncio.get_running_loop()
    factory = functools.partial(LazyReadTimeoutHandler, loop=loop)
    connector._factory = cast("functools.partial[ResponseHandler]", factory)
    return True


__all__ = ["LazyReadTimeoutHandler", "supported", "use_lazy_read_timeout"]

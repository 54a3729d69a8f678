"""The fetch budget: how many requests one chain of work may make.

An inbound activity can make us fetch its object, whose author we fetch, whose key we
fetch, whose ``inReplyTo`` we fetch... A hostile server can make such a chain endless.  A
:class:`FetchBudget` is opened for one unit of work (one inbound request, one lookup) and
every request made inside it - redirect hops and re-fetches included - spends from it.
The active budget travels in a context variable, so code deep in a call chain shares the
budget of its caller without passing it around.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from activitypub_kit.errors import FetchBudgetExhaustedError

_active: ContextVar[FetchBudget | None] = ContextVar("activitypub_kit_fetch_budget", default=None)


class FetchBudget:
    """A count of requests that may still be made (default 20)."""

    def __init__(self, limit: int = 20) -> None:
        if limit <= 0:
            raise ValueError("a fetch budget must allow at least one request")
        self.limit = limit
        self.used = 0

    @property
    def remaining(self) -> int:
        """Requests that may still be made."""
        return self.limit - self.used

    def spend(self, url: object) -> None:
        """Record one request to ``url``; raise :class:`FetchBudgetExhaustedError` if spent."""
        if self.used >= self.limit:
            raise FetchBudgetExhaustedError(
                f"fetch budget of {self.limit} requests used up before fetching {url}"
            )
        self.used += 1

    @contextmanager
    def activate(self) -> Iterator[FetchBudget]:
        """Make this budget the active one inside the ``with`` block."""
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)


def current_budget() -> FetchBudget | None:
    """The budget active in this context, if any."""
    return _active.get()


@contextmanager
def fetch_budget(limit: int = 20) -> Iterator[FetchBudget]:
    """Open a budget of ``limit`` requests, unless one is already active (then share it).

    Nesting never grants more: an inner ``fetch_budget()`` inside an outer one spends from
    the outer budget.
    """
    active = _active.get()
    if active is not None:
        yield active
        return
    with FetchBudget(limit).activate() as budget:
        yield budget


__all__ = ["FetchBudget", "current_budget", "fetch_budget"]

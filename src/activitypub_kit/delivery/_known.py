"""Known inboxes: one inbox per remote server we know, for actor-wide broadcasts.

When an actor is deleted (or its profile changes), every server that may hold a copy of it
should hear of it, not only the servers of its followers: Mastodon sends an actor's
``Delete`` to every inbox it knows.  A :class:`KnownInboxes` registry answers "which
servers do we know?" with one inbox per host (the shared inbox when the host has one).

Design.  The registry is a protocol so that an application with its own accounts table
can answer from it (``SELECT DISTINCT`` shared-or-personal inbox per domain) and make
:meth:`KnownInboxes.remember` a no-op.  The default, :class:`StoreKnownInboxes`, keeps one
key-value entry per host (``("known", "inbox", host)``), listed by prefix, so its size is
bounded by the number of servers, not of actors or deliveries.  It is written from the hot
paths (every fan-out, every verified inbound request), so an in-process memo of the hosts
already recorded makes a repeat cost nothing: the store is read once per host per process
and written only when a host is new or a shared inbox replaces a personal one (with
``cas``, so two processes never downgrade each other's entry).

:class:`HostInbox` is the recipient a registry listing becomes at fan-out: an inbox that
stands for its whole host, dropped by the outbox when the same activity already reaches
that host through another inbox (a follower there), so each server gets it once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from activitypub_kit.delivery._planning import Recipient, inbox_host
from activitypub_kit.storage._base import JSONValue, Key, KeyValueStore

logger = logging.getLogger("activitypub_kit.delivery")

#: Hosts :class:`StoreKnownInboxes` remembers in-process before forgetting the oldest.
MEMO_SIZE = 100_000


@dataclass(frozen=True, slots=True)
class HostInbox(Recipient):
    """An inbox standing for its whole host (from :class:`KnownInboxes`).

    Planned like an explicit inbox URL (``id`` and ``inbox`` are the URL), but the outbox
    leaves it out when the activity already reaches the same host through another inbox.
    """

    @classmethod
    def of(cls, inbox: str) -> HostInbox:
        """The host-wide recipient of ``inbox``."""
        return cls(id=inbox, inbox=inbox)


@runtime_checkable
class KnownInboxes(Protocol):
    """Which remote servers we know, one inbox each (see the module docstring).

    Supply your own (``Federation(known_inboxes=...)``) to answer from the application's
    database; :meth:`remember` may then do nothing.
    """

    async def remember(self, inbox: str, *, shared: bool) -> None:
        """Note that ``inbox`` (a shared inbox when ``shared``) reaches its host.

        Called on hot paths (fan-out, verified inbound requests): it must be cheap for a
        host already known, and should not raise (failures are logged by the callers).
        """
        ...

    def inboxes(self) -> AsyncIterator[str]:
        """Yield one inbox URL per known host (the shared inbox when known), each once."""
        ...


class StoreKnownInboxes:
    """The default :class:`KnownInboxes`: one key-value entry per host, memoised in-process.

    Entries are ``{"inbox": url, "shared": bool}`` under ``(namespace, "inbox", host)``;
    they do not expire (a server that went away costs a failed delivery per broadcast, and
    the delivery health tracking skips it once it is marked unavailable).
    :meth:`forget` drops one.
    """

    def __init__(
        self, store: KeyValueStore, *, namespace: str = "known", memo_size: int = MEMO_SIZE
    ) -> None:
        self.store = store
        self.namespace = namespace
        self.memo_size = memo_size
        #: host -> whether the stored entry is a shared inbox (only hosts stored or read).
        self._memo: dict[str, bool] = {}

    def _key(self, host: str) -> Key:
        return (self.namespace, "inbox", host)

    async def remember(self, inbox: str, *, shared: bool) -> None:
        """Record ``inbox`` for its host unless the host already has one as good."""
        host = inbox_host(inbox)
        if host is None:
            return
        known = self._memo.get(host)
        if known is not None and (known or not shared):
            return  # nothing better to record: no store access at all
        key = self._key(host)
        new: dict[str, JSONValue] = {"inbox": inbox, "shared": shared}
        for _ in range(3):  # a concurrent writer changed it: look again (rarely twice)
            current = await self.store.get(key)
            stored_shared = isinstance(current, dict) and bool(current.get("shared"))
            if current is not None and (stored_shared or not shared):
                self._note(host, stored_shared)
                return
            if await self.store.cas(key, current, new):
                self._note(host, shared)
                return
        logger.info("known inbox of %s not recorded: the entry kept changing", host)

    def _note(self, host: str, shared: bool) -> None:
        if host not in self._memo and len(self._memo) >= self.memo_size:
            self._memo.pop(next(iter(self._memo)))
        self._memo[host] = shared

    async def inboxes(self) -> AsyncIterator[str]:
        """Yield the stored inbox of every known host."""
        async for _, value in self.store.list((self.namespace, "inbox")):
            if isinstance(value, dict) and isinstance(value.get("inbox"), str):
                yield str(value["inbox"])

    async def forget(self, host: str) -> None:
        """Drop the entry of ``host`` (``host[:port]``, lower-case)."""
        self._memo.pop(host, None)
        await self.store.delete(self._key(host))


async def remember_all(known: KnownInboxes, entries: Iterable[tuple[str, bool]]) -> None:
    """Record every ``(inbox, shared)``; a failure is logged, never raised (best effort)."""
    try:
        for inbox, shared in entries:
            await known.remember(inbox, shared=shared)
    except Exception:
        logger.warning("could not record known inboxes", exc_info=True)


__all__ = ["HostInbox", "KnownInboxes", "StoreKnownInboxes", "remember_all", "MEMO_SIZE"]

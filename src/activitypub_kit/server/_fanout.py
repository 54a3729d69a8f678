"""Fan-out on a :class:`~activitypub_kit.server.Federation`: the outbox's side of it.

:class:`Fanout` is the ``RecipientResolver`` the :class:`~activitypub_kit.delivery.Outbox`
is built with (:meth:`~Fanout.expand` turns audience references into recipients in the
delivery worker), what a verified sender teaches the delivery side
(:meth:`~Fanout.heard_from`: its host is up, its inbox is known), and the delivery hooks
(failures, 410 Gone, in-process delivery to our own actors).  ``Federation`` inherits it; the
state it reads is set up by ``Federation.__init__``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic

import anyio

from activitypub_kit.delivery._failures import DeliveryFailure, DeliveryFailureEvent
from activitypub_kit.delivery._known import MEMO_SIZE, HostInbox, KnownInboxes
from activitypub_kit.delivery._planning import Recipient, Unresolved, inbox_host
from activitypub_kit.errors import BlockedError
from activitypub_kit.models import ASModel
from activitypub_kit.models._helpers import single_id
from activitypub_kit.server._authenticate import Authenticated
from activitypub_kit.server._context import MAX_CONCURRENT_LOOKUPS, Context
from activitypub_kit.server._data import D
from activitypub_kit.server._inbox import seen_key
from activitypub_kit.storage._base import JSONValue, KeyValueStore, MessageQueue

if TYPE_CHECKING:
    from activitypub_kit.delivery._outbox import Outbox
    from activitypub_kit.http import Resolver
    from activitypub_kit.server._collections import CollectionRoute, PageItems
    from activitypub_kit.server._moderation import Moderation

#: ``on_delivery_failed`` / ``on_gone``: ``(event) -> None``, plain or ``async``.
FailureCallback = Callable[[DeliveryFailureEvent], Awaitable[None] | None]

logger = logging.getLogger("activitypub_kit.server")


class Fanout(Generic[D]):
    """The delivery half of :class:`~activitypub_kit.server.Federation` (its base class).

    Every public method here is a public ``Federation`` method; see each for its contract.
    """

    store: KeyValueStore
    queue: MessageQueue
    idempotency_ttl: float
    collections: dict[str, CollectionRoute]
    resolver: Resolver
    moderation: Moderation
    known_inboxes: KnownInboxes
    outbox: Outbox
    on_delivery_failed: FailureCallback | None
    on_gone: FailureCallback | None
    _learnt_hosts: set[str]

    if TYPE_CHECKING:

        def is_local(self, uri: str) -> bool: ...

        def context(self, **kwargs: Any) -> Context[D]: ...

    # -- fan-out: the outbox's RecipientResolver --------------------------------------

    async def expand(
        self, audience: Mapping[str, JSONValue]
    ) -> AsyncIterator[Recipient | str | Unresolved]:
        """Yield the recipients of one audience entry (the delivery worker calls this).

        * ``{"followers": handle}`` (:meth:`Context.followers_of`): every follower of a
          local actor, from the followers collection's lister or pages;
        * ``{"actors": [ids]}`` (actor ids given to :meth:`Context.send`): each id fetched
          here, at most :data:`~activitypub_kit.server._context.MAX_CONCURRENT_LOOKUPS` at a
          time; an id blocked by policy is not fetched, a local one needs no fetch;
        * ``{"known": true}`` (:meth:`Context.known_inboxes`): one inbox per server in
          :attr:`known_inboxes`, hosts blocked by policy left out, each reached only when
          no other recipient of the activity is on that host.

        A member that cannot be resolved is logged and yielded as
        :class:`~activitypub_kit.delivery.Unresolved`, so ``on_delivery_failed`` hears of it
        (``BLOCKED`` for a blocked actor, ``UNRESOLVED`` with the error otherwise).
        """
        if "actors" in audience:
            for recipient in await self._resolve_actors(audience["actors"]):
                yield recipient
        elif audience.get("known") is True:
            async for inbox in self._known_inboxes():
                yield inbox
        elif "followers" in audience:
            async for member in self._followers(audience.get("followers")):
                yield member
        else:
            logger.warning("fan-out: audience %.200r is not one this server knows", audience)
            yield Unresolved(repr(dict(audience))[:200], "not a known audience reference")

    async def _followers(self, handle: Any) -> AsyncIterator[Recipient | Unresolved]:
        route = self.collections.get("followers")
        if not isinstance(handle, str) or route is None:
            logger.warning("fan-out to followers of %r reaches nobody: no collection", handle)
            return
        ctx = self.context()
        if route.lister is not None:
            async for member in route.lister(ctx, handle=handle):
                yield await self._as_recipient(member)
            return
        cursor: str | None = None
        while True:
            page: PageItems | None = await route.dispatcher(ctx, cursor, handle=handle)
            if page is None:
                if cursor is None:
                    logger.warning("fan-out: no followers collection for %r", handle)
                return
            for member in page.items:
                yield await self._as_recipient(member)
            if page.next is None:
                return
            cursor = page.next

    async def _resolve_actors(self, ids: JSONValue) -> list[Recipient | Unresolved]:
        """Resolve addressed actor ids concurrently (bounded); order is not kept."""
        members = list(ids) if isinstance(ids, list) else [ids]
        found: list[Recipient | Unresolved] = []
        limit = anyio.Semaphore(MAX_CONCURRENT_LOOKUPS)

        async def resolve(member: Any) -> None:
            async with limit:
                found.append(await self._as_recipient(member, "recipient"))

        async with anyio.create_task_group() as group:
            for member in members:
                group.start_soon(resolve, member)
        return found

    async def _known_inboxes(self) -> AsyncIterator[HostInbox]:
        seen: set[str] = set()
        async for inbox in self.known_inboxes.inboxes():
            host = inbox_host(inbox)
            if host is None or host in seen or self.is_local(inbox):
                continue
            seen.add(host)
            if not await self.moderation.host_blocked(host):
                yield HostInbox.of(inbox)

    async def _as_recipient(self, member: Any, what: str = "follower") -> Recipient | Unresolved:
        if isinstance(member, Recipient):
            return member
        if isinstance(member, ASModel):
            member = member.to_json(context=False)
        if isinstance(member, Mapping) and isinstance(member.get("inbox"), str):
            return Recipient.from_actor(member)
        member_id = member.get("id") if isinstance(member, Mapping) else member
        if not isinstance(member_id, str):
            logger.warning("fan-out: %s entry %.200r is not an actor or an id", what, member)
            return Unresolved(repr(member)[:200], "not an actor, an actor id or a Recipient")
        if self.is_local(member_id):
            return Recipient(id=member_id)  # ours: delivered in-process, no fetch, no POST
        blocked = Unresolved(member_id, "blocked by policy", DeliveryFailure.BLOCKED)
        if await self.moderation.blocks(member_id):
            return blocked  # not even fetched
        try:
            return Recipient.from_actor(await self.resolver.fetch_actor(member_id))
        except BlockedError:
            return blocked
        except Exception as exc:  # one unreachable member must not stop the fan-out
            logger.warning("fan-out: cannot resolve %s %s", what, member_id, exc_info=True)
            return Unresolved(member_id, f"{type(exc).__name__}: {exc}")

    # -- what verified senders teach the delivery side ---------------------------------

    async def heard_from(self, authenticated: Authenticated) -> None:
        """A request verified by its sender's HTTP signature: the sender's host is up.

        Clears the host's unavailable mark in the delivery tracker (a store write only
        when it has one).  Never raises: a store problem is logged.
        """
        if authenticated.method != "http-signature":
            return  # a relay or a proof vouched: the actor's host did not talk to us
        host = inbox_host(authenticated.owner)
        if host is None:
            return
        try:
            await self.outbox.record_inbound(host)
        except Exception:
            logger.warning("could not record that %s is up", host, exc_info=True)
        await self._learn_inbox(authenticated.owner, host)

    async def _learn_inbox(self, actor: str, host: str) -> None:
        """Add a verified sender's server to :attr:`known_inboxes` (from the cache only).

        Its actor document was fetched (with its key) moments ago, so it is normally in
        the fetch cache; when it is not, nothing is fetched: the server is learnt later.
        Only an inbox on the actor's own host is recorded; a host learnt once in this
        process costs nothing more.
        """
        if host in self._learnt_hosts:
            return
        try:
            cached = await self.resolver.cache.get("doc", actor)
            if cached is None:
                return
            found = Recipient.from_actor(cached.value)
            inbox = found.shared_inbox or found.inbox
            if inbox and found.id == actor and inbox_host(inbox) == host:
                await self.known_inboxes.remember(inbox, shared=inbox == found.shared_inbox)
                if len(self._learnt_hosts) >= MEMO_SIZE:
                    self._learnt_hosts.clear()
                self._learnt_hosts.add(host)
        except Exception:
            logger.warning("could not record the inbox of %s", actor, exc_info=True)

    # -- delivery hooks ------------------------------------------------------------------

    async def _delivery_failed(self, event: DeliveryFailureEvent) -> None:
        await _call_hook(self.on_delivery_failed, event)

    async def _gone(self, event: DeliveryFailureEvent) -> None:
        await _call_hook(self.on_gone, event)

    async def _deliver_locally(self, activity: dict[str, Any], recipients: Sequence[str]) -> None:
        """Hand an activity we send to our own actors to our inbox handlers, without HTTP.

        Queued like a verified remote activity arriving in the shared inbox (method
        ``local``), and applied once per activity id like every inbox activity.
        """
        seen = seen_key(str(activity["id"]))
        if not await self.store.cas(seen, None, True, ttl=self.idempotency_ttl):
            return
        try:
            await self.queue.enqueue(
                {
                    "kind": "inbox",
                    "inbox": None,
                    "activity": activity,
                    "signer": None,
                    "method": "local",
                    "local_recipients": list(recipients),
                },
                ordering_key=f"inbox\n{single_id(activity.get('object')) or activity['id']}",
            )
        except BaseException:
            await self.store.delete(seen)
            raise


async def _call_hook(hook: FailureCallback | None, event: DeliveryFailureEvent) -> None:
    if hook is not None:
        result = hook(event)
        if inspect.isawaitable(result):
            await result


__all__ = ["Fanout", "FailureCallback"]

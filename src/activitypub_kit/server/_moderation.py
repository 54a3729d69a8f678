"""The block policy of a :class:`~activitypub_kit.server.Federation`, applied both ways.

``block_host(host)`` receives a lower-case host name without port (``evil.example``;
match subdomains yourself if you want them blocked too) and ``block_actor(actor_id)`` an
actor id; either may be a plain function or ``async``.  The Federation asks them

* inbound: an inbox request whose actor (or whose key's host) is blocked is refused with
  ``403`` — a blocked host's key is not even fetched — and so is an authorized-fetch ``GET``
  signed by a blocked actor;
* outbound: a blocked host gets no delivery (a blocked actor reached through a shared
  inbox is left out of it; the inbox still gets the activity for the others), counted in
  ``outbox.stats.blocked`` and reported to ``on_delivery_failed`` with
  ``DeliveryFailure.BLOCKED``;
* fetches through the Federation's resolver (``ctx.lookup``, key fetches) of a URL on a
  blocked host raise :class:`~activitypub_kit.errors.BlockedError` without a request.

Both hooks are read each time they are needed: assigning ``fed.moderation.block_host``
takes effect at once.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

BlockHook = Callable[[str], bool | Awaitable[bool]]


def host_name(uri: str) -> str | None:
    """The lower-case host name of ``uri`` (no port), or ``None`` when it has none."""
    try:
        return urlsplit(uri).hostname
    except ValueError:
        return None


async def _ask(hook: BlockHook, value: str) -> bool:
    answer = hook(value)
    if inspect.isawaitable(answer):
        answer = await answer
    return bool(answer)


class Moderation:
    """``block_host`` and ``block_actor``, and the questions the Federation asks them."""

    def __init__(
        self, *, block_host: BlockHook | None = None, block_actor: BlockHook | None = None
    ) -> None:
        self.block_host = block_host
        self.block_actor = block_actor

    @property
    def active(self) -> bool:
        """Whether any hook is set."""
        return self.block_host is not None or self.block_actor is not None

    async def name_blocked(self, name: str) -> bool:
        """Whether the host name ``name`` (no port) is blocked."""
        hook = self.block_host
        return hook is not None and bool(name) and await _ask(hook, name.lower())

    async def host_blocked(self, host: str) -> bool:
        """Whether ``host[:port]`` (as delivery names inbox hosts) is blocked."""
        name = host_name(f"//{host}")
        return name is not None and await self.name_blocked(name)

    async def blocks(self, uri: str) -> bool:
        """Whether ``uri`` (an actor id, or any URL) is refused: its host, or itself."""
        name = host_name(uri)
        if name is not None and await self.name_blocked(name):
            return True
        hook = self.block_actor
        return hook is not None and await _ask(hook, uri)

    def inbox_host_blocked(self, host: str) -> bool | Awaitable[bool]:
        """The outbox's ``is_blocked`` (``host[:port]`` of an inbox); no await when unset."""
        return False if self.block_host is None else self.host_blocked(host)

    def recipient_blocked(self, actor_id: str) -> bool | Awaitable[bool]:
        """The outbox's ``is_blocked_actor``; no await when no hook is set."""
        return self.blocks(actor_id) if self.active else False


__all__ = ["BlockHook", "Moderation", "host_name"]

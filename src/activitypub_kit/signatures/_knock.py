"""Double-knocking: pick a signature scheme per remote host, fall back, remember.

Many servers verify only draft-cavage (Mastodon before 4.4, Akkoma, GoToSocial, Misskey);
newer ones accept RFC 9421.  :class:`DoubleKnock` signs with the preferred scheme (or the
one remembered for the host), and when the host answers 400 or 401 tries the other scheme
once; whichever works is remembered in a
:class:`~activitypub_kit.storage._base.KeyValueStore`.

Only the remembering touches the store (async); choosing a scheme and signing stay pure.
A 403 (blocked), 5xx or 503 (Mastodon's "actor temporarily unreachable") is never taken
as "scheme not understood".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from activitypub_kit.signatures._dispatch import SignatureScheme
from activitypub_kit.storage._base import KeyValueStore

#: Statuses that mean "I could not verify your signature": worth trying the other scheme.
FALLBACK_STATUSES = frozenset({400, 401})


class DoubleKnock:
    """Per-host signature scheme choice with fallback, remembered in a key-value store."""

    def __init__(
        self,
        store: KeyValueStore,
        *,
        prefer: SignatureScheme = SignatureScheme.CAVAGE,
        remember_for: float = 30 * 24 * 3600,
        prefix: tuple[str, ...] = ("signatures", "scheme"),
    ) -> None:
        self.store = store
        self.prefer = prefer
        self.remember_for = remember_for
        self.prefix = prefix

    def _key(self, host: str) -> tuple[str, ...]:
        return (*self.prefix, host.lower())

    async def recall(self, host: str) -> SignatureScheme | None:
        """The scheme that last worked with ``host``, if remembered."""
        value = await self.store.get(self._key(host))
        if isinstance(value, str):
            try:
                return SignatureScheme(value)
            except ValueError:
                return None
        return None

    async def remember(self, host: str, scheme: SignatureScheme) -> None:
        """Record that ``host`` accepted ``scheme``."""
        await self.store.set(self._key(host), scheme.value, ttl=self.remember_for)

    async def forget(self, host: str) -> None:
        """Drop what is remembered about ``host``."""
        await self.store.delete(self._key(host))

    async def first_scheme(self, host: str) -> SignatureScheme:
        """The scheme to sign the first attempt for ``host`` with."""
        return await self.recall(host) or self.prefer

    @staticmethod
    def should_fall_back(status: int) -> bool:
        """Whether an answer with ``status`` warrants retrying with the other scheme."""
        return status in FALLBACK_STATUSES

    async def knock(
        self, host: str, attempt: Callable[[SignatureScheme], Awaitable[int]]
    ) -> tuple[int, SignatureScheme]:
        """Run ``attempt(scheme)`` (which signs, sends and returns the status) with fallback.

        Returns the final status and the scheme that produced it.  A 2xx (or any answer
        that is not a 400/401) after the fallback is remembered for the host.
        """
        first = await self.first_scheme(host)
        status = await attempt(first)
        if not self.should_fall_back(status):
            if 200 <= status < 300:
                await self.remember(host, first)
            return status, first
        second = first.other
        status = await attempt(second)
        if 200 <= status < 300:
            await self.remember(host, second)
        elif self.should_fall_back(status):
            await self.forget(host)
        return status, second


__all__ = ["FALLBACK_STATUSES", "DoubleKnock"]

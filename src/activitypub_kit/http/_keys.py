"""Resolving public keys by key id, with the owner back-link and key rotation.

A key is accepted only when the key and its actor point at each other:

* key id with a fragment (``https://host/users/alice#main-key``): the document at the
  URL is the actor, which embeds the key (``publicKey`` or ``assertionMethod``); the key's
  ``owner``/``controller`` must be that actor;
* standalone key document (``https://host/keys/1``): its ``owner``/``controller`` actor is
  fetched and must list the key id among its keys.

A key cached earlier can be outdated (the actor rotated it): :meth:`KeyResolver.verify`
tries the cached key, then fetches the key again once - at most once per
``min_refresh_interval`` per key, so forged signatures cannot turn us into a fetch cannon.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urldefrag

from activitypub_kit._deprecated import deprecated_names
from activitypub_kit.errors import FetchError, KeyNotFoundError, KeyOwnerMismatchError
from activitypub_kit.http._budget import fetch_budget
from activitypub_kit.http._resolver import Resolver


@dataclass(frozen=True)
class VerifiedKey:
    """A remote public key whose ownership was verified in both directions.

    Formerly ``PublicKey``, renamed because :data:`activitypub_kit.signatures.PublicKey` is
    the cryptographic key type; ``http.PublicKey`` still works for one release (deprecated).
    """

    #: The key id.
    id: str
    #: The id of the actor that owns the key (and lists it).
    owner: str
    #: PEM text (``publicKeyPem``), when the key gives one.
    public_key_pem: str | None
    #: Multibase text (``publicKeyMultibase``, FEP-521a), when the key gives one.
    public_key_multibase: str | None
    #: Wall-clock time the key was fetched.
    fetched_at: float

    def to_json(self) -> dict[str, Any]:
        """A JSON object for the cache."""
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> VerifiedKey:
        """Rebuild from :meth:`to_json`."""
        return cls(
            id=str(value["id"]),
            owner=str(value["owner"]),
            public_key_pem=value.get("public_key_pem"),
            public_key_multibase=value.get("public_key_multibase"),
            fetched_at=float(value.get("fetched_at", 0.0)),
        )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def keys_of(actor: dict[str, Any]) -> list[Any]:
    """Every key entry an actor lists (``publicKey`` and ``assertionMethod``)."""
    return [*_as_list(actor.get("publicKey")), *_as_list(actor.get("assertionMethod"))]


def _lists_key(actor: dict[str, Any], key_id: str) -> bool:
    for entry in keys_of(actor):
        if entry == key_id or (isinstance(entry, dict) and entry.get("id") == key_id):
            return True
    return False


def _owner_of(key: dict[str, Any]) -> str | None:
    owner = key.get("owner", key.get("controller"))
    return owner if isinstance(owner, str) else None


def _material(key: dict[str, Any]) -> tuple[str | None, str | None]:
    pem = key.get("publicKeyPem")
    multibase = key.get("publicKeyMultibase")
    return (
        pem if isinstance(pem, str) else None,
        multibase if isinstance(multibase, str) else None,
    )


class KeyResolver:
    """Give the verified public key for a key id (cached), or refetch it on demand."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        min_refresh_interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.resolver = resolver
        self.min_refresh_interval = min_refresh_interval
        self.clock = clock

    async def get_key(self, key_id: str, *, refresh: bool = False) -> VerifiedKey:
        """The key ``key_id`` from the cache, or fetched and verified.

        ``refresh=True`` fetches it again (the actor may have rotated it), unless the
        cached copy is younger than ``min_refresh_interval``.
        """
        key, _fresh = await self._get(key_id, refresh=refresh)
        return key

    async def verify(
        self, key_id: str, check: Callable[[VerifiedKey], bool | Awaitable[bool]]
    ) -> VerifiedKey | None:
        """Run ``check`` with the key; if a cached key fails it, refetch once and retry.

        Returns the key that passed, or ``None`` when no key passes.
        """
        key, fresh = await self._get(key_id, refresh=False)
        if await _run(check, key):
            return key
        if fresh:
            return None
        newer, fresh = await self._get(key_id, refresh=True)
        if not fresh or newer == key:
            return None
        return newer if await _run(check, newer) else None

    async def _get(self, key_id: str, *, refresh: bool) -> tuple[VerifiedKey, bool]:
        await self.resolver.refuse_blocked(key_id)  # even a cached key: the block wins
        cache = self.resolver.cache
        with fetch_budget(self.resolver.client.settings.fetch_budget):
            cached = None
            if refresh:
                try:
                    cached = await cache.get("key", key_id)
                except FetchError:
                    cached = None
                if cached and self.clock() - cached.value.get("fetched_at", 0) < (
                    self.min_refresh_interval
                ):
                    return VerifiedKey.from_json(cached.value), False
            else:
                cached = await cache.get("key", key_id)
                if cached is not None:
                    return VerifiedKey.from_json(cached.value), False
            try:
                key = await self._fetch(key_id, refresh=refresh)
            except FetchError as error:
                await cache.put_failure("key", key_id, error)
                raise
            await cache.put("key", key_id, key.to_json())
            return key, True

    async def _fetch(self, key_id: str, *, refresh: bool) -> VerifiedKey:
        url, _fragment = urldefrag(key_id)
        document = await self.resolver.fetch(url, refresh=refresh)
        embedded = next(
            (k for k in keys_of(document) if isinstance(k, dict) and k.get("id") == key_id),
            None,
        )
        owner: str | None
        if embedded is not None:
            owner = _owner_of(embedded)
            if owner is None or owner != document["id"]:
                raise KeyOwnerMismatchError(
                    f"key {key_id} names owner {owner}, not the actor {document['id']}"
                    f" that holds it"
                )
            pem, multibase = _material(embedded)
        elif document["id"] == key_id and any(_material(document)):
            owner = _owner_of(document)
            if owner is None:
                raise KeyOwnerMismatchError(f"key {key_id} names no owner or controller")
            actor = await self.resolver.fetch(owner, refresh=refresh)
            if not _lists_key(actor, key_id):
                raise KeyOwnerMismatchError(
                    f"key {key_id} names owner {owner}, which does not list that key"
                )
            pem, multibase = _material(document)
        else:
            raise KeyNotFoundError(f"document {document['id']} holds no key {key_id}")
        if pem is None and multibase is None:
            raise KeyNotFoundError(f"key {key_id} has neither publicKeyPem nor publicKeyMultibase")
        return VerifiedKey(key_id, str(owner), pem, multibase, self.clock())


async def _run(check: Callable[[VerifiedKey], bool | Awaitable[bool]], key: VerifiedKey) -> bool:
    result = check(key)
    if inspect.isawaitable(result):
        result = await result
    return bool(result)


__getattr__ = deprecated_names(
    __name__, {"PublicKey": ("activitypub_kit.http._keys.VerifiedKey", VerifiedKey)}
)

__all__ = ["KeyResolver", "VerifiedKey", "keys_of"]

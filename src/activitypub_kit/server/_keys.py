"""Key pairs of local actors: ids, the actor-document entries, and a persisted default.

An actor may hold an RSA key (what draft-cavage signatures and Mastodon use) and an Ed25519
key (RFC 9421 and FEP-8b32 proofs).  Key ids are fragments of the actor URI: the first RSA
key is ``#main-key`` (Mastodon's convention), the first Ed25519 key ``#ed25519-key``, any
further one ``#key-N``.

Loaded keys are kept in a :class:`KeyCache` for a bounded time, and generating or loading a
key (RSA generation takes up to seconds) runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from activitypub_kit._cache import BoundedCache
from activitypub_kit.errors import KeyFormatError
from activitypub_kit.signatures._actor_keys import multikey_entry, public_key_entry
from activitypub_kit.signatures._keys import (
    PrivateKey,
    generate_ed25519_key,
    generate_rsa_key,
    private_key_to_pem,
)
from activitypub_kit.storage._base import JSONValue, KeyValueStore

#: The ``key_ref`` of the instance actor's keys (``fed.key_pairs_of(INSTANCE)``).
INSTANCE = "*instance*"


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A local actor's private key and the id its public half is published under."""

    key_id: str
    private_key: PrivateKey

    @property
    def is_rsa(self) -> bool:
        """Whether this is an RSA key (the one draft-cavage signing uses)."""
        return isinstance(self.private_key, rsa.RSAPrivateKey)


def key_pairs_for(actor_uri: str, keys: Sequence[PrivateKey]) -> list[KeyPair]:
    """Name each key with its id under ``actor_uri`` (see the module docstring)."""
    pairs: list[KeyPair] = []
    seen_rsa = seen_ed = False
    for index, key in enumerate(keys):
        if isinstance(key, rsa.RSAPrivateKey) and not seen_rsa:
            fragment, seen_rsa = "main-key", True
        elif isinstance(key, ed25519.Ed25519PrivateKey) and not seen_ed:
            fragment, seen_ed = "ed25519-key", True
        else:
            fragment = f"key-{index + 1}"
        pairs.append(KeyPair(f"{actor_uri}#{fragment}", key))
    return pairs


def key_entries(actor_uri: str, pairs: Sequence[KeyPair]) -> dict[str, Any]:
    """The ``publicKey`` (first RSA key) and ``assertionMethod`` (every key) of an actor."""
    entries: dict[str, Any] = {}
    rsa_pair = next((p for p in pairs if p.is_rsa), None)
    if rsa_pair is not None:
        entries["publicKey"] = public_key_entry(
            rsa_pair.private_key, key_id=rsa_pair.key_id, owner=actor_uri
        )
    methods = [
        multikey_entry(p.private_key, key_id=p.key_id, controller=actor_uri)
        for p in pairs
        if isinstance(p.private_key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey)
    ]
    if methods:
        entries["assertionMethod"] = methods
    return entries


async def stored_keys(store: KeyValueStore, name: str) -> list[PrivateKey]:
    """An RSA and an Ed25519 key for ``name``, generated once and kept in ``store``.

    Generating runs in a worker thread (it releases the GIL: the event loop keeps
    running).  Concurrent first calls agree on one pair (compare-and-set);
    :class:`KeyCache` also makes them one call per process.  Keys read back from the store
    are ones this function wrote, so they are loaded without OpenSSL's RSA consistency
    check, which holds the GIL for 90 ms (RSA-2048) to 500 ms (RSA-4096).
    """
    key = ("server", "keys", name)
    value = await store.get(key)
    if not isinstance(value, list):
        fresh = await anyio.to_thread.run_sync(_new_keys)
        pems: list[JSONValue] = [private_key_to_pem(k) for k in fresh]
        if await store.cas(key, None, pems):
            return fresh
        value = await store.get(key)
    if not isinstance(value, list) or not all(isinstance(pem, str) for pem in value):
        raise KeyFormatError(f"the stored keys of {name!r} are not a list of PEM strings")
    return [_load_own_pem(str(pem)) for pem in value]


def _new_keys() -> list[PrivateKey]:
    return [generate_rsa_key(), generate_ed25519_key()]


def _load_own_pem(pem: str) -> PrivateKey:
    """Load a private key PEM that :func:`stored_keys` wrote (no RSA consistency check)."""
    try:
        key = serialization.load_pem_private_key(
            pem.encode("ascii"), password=None, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError(f"a stored private key cannot be loaded: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise KeyFormatError(f"stored private key type {type(key).__name__} is not supported")
    return key


class KeyCache:
    """Key pairs per handle, each kept ``ttl`` seconds, at most ``size`` handles (LRU).

    :meth:`get` loads a missing or expired entry with the given loader, one load per handle
    at a time: concurrent first uses of a new actor wait for the one load (and the one key
    generation) instead of each running their own.  :meth:`forget` drops entries, so the
    next use loads again (after a key rotation).
    """

    def __init__(
        self,
        *,
        ttl: float = 300.0,
        size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0:
            raise ValueError("the key cache TTL must not be negative")
        self.clock = clock
        self._entries: BoundedCache[str, list[KeyPair]] = BoundedCache(size, ttl=ttl, clock=clock)
        self._locks: dict[str, tuple[anyio.Lock, int]] = {}
        self._epoch = 0  # bumped by forget(): a load that began before it is not kept

    @property
    def ttl(self) -> float:
        """Seconds a loaded entry is reused (``0``: load every time).

        Setting it forgets the entries loaded so far.
        """
        return self._entries.ttl or 0.0

    @ttl.setter
    def ttl(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the key cache TTL must not be negative")
        self.forget()
        self._entries.ttl = seconds

    @property
    def size(self) -> int:
        """The most handles kept; the least recently used goes first."""
        return self._entries.maxsize

    def _fresh(self, handle: str) -> list[KeyPair] | None:
        return self._entries.get(handle)

    async def get(self, handle: str, load: Callable[[], Awaitable[list[KeyPair]]]) -> list[KeyPair]:
        """The cached pairs of ``handle``, or what ``load()`` gives (then cached)."""
        found = self._fresh(handle)
        if found is not None:
            return found
        lock, users = self._locks.get(handle) or (anyio.Lock(), 0)
        self._locks[handle] = (lock, users + 1)
        try:
            async with lock:
                found = self._fresh(handle)
                if found is not None:
                    return found
                loaded_at, epoch = self.clock(), self._epoch
                pairs = await load()
                if epoch == self._epoch:
                    # Fresh for ``ttl`` from when the load began, as a read of the store is.
                    remaining = loaded_at + self.ttl - self.clock()
                    self._entries.set(handle, pairs, ttl=remaining)
                return pairs
        finally:
            lock, users = self._locks[handle]
            if users > 1:
                self._locks[handle] = (lock, users - 1)
            else:
                del self._locks[handle]

    def forget(self, handle: str | None = None) -> None:
        """Drop the pairs of ``handle`` (every handle when ``None``)."""
        self._epoch += 1
        if handle is None:
            self._entries.clear()
        else:
            self._entries.pop(handle)


__all__ = ["INSTANCE", "KeyPair", "KeyCache", "key_pairs_for", "key_entries", "stored_keys"]

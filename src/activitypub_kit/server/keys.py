"""Key pairs of local actors: ids, the actor-document entries, and a persisted default.

An actor may hold an RSA key (what draft-cavage signatures and Mastodon use) and an Ed25519
key (RFC 9421 and FEP-8b32 proofs).  Key ids are fragments of the actor URI: the first RSA
key is ``#main-key`` (Mastodon's convention), the first Ed25519 key ``#ed25519-key``, any
further one ``#key-N``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from activitypub_kit.signatures.actor_keys import multikey_entry, public_key_entry
from activitypub_kit.signatures.keys import (
    PrivateKey,
    generate_ed25519_key,
    generate_rsa_key,
    load_private_key_pem,
    private_key_to_pem,
)
from activitypub_kit.storage.base import KeyValueStore


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

    Concurrent first calls agree on one pair (compare-and-set).
    """
    key = ("server", "keys", name)
    value = await store.get(key)
    if not isinstance(value, list):
        fresh = [
            private_key_to_pem(generate_rsa_key()),
            private_key_to_pem(generate_ed25519_key()),
        ]
        if not await store.cas(key, None, list(fresh)):
            value = await store.get(key)
        else:
            value = list(fresh)
    assert isinstance(value, list)
    return [load_private_key_pem(str(pem)) for pem in value]


__all__ = ["KeyPair", "key_pairs_for", "key_entries", "stored_keys"]

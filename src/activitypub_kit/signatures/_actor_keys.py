"""An actor's key entries as plain JSON: ``publicKey`` (security v1) and ``assertionMethod``.

These build and read the dictionaries found in actor documents; the typed models wrap them.
An actor may carry several keys: ``publicKey`` may be one object or a list, and
``assertionMethod`` (FEP-521a) is a list of ``Multikey`` objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from activitypub_kit.errors import KeyFormatError
from activitypub_kit.signatures._keys import (
    PrivateKey,
    PublicKey,
    load_public_key_pem,
    multibase_to_public_key,
    public_key_to_multibase,
    public_key_to_pem,
)


def public_key_entry(key: PublicKey | PrivateKey, *, key_id: str, owner: str) -> dict[str, str]:
    """The ``publicKey`` object of an actor (what Mastodon reads): id, owner, publicKeyPem."""
    return {"id": key_id, "owner": owner, "publicKeyPem": public_key_to_pem(key)}


def multikey_entry(key: PublicKey | PrivateKey, *, key_id: str, controller: str) -> dict[str, str]:
    """An ``assertionMethod`` entry of type ``Multikey`` (FEP-521a)."""
    return {
        "id": key_id,
        "type": "Multikey",
        "controller": controller,
        "publicKeyMultibase": public_key_to_multibase(key),
    }


@dataclass(frozen=True, slots=True)
class ActorKey:
    """A public key found in an actor document, with the id and owner it was listed under."""

    #: The key's id (``keyId`` / ``verificationMethod``).
    id: str
    #: The ``owner`` (publicKey) or ``controller`` (Multikey) the entry names.
    owner: str
    #: The decoded key.
    key: PublicKey
    #: ``"publicKey"``, ``"assertionMethod"`` or ``"document"`` (a stand-alone key).
    source: str


def _entries(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def actor_keys(actor: dict[str, Any]) -> list[ActorKey]:
    """Every key an actor document lists whose owner/controller is the actor itself.

    Entries that are bare URIs (not embedded) or owned by another actor are skipped: they
    prove nothing about this actor.  Malformed embedded keys raise.

    :raises KeyFormatError: when an embedded key cannot be decoded.
    """
    actor_id = actor.get("id")
    if not isinstance(actor_id, str):
        raise KeyFormatError("actor document has no string id")
    found: list[ActorKey] = []
    for entry in _entries(actor.get("publicKey")):
        if not isinstance(entry, dict) or entry.get("owner") != actor_id:
            continue
        pem, key_id = entry.get("publicKeyPem"), entry.get("id")
        if isinstance(pem, str) and isinstance(key_id, str):
            found.append(ActorKey(key_id, actor_id, load_public_key_pem(pem), "publicKey"))
    for entry in _entries(actor.get("assertionMethod")):
        if not isinstance(entry, dict) or entry.get("controller") != actor_id:
            continue
        value, key_id = entry.get("publicKeyMultibase"), entry.get("id")
        if entry.get("type") == "Multikey" and isinstance(value, str) and isinstance(key_id, str):
            found.append(
                ActorKey(key_id, actor_id, multibase_to_public_key(value), "assertionMethod")
            )
    return found


def find_actor_key(actor: dict[str, Any], key_id: str) -> ActorKey:
    """The key with id ``key_id`` that the actor lists as its own.

    :raises KeyFormatError: when the actor lists no such key (or lists it for someone else).
    """
    for candidate in actor_keys(actor):
        if candidate.id == key_id:
            return candidate
    raise KeyFormatError(f"actor {actor.get('id')!r} lists no key {key_id!r} of its own")


def key_from_document(document: dict[str, Any]) -> ActorKey:
    """Decode a stand-alone key document (``CryptographicKey`` or ``Multikey``).

    The ``owner`` / ``controller`` it names is only a claim: trust the key for that actor
    after fetching the actor and finding this key id among its own keys
    (:func:`find_actor_key`), which is what Mastodon does too.

    :raises KeyFormatError: when the document is not a key or cannot be decoded.
    """
    key_id = document.get("id")
    if not isinstance(key_id, str):
        raise KeyFormatError("key document has no string id")
    pem, multibase = document.get("publicKeyPem"), document.get("publicKeyMultibase")
    owner = document.get("owner", document.get("controller"))
    if not isinstance(owner, str):
        raise KeyFormatError(f"key document {key_id!r} names no owner or controller")
    if isinstance(pem, str):
        return ActorKey(key_id, owner, load_public_key_pem(pem), "document")
    if isinstance(multibase, str):
        return ActorKey(key_id, owner, multibase_to_public_key(multibase), "document")
    raise KeyFormatError(f"key document {key_id!r} has neither publicKeyPem nor publicKeyMultibase")


__all__ = [
    "public_key_entry",
    "multikey_entry",
    "ActorKey",
    "actor_keys",
    "find_actor_key",
    "key_from_document",
]

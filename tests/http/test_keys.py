"""Key resolution: owner back-link both ways, fragment and standalone keys, rotation."""

from __future__ import annotations

from typing import Any

import pytest

from activitypub_kit.errors import KeyNotFoundError, KeyOwnerMismatchError
from activitypub_kit.http import HttpClient, KeyResolver, Resolver, VerifiedKey
from loopback import StartServer

pytestmark = pytest.mark.anyio

PEM_1 = "-----BEGIN PUBLIC KEY-----\nAAAA-one\n-----END PUBLIC KEY-----\n"
PEM_2 = "-----BEGIN PUBLIC KEY-----\nBBBB-two\n-----END PUBLIC KEY-----\n"


def actor(actor_id: str, keys: Any, **extra: Any) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": actor_id,
        "type": "Person",
        "preferredUsername": actor_id.rsplit("/", 1)[-1],
        "inbox": actor_id + "/inbox",
        "publicKey": keys,
    } | extra


async def test_fragment_key_embedded_in_the_actor(
    start_server: StartServer, client: HttpClient
) -> None:
    server = await start_server("a.test")
    alice = server.url("/users/alice")
    server.json(
        "/users/alice",
        actor(alice, {"id": alice + "#main-key", "owner": alice, "publicKeyPem": PEM_1}),
    )
    keys = KeyResolver(Resolver(client))
    key = await keys.get_key(alice + "#main-key")
    assert (key.id, key.owner, key.public_key_pem) == (alice + "#main-key", alice, PEM_1)
    await keys.get_key(alice + "#main-key")
    assert server.hits("/users/alice") == 1  # cached


async def test_multikey_in_assertion_method(start_server: StartServer, client: HttpClient) -> None:
    server = await start_server("a.test")
    alice = server.url("/users/alice")
    multikey = {
        "id": alice + "#ed25519-key",
        "type": "Multikey",
        "controller": alice,
        "publicKeyMultibase": "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
    }
    server.json("/users/alice", actor(alice, None, assertionMethod=[multikey]))
    key = await KeyResolver(Resolver(client)).get_key(alice + "#ed25519-key")
    assert key.public_key_multibase == multikey["publicKeyMultibase"]
    assert key.owner == alice


async def test_standalone_key_document_listed_by_its_owner(
    start_server: StartServer, client: HttpClient
) -> None:
    server = await start_server("a.test")
    alice = server.url("/users/alice")
    key_id = server.url("/keys/1")
    server.json("/keys/1", {"id": key_id, "owner": alice, "publicKeyPem": PEM_1})
    server.json("/users/alice", actor(alice, key_id))
    key = await KeyResolver(Resolver(client)).get_key(key_id)
    assert key.owner == alice
    assert key.public_key_pem == PEM_1


async def test_key_claiming_another_actor_is_refused(
    start_server: StartServer, client: HttpClient
) -> None:
    evil = await start_server("a.test")
    victim = await start_server("b.test")
    alice = victim.url("/users/alice")
    victim.json(
        "/users/alice",
        actor(alice, {"id": alice + "#main-key", "owner": alice, "publicKeyPem": PEM_1}),
    )
    evil.json("/keys/k", {"id": evil.url("/keys/k"), "owner": alice, "publicKeyPem": PEM_2})
    keys = KeyResolver(Resolver(client))
    with pytest.raises(KeyOwnerMismatchError, match="does not list that key"):
        await keys.get_key(evil.url("/keys/k"))
    # The failure is remembered: no second round of fetches for the same bad key.
    with pytest.raises(KeyOwnerMismatchError, match="cached failure"):
        await keys.get_key(evil.url("/keys/k"))
    assert evil.hits("/keys/k") == 1


async def test_embedded_key_naming_another_owner_is_refused(
    start_server: StartServer, client: HttpClient
) -> None:
    server = await start_server("a.test")
    eve = server.url("/users/eve")
    bob = server.url("/users/bob")
    server.json("/users/eve", actor(eve, {"id": eve + "#k", "owner": bob, "publicKeyPem": PEM_1}))
    with pytest.raises(KeyOwnerMismatchError, match="not the actor"):
        await KeyResolver(Resolver(client)).get_key(eve + "#k")


async def test_actor_document_on_another_origin_is_not_a_key_source(
    start_server: StartServer, client: HttpClient
) -> None:
    evil = await start_server("a.test")
    victim = await start_server("b.test")
    alice = victim.url("/users/alice")
    # H-12 (b): the keyId URL on evil serves an actor claiming to be victim's alice.
    evil.json("/k", actor(alice, {"id": evil.url("/k"), "owner": alice, "publicKeyPem": PEM_2}))
    victim.json("/users/alice", actor(alice, {"id": alice + "#main-key", "owner": alice}))
    with pytest.raises(KeyNotFoundError, match="holds no key"):
        await KeyResolver(Resolver(client)).get_key(evil.url("/k"))


async def test_missing_key_is_reported(start_server: StartServer, client: HttpClient) -> None:
    server = await start_server("a.test")
    alice = server.url("/users/alice")
    server.json("/users/alice", actor(alice, {"id": alice + "#main-key", "owner": alice}))
    with pytest.raises(KeyNotFoundError, match="no key"):
        await KeyResolver(Resolver(client)).get_key(alice + "#other-key")


async def test_rotated_key_is_refetched_once(start_server: StartServer, client: HttpClient) -> None:
    server = await start_server("a.test")
    alice = server.url("/users/alice")
    key_id = alice + "#main-key"
    server.json("/users/alice", actor(alice, {"id": key_id, "owner": alice, "publicKeyPem": PEM_1}))
    clock = [1000.0]
    keys = KeyResolver(Resolver(client), min_refresh_interval=60, clock=lambda: clock[0])
    assert (await keys.get_key(key_id)).public_key_pem == PEM_1
    # alice rotates her key; a request signed with the new key arrives.
    server.json("/users/alice", actor(alice, {"id": key_id, "owner": alice, "publicKeyPem": PEM_2}))

    def signed_with_new_key(key: VerifiedKey) -> bool:
        return key.public_key_pem == PEM_2

    # Within the refresh interval the cached key is not refetched (no fetch storms)...
    assert await keys.verify(key_id, signed_with_new_key) is None
    assert server.hits("/users/alice") == 1
    # ...after it, one refetch finds the rotated key.
    clock[0] += 61
    key = await keys.verify(key_id, signed_with_new_key)
    assert key is not None
    assert key.public_key_pem == PEM_2
    assert server.hits("/users/alice") == 2
    # A forged signature fails against the fresh key without another fetch.
    assert await keys.verify(key_id, lambda key: False) is None
    assert server.hits("/users/alice") == 2
    assert (await keys.get_key(key_id, refresh=True)).public_key_pem == PEM_2


async def test_key_of_an_actor_already_fetched_costs_no_request(
    start_server: StartServer, client: HttpClient
) -> None:
    server = await start_server("a.test")
    alice = server.url("/users/alice")
    server.json(
        "/users/alice",
        actor(alice, {"id": alice + "#main-key", "owner": alice, "publicKeyPem": PEM_1}),
    )
    resolver = Resolver(client)
    await resolver.fetch_actor(alice)
    key = await KeyResolver(resolver).get_key(alice + "#main-key")
    assert key.public_key_pem == PEM_1
    assert server.hits("/users/alice") == 1

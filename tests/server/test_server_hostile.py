"""Hostile inbox: one test per rule of the pipeline; each gets its precise status and never
reaches a handler (nothing is even queued), or is accepted with no effect where the rule
says drop.  The attacker (eve, mallory) lives on c.test, the victim (vic) on b.test, the
target inbox on a.test — all real servers on loopback.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from hostile import AS, post_signed, send_raw, serve_actor
from nodes import keys_for

from activitypub_kit.signatures import (
    HttpRequest,
    create_proof,
    public_key_to_pem,
    sign_cavage,
    sign_ld_signature,
    sign_rfc9421,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def world(start_node, start_server, client):
    blocked: set[str] = set()
    target = await start_node(
        "a.test",
        users={"alice": "Alice"},
        worker=False,
        block_actor=lambda actor: urlsplit(actor).hostname in blocked,
    )
    evil = await start_server("c.test")
    victim = await start_server("b.test")
    eve = serve_actor(evil, "eve", keys_for("eve"))
    mallory = serve_actor(evil, "mallory", keys_for("mallory"))
    vic = serve_actor(victim, "vic", keys_for("vic"))
    victim.json(
        "/notes/1",
        {
            "@context": AS,
            "id": victim.url("/notes/1"),
            "type": "Note",
            "attributedTo": vic.id,
            "content": "mine",
        },
    )
    evil.json(
        "/notes/e1",
        {
            "@context": AS,
            "id": evil.url("/notes/e1"),
            "type": "Note",
            "attributedTo": eve.id,
            "content": "eve's",
        },
    )

    class World:
        pass

    w = World()
    w.target, w.evil, w.victim, w.eve, w.mallory, w.vic = target, evil, victim, eve, mallory, vic
    w.blocked = blocked
    w.inbox = target.fed.uri("inbox", handle="alice")
    w.client = client

    async def post(document: Any, signer=None, key_id=None, **kw: Any):
        signer = signer or eve
        return await post_signed(
            client, kw.pop("url", w.inbox), document, signer.rsa, key_id or signer.key_id, **kw
        )

    w.post = post
    return w


def like(w, actor, n=1, **extra):
    return {
        "@context": AS,
        "id": f"{actor.id}/likes/{n}",
        "type": "Like",
        "actor": actor.id,
        "object": w.target.note_uri("1"),
        **extra,
    }


async def queued(w) -> int:
    return (await w.target.fed.queue.stats()).depth


async def refused(w, status, reason, document, **kw):
    got, body = await w.post(document, **kw)
    assert got == status, body
    assert reason in body.get("error", body.get("reason", "")), body
    assert await queued(w) == 0


async def test_valid_activity_is_accepted_and_queued(world):
    got, body = await world.post(like(world, world.eve))
    assert (got, body) == (202, {"status": "accepted"})
    assert await queued(world) == 1


async def test_unsigned(world):
    status, body = await post_signed(world.client, world.inbox, like(world, world.eve), None)
    assert (status, body["error"]) == (
        401,
        "request is not signed (no HTTP signature, proof or LD signature)",
    )
    assert await queued(world) == 0


async def test_digest_mismatch(world):
    document = like(world, world.eve)
    tampered = like(world, world.eve, summary="changed after signing")
    await refused(world, 401, "Digest", document, body_after_signing=json.dumps(tampered).encode())
    assert world.evil.hits("/users/eve") == 0  # refused before any key fetch


@pytest.mark.parametrize("offset", [-7200, 7200])
async def test_stale_or_future_date(world, offset):
    await refused(world, 401, "", like(world, world.eve), now=time.time() + offset)
    status, body = await world.post(like(world, world.eve, 2), now=time.time() + offset)
    assert status == 401
    assert "Date" in body["error"] or "date" in body["error"]


async def test_key_owned_by_another_actor(world):
    # H-10/H-11: eve signs an activity claiming vic as its actor.
    forged = {
        "@context": AS,
        "id": world.vic.id + "/creates/1",
        "type": "Create",
        "actor": world.vic.id,
        "object": {
            "id": world.victim.url("/notes/2"),
            "type": "Note",
            "attributedTo": world.vic.id,
        },
    }
    await refused(world, 401, f"the signer {world.eve.id} is not the activity's actor", forged)
    assert world.victim.hits("/users/vic") == 0  # no fetch triggered by the body


async def test_key_document_claiming_another_owner(world):
    # H-12: a key document on c.test names vic as owner; vic does not list it.
    world.evil.json(
        "/keys/1",
        {
            "@context": [AS, "https://w3id.org/security/v1"],
            "id": world.evil.url("/keys/1"),
            "owner": world.vic.id,
            "publicKeyPem": public_key_to_pem(world.eve.rsa),
        },
    )
    forged = like(world, world.vic)
    await refused(world, 401, "cannot fetch key", forged, key_id=world.evil.url("/keys/1"))


async def test_object_on_another_origin(world):
    create = {
        "@context": AS,
        "id": world.eve.id + "/creates/1",
        "type": "Create",
        "actor": world.eve.id,
        "object": {
            "id": world.victim.url("/notes/9"),
            "type": "Note",
            "attributedTo": world.eve.id,
        },
    }
    await refused(world, 403, "is not on the actor's origin", create)


async def test_activity_id_on_another_origin(world):
    await refused(
        world,
        403,
        "is not on the actor's origin",
        {**like(world, world.eve), "id": world.victim.url("/likes/1")},
    )


async def test_forged_update_of_someone_elses_object(world):
    cross = {
        "@context": AS,
        "id": world.eve.id + "/updates/1",
        "type": "Update",
        "actor": world.eve.id,
        "object": {"id": world.victim.url("/notes/1"), "type": "Note", "content": "pwned"},
    }
    await refused(world, 403, "is not on the actor's origin", cross)
    same_origin = {
        "@context": AS,
        "id": world.mallory.id + "/updates/1",
        "type": "Update",
        "actor": world.mallory.id,
        "object": {
            "id": world.evil.url("/notes/e1"),
            "type": "Note",
            "attributedTo": world.eve.id,
            "content": "pwned",
        },
    }
    await refused(world, 403, "attributed to", same_origin, signer=world.mallory)


async def test_forged_delete_of_someone_elses_object(world):
    cross = {
        "@context": AS,
        "id": world.eve.id + "/deletes/1",
        "type": "Delete",
        "actor": world.eve.id,
        "object": world.victim.url("/notes/1"),
    }
    await refused(world, 403, "is not on the actor's origin", cross)
    # Same origin: the object still exists at its origin, so the Delete is dropped (202).
    same_origin = {
        "@context": AS,
        "id": world.mallory.id + "/deletes/1",
        "type": "Delete",
        "actor": world.mallory.id,
        "object": world.evil.url("/notes/e1"),
    }
    got, body = await world.post(same_origin, signer=world.mallory)
    assert (got, body["status"]) == (202, "dropped")
    assert "still exists" in body["reason"]
    assert await queued(world) == 0


async def test_undo_of_another_actors_activity(world):
    undo = {
        "@context": AS,
        "id": world.eve.id + "/undos/1",
        "type": "Undo",
        "actor": world.eve.id,
        "object": {
            "id": world.mallory.id + "/likes/1",
            "type": "Like",
            "actor": world.mallory.id,
            "object": world.target.note_uri("1"),
        },
    }
    await refused(world, 403, "only undo its own", undo)


async def test_replayed_activity_is_applied_once(world):
    document = like(world, world.eve)
    body = json.dumps(document).encode()
    first = await world.post(body)
    again = await world.post(body)
    assert first == (202, {"status": "accepted"})
    assert again == (202, {"status": "duplicate"})
    assert await queued(world) == 1


async def test_body_over_the_limit(world):
    huge = like(world, world.eve, content="x" * (1024 * 1024 + 1))
    await refused(world, 413, "over the 1048576-byte limit", huge)


async def test_deeply_nested_json(world):
    nested: Any = "leaf"
    for _ in range(300):
        nested = [nested]
    await refused(world, 400, "nests deeper than", like(world, world.eve, content=nested))
    shallow_but_deep: Any = {}
    for _ in range(60):
        shallow_but_deep = {"a": shallow_but_deep}
    await refused(world, 400, "nests deeper than", like(world, world.eve, summary=shallow_but_deep))


async def test_invalid_utf8(world):
    body = b'{"id": "\xff\xfe", "type": "Like"}'
    await refused(world, 400, "not valid UTF-8", body)


async def test_not_an_object_or_not_json(world):
    await refused(world, 400, "must be a JSON object", b"[1, 2]")
    await refused(world, 400, "not JSON", b"{nope")
    await refused(world, 400, "exactly one actor", {"id": world.eve.id + "/x", "type": "Like"})


async def test_context_redefining_actor(world):
    document = {
        **like(world, world.eve),
        "@context": [AS, {"actor": "https://www.w3.org/ns/activitystreams#summary"}],
    }
    await refused(world, 400, "@context redefines ActivityStreams terms", document)


async def test_blocked_domain(world):
    world.blocked.add("c.test")
    await refused(world, 403, "is blocked here", like(world, world.eve))


async def test_unknown_personal_inbox(world):
    await refused(
        world,
        404,
        "no actor",
        like(world, world.eve),
        url=world.target.fed.uri("inbox", handle="nobody"),
    )


async def test_relayed_activity_with_proof_or_ld_signature(world):
    # mallory relays (HTTP-signs) an activity by eve that eve vouches for with a proof.
    proved = create_proof(like(world, world.eve, 3), world.eve.ed25519, world.eve.ed_key_id)
    got, body = await world.post(proved, signer=world.mallory)
    assert (got, body) == (202, {"status": "accepted"})
    ld = sign_ld_signature(like(world, world.eve, 4), world.eve.rsa, world.eve.key_id)
    got, body = await world.post(ld, signer=world.mallory)
    assert (got, body) == (202, {"status": "accepted"})
    assert await queued(world) == 2
    # Tampered after signing: refused.
    tampered = {**ld, "id": world.eve.id + "/likes/5"}
    got, body = await world.post(tampered, signer=world.mallory)
    assert got == 401
    assert await queued(world) == 2


async def test_delete_of_a_gone_actor_is_accepted_without_a_fetch_loop(world):
    gone = serve_actor(world.evil, "gone", keys_for("gone"))
    world.evil.json("/users/gone", {"error": "gone"}, status=410, content_type="application/json")
    for n in range(3):
        delete = {
            "@context": AS,
            "id": f"{gone.id}#delete-{n}",
            "type": "Delete",
            "actor": gone.id,
            "object": gone.id,
        }
        got, body = await world.post(delete, signer=gone)
        assert (got, body) == (202, {"status": "accepted"})
    assert world.evil.hits("/users/gone") == 1
    assert await queued(world) == 3


async def test_rfc9421_signature_with_an_ed25519_key(world):
    document = like(world, world.eve, 9)
    body = json.dumps(document).encode()
    request = HttpRequest(
        "POST", world.inbox, [("Content-Type", "application/activity+json")], body
    )
    signed = sign_rfc9421(request, world.eve.ed25519, world.eve.ed_key_id, now=time.time())
    headers = [(k, v) for k, v in signed.headers.items() if k.lower() != "host"]
    response = await world.client.post(world.inbox, body, headers=headers, auth=None)
    assert (response.status_code, response.json()) == (202, {"status": "accepted"})
    # The same bytes with another body: the Content-Digest no longer matches.
    tampered = json.dumps(like(world, world.eve, 10)).encode()
    response = await world.client.post(world.inbox, tampered, headers=headers, auth=None)
    assert response.status_code == 401
    assert "Content-Digest" in response.json()["error"]
    assert await queued(world) == 1


async def test_a_key_is_never_taken_from_an_activity_body(world):
    # H-27: eve "updates" herself with a key she did not publish; the inbox accepts the
    # Update (it is hers) but keys only ever come from her origin.
    rogue = keys_for("rogue")
    forged_self = {
        "@context": [AS, "https://w3id.org/security/v1"],
        "id": world.eve.id,
        "type": "Person",
        "inbox": world.eve.id + "/inbox",
        "publicKey": {
            "id": world.eve.key_id,
            "owner": world.eve.id,
            "publicKeyPem": public_key_to_pem(rogue[0]),
        },
    }
    update = {
        "@context": [AS, "https://w3id.org/security/v1"],
        "id": world.eve.id + "#update-1",
        "type": "Update",
        "actor": world.eve.id,
        "object": forged_self,
    }
    assert (await world.post(update))[0] == 202
    status, body = await post_signed(
        world.client, world.inbox, like(world, world.eve, 11), rogue[0], world.eve.key_id
    )
    assert status == 401
    assert "does not verify" in body["error"]
    assert await queued(world) == 1  # the Update only


async def test_proof_with_an_ld_signature_over_it_as_fedify_signs(world):
    # Fedify adds its proof first, then an LD signature that covers the proof (its
    # @context already holds the security vocabulary, so the LD signature leaves it as is).
    document = {**like(world, world.eve, 11), "@context": [AS, "https://w3id.org/security/v1"]}
    proved = create_proof(document, world.eve.ed25519, world.eve.ed_key_id)
    both = sign_ld_signature(proved, world.eve.rsa, world.eve.key_id)
    assert both["@context"] == proved["@context"]
    got, body = await world.post(both, signer=world.mallory)
    assert (got, body) == (202, {"status": "accepted"})
    assert await queued(world) == 1
    # Tampered after signing: neither with nor without the LD signature does the proof hold.
    tampered = {**both, "id": world.eve.id + "/likes/12"}
    got, body = await world.post(tampered, signer=world.mallory)
    assert got == 401
    assert "does not verify" in body["error"]
    assert await queued(world) == 1


# -- the document checked is the document handled (issue 11) ---------------------------------

ALIAS_ID = {"xid": "@id", "id": "as:url"}


@pytest.mark.parametrize(
    "where",
    ["actor", "object", "object.tag", "object.attributedTo", "nested-list"],
)
async def test_an_embedded_context_cannot_change_who_or_what(world, where):
    # Signed by eve; a JSON-LD reader would see vic as the actor / the note's id on b.test.
    aliased = {"@context": ALIAS_ID, "id": world.eve.id, "xid": world.vic.id, "type": "Person"}
    note = {
        "id": world.evil.url("/notes/e9"),
        "type": "Note",
        "attributedTo": world.eve.id,
        "content": "hi",
    }
    create = {
        "@context": AS,
        "id": world.eve.id + "/creates/9",
        "type": "Create",
        "actor": world.eve.id,
        "object": note,
    }
    if where == "actor":
        create["actor"] = aliased
    elif where == "object":
        create["object"] = {**note, "@context": ALIAS_ID, "xid": world.victim.url("/notes/1")}
    elif where == "object.tag":
        create["object"] = {**note, "tag": [{"type": "Mention", "href": world.vic.id}, aliased]}
    elif where == "object.attributedTo":
        create["object"] = {**note, "attributedTo": aliased}
    else:
        create["object"] = {**note, "attachment": [[{"x": [aliased]}]]}
    await refused(world, 400, "aliases a JSON-LD keyword", create)


async def test_a_keyword_alias_alone_or_an_id_keyword_is_refused(world):
    alias_only = {"@context": {"xid": "@id"}, "xid": world.vic.id, "type": "Person"}
    await refused(
        world, 400, "aliases a JSON-LD keyword", {**like(world, world.eve), "actor": alias_only}
    )
    at_id = {"@id": world.victim.url("/notes/1"), "type": "Note", "content": "forged"}
    await refused(
        world, 400, "JSON-LD keyword object.@id", {**like(world, world.eve), "object": at_id}
    )
    scoped = {"@context": {"by": {"@id": "as:attributedTo", "@context": {"id": "as:url"}}}}
    await refused(world, 400, "redefines", {**like(world, world.eve), **scoped})


async def test_harmless_embedded_contexts_are_read_as_they_are(world):
    # Lemmy embeds activities with their own (ordinary) @context: accepted unchanged.
    inner = {**like(world, world.eve, 21), "@context": [AS, "https://w3id.org/security/v1"]}
    announce = {
        "@context": AS,
        "id": world.eve.id + "/announces/21",
        "type": "Announce",
        "actor": world.eve.id,
        "object": inner,
    }
    got, body = await world.post(announce)
    assert (got, body) == (202, {"status": "accepted"})
    [message] = await world.target.fed.queue.receive(lease=30)
    assert message.body["activity"] == announce


@pytest.mark.parametrize("prefix", ["as:", "https://www.w3.org/ns/activitystreams#"])
@pytest.mark.parametrize("kind", ["Create", "Update", "Delete", "Undo"])
async def test_type_iris_meet_the_same_origin_rules(world, prefix, kind):
    foreign = {
        "id": world.victim.url("/notes/1"),
        "type": "Note",
        "attributedTo": world.vic.id,
        "content": "forged",
    }
    if kind == "Undo":
        foreign = {"id": world.vic.id + "/follows/1", "type": "Follow", "actor": world.vic.id}
    document = {
        "@context": AS,
        "id": f"{world.eve.id}/{kind.lower()}/iri",
        "type": prefix + kind,
        "actor": world.eve.id,
        "object": foreign,
    }
    await refused(world, 403, "is not on the actor's origin", document)


async def test_announce_spelled_as_an_iri_still_strips_a_foreign_embed(world):
    announce = {
        "@context": AS,
        "id": world.eve.id + "/announces/iri",
        "type": "https://www.w3.org/ns/activitystreams#Announce",
        "actor": world.eve.id,
        "object": {"id": world.victim.url("/notes/1"), "type": "Note", "content": "forged"},
    }
    assert (await world.post(announce))[0] == 202
    [message] = await world.target.fed.queue.receive(lease=30)
    assert message.body["activity"]["object"] == world.victim.url("/notes/1")


# -- a signature is bound to this server -----------------------------------------------------


def _for_another_server(world, document, *, scheme="cavage"):
    """eve's genuine delivery of ``document`` to b.test, as captured there."""
    elsewhere = world.victim.url("/users/vic/inbox")
    body = json.dumps(document).encode()
    request = HttpRequest("POST", elsewhere, [("Content-Type", "application/activity+json")], body)
    if scheme == "cavage":
        return sign_cavage(request, world.eve.rsa, world.eve.key_id, now=time.time())
    return sign_rfc9421(request, world.eve.ed25519, world.eve.ed_key_id, now=time.time())


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
async def test_a_delivery_to_another_server_cannot_be_replayed_here(world, scheme):
    captured = _for_another_server(world, like(world, world.eve, 31), scheme=scheme)
    # Byte for byte, Host naming b.test, sent to our port on our inbox path.
    path = urlsplit(world.inbox).path
    replay = HttpRequest(
        "POST",
        f"{world.victim.origin}{path}",
        list(captured.headers.items()),
        captured.body,
    )
    status, body = await send_raw(world.target.port, replay)
    assert status == 401, body
    assert "not to this server" in body["error"]
    assert await queued(world) == 0
    # The same request genuinely addressed to us is fine (the check is not a blanket refusal).
    ours = HttpRequest(
        "POST", world.inbox, [("Content-Type", "application/activity+json")], captured.body
    )
    signed = sign_cavage(ours, world.eve.rsa, world.eve.key_id, now=time.time())
    status, body = await send_raw(world.target.port, signed)
    assert (status, body) == (202, {"status": "accepted"})


async def test_signed_get_for_another_server_is_refused(start_node, start_server):
    node = await start_node("a.test", users={"alice": "Alice"}, worker=False, authorized_fetch=True)
    evil = await start_server("c.test")
    eve = serve_actor(evil, "eve", keys_for("eve"))
    path = urlsplit(node.actor("alice")).path
    headers = [("Accept", "application/activity+json")]
    for url, expected in ((f"http://b.test:{node.port}{path}", 401), (node.actor("alice"), 200)):
        request = sign_cavage(
            HttpRequest("GET", url, headers, b""), eve.rsa, eve.key_id, now=time.time()
        )
        status, body = await send_raw(node.port, request)
        assert status == expected, body
        if expected == 401:
            assert "not to this server" in body["error"]


async def test_a_proxy_host_is_trusted_only_when_configured(start_node, start_server):
    evil = await start_server("c.test")
    eve = serve_actor(evil, "eve", keys_for("eve"))
    for trusted, expected in ((False, 401), (True, 202)):
        node = await start_node(
            "a.test", users={"alice": "Alice"}, worker=False, trust_forwarded_host=trusted
        )
        inbox = node.fed.uri("inbox", handle="alice")
        document = {
            "@context": AS,
            "id": f"{eve.id}/likes/proxy-{trusted}",
            "type": "Like",
            "actor": eve.id,
            "object": node.note_uri("1"),
        }
        body = json.dumps(document).encode()
        signed = sign_cavage(
            HttpRequest("POST", inbox, [("Content-Type", "application/activity+json")], body),
            eve.rsa,
            eve.key_id,
            now=time.time(),
        )
        # The proxy rewrote Host to its upstream name and kept the public one aside.
        headers = [(k, v) for k, v in signed.headers.items() if k.lower() != "host"]
        headers += [
            ("Host", "upstream.internal:8000"),
            ("X-Forwarded-Host", urlsplit(inbox).netloc),
        ]
        sent = HttpRequest("POST", inbox, headers, body)
        status, answer = await send_raw(node.port, sent)
        assert status == expected, answer


# -- replays and freshness -------------------------------------------------------------------


async def test_an_activity_is_applied_once_across_all_our_inboxes(world):
    proved = create_proof(like(world, world.eve, 41), world.eve.ed25519, world.eve.ed_key_id)
    shared = world.target.fed.uri("shared_inbox")
    assert await world.post(proved, signer=world.mallory, url=shared) == (
        202,
        {"status": "accepted"},
    )
    assert await world.post(proved, signer=world.mallory) == (202, {"status": "duplicate"})
    assert await queued(world) == 1


async def test_an_old_proof_is_refused(world):
    old = time.time() - 25 * 365 * 86400
    proved = create_proof(
        like(world, world.eve, 42), world.eve.ed25519, world.eve.ed_key_id, now=old
    )
    await refused(world, 401, "proof", proved, signer=world.mallory)


async def test_a_signature_cannot_extend_its_own_life(world):
    month_ago = time.time() - 30 * 86400
    document = like(world, world.eve, 43)
    request = HttpRequest(
        "POST",
        world.inbox,
        [("Content-Type", "application/activity+json")],
        json.dumps(document).encode(),
    )
    signed = sign_cavage(
        request,
        world.eve.rsa,
        world.eve.key_id,
        algorithm="hs2019",
        headers=["(request-target)", "host", "(created)", "(expires)", "digest"],
        now=month_ago,
        expires_in=10 * 365 * 86400,
    )
    status, body = await send_raw(world.target.port, signed)
    assert status == 401, body
    assert await queued(world) == 0


# -- bounded work before authentication ------------------------------------------------------


async def test_many_inline_contexts_are_refused_before_any_jsonld_work(world):
    crowd = [{"@context": {f"t{i}": f"https://x.test/{i}"}, "name": "x"} for i in range(1_000)]
    document = {**like(world, world.eve, 51), "attachment": crowd}
    await refused(world, 400, "over 64 @context entries", document)
    # Spelled with an escape the raw count cannot see: the walk counts it.
    escaped = json.dumps(document).replace('"@context"', '"\\u0040context"').encode()
    await refused(world, 400, "over 64 @context entries", escaped)
    big = {**like(world, world.eve, 52), "tag": [{"k": i} for i in range(5_000)]}
    await refused(world, 400, "over 4096 objects", big)
    many = {**like(world, world.eve, 53), "content": [[[[i]]] for i in range(20_000)]}
    await refused(world, 400, "over 65536 values", many)


async def test_an_ld_signature_older_than_the_replay_memory_is_refused(world):
    # An LD signature vouches for a document, not a delivery; but one older than the
    # inbox remembers activity ids (7 days) could replay a deleted post: refused.
    old = time.time() - 8 * 86400
    ld = sign_ld_signature(like(world, world.eve, 44), world.eve.rsa, world.eve.key_id, now=old)
    await refused(world, 401, "LD signature created", ld, signer=world.mallory)
    fresh = sign_ld_signature(like(world, world.eve, 45), world.eve.rsa, world.eve.key_id)
    assert (await world.post(fresh, signer=world.mallory))[0] == 202


async def test_a_follow_replayed_after_its_undo_is_a_duplicate(world):
    follow = {
        "@context": AS,
        "id": world.eve.id + "/follows/61",
        "type": "Follow",
        "actor": world.eve.id,
        "object": world.target.actor("alice"),
    }
    undo = {
        "@context": AS,
        "id": world.eve.id + "/follows/61/undo",
        "type": "Undo",
        "actor": world.eve.id,
        "object": follow,
    }
    captured = create_proof(follow, world.eve.ed25519, world.eve.ed_key_id)
    assert await world.post(captured, signer=world.mallory) == (202, {"status": "accepted"})
    assert (await world.post(undo))[0] == 202
    # mallory replays the proof-signed Follow (to the shared inbox this time).
    shared = world.target.fed.uri("shared_inbox")
    again = await world.post(captured, signer=world.mallory, url=shared)
    assert again == (202, {"status": "duplicate"})
    assert await queued(world) == 2

"""The Federation configures everything it builds (issue 12): delivery options, moderation
both ways, failure hooks, delivery health from inbound requests, a shared fetch cache.

Real HTTP on loopback: Federation nodes served by uvicorn (``start_node``) and plain
loopback servers (``start_server``) standing for remote hosts, whose request logs show
what was — and was not — asked of them.
"""

from __future__ import annotations

import logging

import pytest
from hostile import AS, post_signed, serve_actor
from nodes import keys_for

from activitypub_kit.delivery import (
    BreakerOptions,
    DeliveryFailure,
    DeliveryOptions,
    DeliverySchedule,
    Recipient,
    UnavailableOptions,
    inbox_host,
)
from activitypub_kit.errors import BlockedError, HttpStatusError, RouteError
from activitypub_kit.models import Create, Follow, Note
from activitypub_kit.server import Federation
from activitypub_kit.signatures import HttpRequest, sign_cavage
from activitypub_kit.storage import SqliteDatabase, SqliteStore
from activitypub_kit.testing import FakeClock, wait_until

pytestmark = pytest.mark.anyio
AP_ACCEPT = ("Accept", "application/activity+json")


async def signed_get(client, url, remote):
    request = sign_cavage(HttpRequest("GET", url, [], b""), remote.rsa, remote.key_id)
    headers = [(k, v) for k, v in request.headers.items() if k.lower() != "host"]
    return await client.get(url, headers=[*headers, AP_ACCEPT], auth=None)


def accept_posts(server, *paths):
    for path in paths:
        server.raw(path, b"", {}, status=202)


def note_create(node, n):
    note = Note(
        id=node.note_uri(str(n)),
        attributedTo=node.actor("alice"),
        content=f"post {n}",
        to=["https://www.w3.org/ns/activitystreams#Public"],
    )
    return Create(id=f"{note.id}/create", actor=node.actor("alice"), object=note.to_json())


def like_by(remote, node, n=1):
    return {
        "@context": AS,
        "id": f"{remote.id}/likes/{n}",
        "type": "Like",
        "actor": remote.id,
        "object": node.note_uri("1"),
    }


async def test_delivery_options_configure_the_outbox(start_node, start_server):
    options = DeliveryOptions(
        schedule=DeliverySchedule(max_attempts=3),
        breaker=BreakerOptions(failure_threshold=1, cooldown=900),
        unavailable=None,
        per_host_limit=1,
        shards=8,
    )
    down = await start_server("b.test")
    down.raw("/inbox", b"", {}, status=500)
    a = await start_node("a.test", users={"alice": "Alice"}, delivery=options)
    outbox = a.fed.outbox
    assert a.fed.delivery is options
    assert outbox.policy.max_attempts == 3
    assert outbox.domains is None
    assert (outbox.per_host_limit, outbox.shards) == (1, 8)
    assert outbox.breaker is not None
    assert outbox.breaker.store is a.fed.store
    assert outbox.breaker.cooldown == 900
    # fixed once built: never a setting silently ignored
    with pytest.raises(AttributeError, match="fixed once the outbox is built"):
        outbox.breaker = None
    with pytest.raises(AttributeError):
        a.fed.delivery = DeliveryOptions()  # type: ignore[misc]
    # the breaker acts, with its state in the Federation's store: one 500 opens it
    inbox = Recipient(down.url("/users/x"), shared_inbox=down.url("/inbox"))
    await a.ctx.send(note_create(a, 1), to=[inbox])

    async def circuit_open():
        return [k async for k in a.fed.store.list(("delivery", "circuit"))] != []

    await wait_until(circuit_open, message="the breaker recorded the failure")
    assert down.hits("/inbox") == 1
    # by default a Federation has a breaker and an unavailable-domain tracker
    plain = Federation("https://plain.example")
    assert plain.outbox.breaker is not None
    assert plain.outbox.domains is not None
    assert plain.outbox.breaker.store is plain.store


async def test_blocked_hosts_and_actors_are_refused_inbound(start_node, start_server, client):
    async def block_actor(actor):
        return actor.endswith("/mallory")

    a = await start_node(
        "a.test",
        users={"alice": "Alice"},
        worker=False,
        authorized_fetch=True,
        block_host=lambda host: host == "c.test",
        block_actor=block_actor,
    )
    evil, other = await start_server("c.test"), await start_server("b.test")
    eve = serve_actor(evil, "eve", keys_for("eve"))
    mallory = serve_actor(other, "mallory", keys_for("mallory"))
    bob = serve_actor(other, "bob", keys_for("bob"))
    inbox = a.fed.uri("inbox", handle="alice")
    status, body = await post_signed(client, inbox, like_by(eve, a), eve.rsa, eve.key_id)
    assert status == 403
    assert "c.test is blocked here" in body["error"]
    assert evil.seen == []  # a blocked host's key is not even fetched
    mallory_like = like_by(mallory, a)
    status, body = await post_signed(client, inbox, mallory_like, mallory.rsa, mallory.key_id)
    assert status == 403
    assert "is blocked here" in body["error"]
    status, _ = await post_signed(client, inbox, like_by(bob, a), bob.rsa, bob.key_id)
    assert status == 202
    assert (await a.fed.queue.stats()).depth == 1  # only bob's Like was queued
    # authorized fetch: the same refusals for signed GETs
    for remote, expected in ((eve, 403), (mallory, 403), (bob, 200)):
        answer = await signed_get(client, a.actor("alice"), remote)
        assert answer.status_code == expected, (remote.id, answer.text)
    assert evil.seen == []


async def test_blocked_hosts_and_actors_get_no_delivery(start_node, start_server):
    ok, evil = await start_server("b.test"), await start_server("c.test")
    accept_posts(ok, "/inbox", "/users/dave/inbox")
    accept_posts(evil, "/inbox")
    blocked_actors = {ok.url("/users/troll"), ok.url("/users/dave")}
    failed = []

    async def block_host(host):
        return host == "c.test"

    a = await start_node(
        "a.test",
        users={"alice": "Alice"},
        block_host=block_host,
        block_actor=lambda actor: actor in blocked_actors,
        on_delivery_failed=failed.append,  # a plain function is fine
    )
    a.state.followers["alice"] = [evil.url("/users/eve")]  # a follower on a blocked host

    def on(server, name, shared=True):
        return Recipient(
            server.url(f"/users/{name}"),
            inbox=server.url(f"/users/{name}/inbox"),
            shared_inbox=server.url("/inbox") if shared else None,
        )

    to = [
        a.ctx.followers_of("alice"),
        on(ok, "bob"),
        on(ok, "troll"),  # blocked, behind a shared inbox that bob still needs
        on(ok, "dave", shared=False),  # blocked, alone on its inbox
        on(evil, "carol"),  # on a blocked host
    ]
    await a.ctx.send(note_create(a, 1), to=to)

    async def settled():
        return len(failed) == 4 and ok.hits("/inbox") == 1

    await wait_until(settled, message="delivery and four blocked recipients")
    assert evil.seen == []  # neither the follower's actor fetched nor carol's inbox posted to
    assert ok.hits("/users/dave/inbox") == 0
    assert {e.reason for e in failed} == {DeliveryFailure.BLOCKED}
    assert sorted(r for e in failed for r in e.recipients) == sorted(
        [evil.url("/users/carol"), evil.url("/users/eve"), *blocked_actors]
    )
    assert a.fed.outbox.stats.blocked == 4


async def test_two_nodes_one_blocking_the_others_host(start_node):
    refused_by_a, failed_at_b = [], []
    a = await start_node(
        "a.test",
        users={"alice": "Alice"},
        block_host=lambda host: host == "b.test",
        on_delivery_failed=refused_by_a.append,
    )
    b = await start_node("b.test", users={"bob": "Bob"}, on_delivery_failed=failed_at_b.append)
    # b's Follow reaches a's inbox, which refuses it (403) without fetching b's key
    follow = Follow(id=f"{b.actor('bob')}#follows/1", actor=b.actor("bob"), object=a.actor("alice"))
    await b.ctx.send(follow, to=[a.actor("alice")])

    async def refused():
        return len(failed_at_b) == 1

    await wait_until(refused, message="b hears that a refused its Follow")
    [event] = failed_at_b
    assert (event.reason, event.status) == (DeliveryFailure.REFUSED, 403)
    assert a.state.handled == []
    # a sends to bob: not even bob's actor is fetched; reported, no request
    await a.ctx.send(note_create(a, 1), to=[b.actor("bob")])

    async def blocked():
        return len(refused_by_a) == 1

    await wait_until(blocked, message="a reports bob as blocked")
    assert refused_by_a[0].reason is DeliveryFailure.BLOCKED
    assert refused_by_a[0].recipients == (b.actor("bob"),)
    assert a.fed.outbox.stats.blocked == 1
    assert a.fed.outbox.stats.requests == 0  # nothing was POSTed anywhere
    assert b.state.handled == []


async def test_the_resolver_refuses_blocked_hosts(start_node, start_server):
    ok, evil = await start_server("b.test"), await start_server("c.test")
    note = {"@context": AS, "id": evil.url("/notes/1"), "type": "Note", "content": "hi"}
    evil.json("/notes/1", note)
    ok.redirect("/jump", evil.url("/notes/1"))
    a = await start_node(
        "a.test", users={"alice": "Alice"}, worker=False, block_host=lambda h: h == "c.test"
    )
    with pytest.raises(BlockedError, match=r"c\.test is blocked here") as refused:
        await a.ctx.lookup(evil.url("/notes/1"))
    assert refused.value.host == "c.test"
    assert refused.value.http_status == 403
    assert evil.seen == []
    with pytest.raises(BlockedError):  # a redirect to a blocked host: refused after the hop
        await a.ctx.lookup(ok.url("/jump"))
    with pytest.raises(BlockedError):
        await a.fed.keys.get_key(evil.url("/users/eve#main-key"))
    # never cached: lifting the block takes effect at once
    a.fed.moderation.block_host = None
    assert (await a.ctx.lookup(evil.url("/notes/1"))).id == note["id"]


async def test_is_blocked_is_a_deprecated_alias_of_block_actor():
    def hook(actor):
        return actor == "https://x.example/users/eve"

    with pytest.warns(DeprecationWarning, match="block_actor"):
        fed = Federation("https://a.example", is_blocked=hook)
    assert fed.moderation.block_actor is hook
    assert fed.is_blocked is not None
    assert await fed.is_blocked("https://x.example/users/eve")
    assert not await fed.is_blocked("https://x.example/users/bob")
    # it now skips delivery too
    assert await fed.outbox.is_blocked_actor("https://x.example/users/eve")
    with pytest.raises(RouteError, match="block_actor only"):
        Federation("https://a.example", is_blocked=hook, block_actor=hook)
    assert Federation("https://b.example").is_blocked is None


async def test_failure_hooks_hear_why(start_node, start_server, caplog):
    remote = await start_server("b.test")
    gone = serve_actor(remote, "gone", keys_for("gone"))
    strict = serve_actor(remote, "strict", keys_for("strict"))
    remote.raw("/users/gone/inbox", b"", {}, status=410)
    remote.raw("/users/strict/inbox", b'{"error": "no"}', {}, status=403)
    failed, gone_events = [], []

    async def on_gone(event):
        gone_events.append(event)

    a = await start_node(
        "a.test",
        users={"alice": "Alice"},
        on_delivery_failed=failed.append,
        on_gone=on_gone,
    )
    missing = remote.url("/users/missing")  # 404: the follower cannot be resolved
    a.state.followers["alice"] = [gone.id, strict.id, missing]
    with caplog.at_level(logging.WARNING, logger="activitypub_kit.server"):
        await a.ctx.send(note_create(a, 1), to=[a.ctx.followers_of("alice")])

        async def settled():
            return len(failed) == 3 and len(gone_events) == 1

        await wait_until(settled, message="three failures and one gone")
    reasons = {e.reason: e for e in failed}
    assert set(reasons) == {
        DeliveryFailure.GONE,
        DeliveryFailure.REFUSED,
        DeliveryFailure.UNRESOLVED,
    }
    assert reasons[DeliveryFailure.GONE].recipients == (gone.id,)
    assert reasons[DeliveryFailure.REFUSED].status == 403
    assert reasons[DeliveryFailure.REFUSED].inbox == remote.url("/users/strict/inbox")
    assert reasons[DeliveryFailure.UNRESOLVED].recipients == (missing,)
    assert "404" in (reasons[DeliveryFailure.UNRESOLVED].error or "")
    assert gone_events[0].recipients == (gone.id,)
    assert gone_events[0].status == 410
    # the fan-out failure is logged with its exception, not swallowed
    [record] = [r for r in caplog.records if "cannot resolve follower" in r.getMessage()]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], HttpStatusError)


async def test_a_host_that_talks_to_us_is_available_again(start_node, start_server, client):
    evil = await start_server("c.test")
    eve = serve_actor(evil, "eve", keys_for("eve"))
    accept_posts(evil, "/users/eve/inbox")
    failed = []
    a = await start_node(
        "a.test",
        users={"alice": "Alice"},
        delivery=DeliveryOptions(unavailable=UnavailableOptions(days_threshold=1)),
        on_delivery_failed=failed.append,
    )
    domains = a.fed.outbox.domains
    assert domains is not None
    host = inbox_host(eve.id)
    assert host is not None
    assert await domains.record_failure(host)
    await a.ctx.send(note_create(a, 1), to=[eve.id])

    async def skipped():
        return [e.reason for e in failed] == [DeliveryFailure.HOST_UNAVAILABLE]

    await wait_until(skipped, message="the unavailable host is skipped")
    assert evil.hits("/users/eve/inbox") == 0
    # eve's server sends us a signed activity: the host is up
    inbox = a.fed.uri("inbox", handle="alice")
    status, _ = await post_signed(client, inbox, like_by(eve, a), eve.rsa, eve.key_id)
    assert status == 202
    assert await domains.is_available(host)
    await a.ctx.send(note_create(a, 2), to=[eve.id])

    async def delivered():
        return evil.hits("/users/eve/inbox") == 1

    await wait_until(delivered, message="delivery to the host that came back")


async def test_two_federations_sharing_a_store_fetch_once(start_server, client, tmp_path):
    remote = await start_server("b.test")
    bob = serve_actor(remote, "bob", keys_for("bob"))
    clock = FakeClock()
    store = SqliteStore(SqliteDatabase(tmp_path / "shared.sqlite"), clock=clock)
    try:
        one = Federation("https://one.example", store=store, client=client)
        two = Federation("https://two.example", store=store, client=client)
        assert (await one.context().lookup_actor(bob.id)).id == bob.id
        assert (await two.context().lookup_actor(bob.id)).id == bob.id
        key = await two.keys.get_key(bob.key_id)
        assert key.owner == bob.id
        assert await one.keys.get_key(bob.key_id) == key
        assert remote.hits("/users/bob") == 1
        # failures are shared too (for a while)
        for fed in (one, two):
            with pytest.raises(HttpStatusError):
                await fed.context().lookup(remote.url("/users/nobody"))
        assert remote.hits("/users/nobody") == 1
        # entries carry a TTL: an hour later the document is fetched again
        clock.advance(3601)
        await two.context().lookup_actor(bob.id)
        assert remote.hits("/users/bob") == 2
    finally:
        await store.aclose()


async def test_a_blocked_actor_addressed_by_id_is_never_fetched(start_node, start_server):
    remote = await start_server("b.test")
    troll = remote.url("/users/troll")
    remote.json("/users/troll", {"id": troll, "type": "Person", "inbox": troll + "/inbox"})
    accept_posts(remote, "/users/troll/inbox")
    failed = []
    a = await start_node(
        "a.test",
        users={"alice": "Alice"},
        block_actor=lambda actor: actor == troll,
        on_delivery_failed=failed.append,
    )
    await a.ctx.send(note_create(a, 2), to=[troll])

    async def reported():
        return len(failed) == 1

    await wait_until(reported, message="the blocked recipient reported")
    assert remote.seen == []  # neither its actor document nor its inbox
    assert failed[0].reason == DeliveryFailure.BLOCKED

"""What the outbox writes: small messages for large audiences, split shards, no keys."""

from __future__ import annotations

import json

import pytest
from test_outbox import KEY, ScriptedHosts, create, drain, follower

from activitypub_kit.delivery import Outbox, Recipient
from activitypub_kit.delivery._messages import MAX_RECIPIENTS_PER_TARGET, fanned_key

pytestmark = pytest.mark.anyio


async def test_a_large_explicit_audience_is_stored_not_queued(queue, store, clock):
    hosts = ScriptedHosts()
    outbox = Outbox(queue, store, hosts, clock=clock)
    recipients = [follower(f"h{n % 500}.example", n) for n in range(5000)]
    await outbox.send(create(), key_ref=KEY, to=recipients)
    [message] = await queue.receive(lease=60)
    assert "to" not in message.body
    assert message.body["to_chunks"] >= 2
    assert len(json.dumps(message.body)) < 1000
    await outbox.handle(message)  # the fan-out
    assert await store.get(fanned_key(create()["id"])) == 1
    assert [k async for k in store.list(("delivery", "audience"))] == []
    await outbox.handle(message)  # handled again (ack lost): nothing to redo, no error
    assert await queue.ack(message)
    await drain(outbox, queue, clock)
    assert sorted({inbox for inbox, _ in hosts.posts}) == sorted(
        {f"https://h{n}.example/inbox" for n in range(500)}
    )
    assert len(hosts.posts) == 500


async def test_targets_carry_a_bounded_recipient_list(queue, store, clock):
    failures = []

    async def on_failure(event):
        failures.append(len(event.recipients))

    from activitypub_kit.delivery import DeliveryHooks

    hosts = ScriptedHosts()
    hosts.script["big.example"] = [403]
    outbox = Outbox(queue, store, hosts, clock=clock, hooks=DeliveryHooks(on_failure=on_failure))
    await outbox.send(create(), key_ref=KEY, to=[follower("big.example", n) for n in range(1000)])
    await drain(outbox, queue, clock)
    assert failures == [MAX_RECIPIENTS_PER_TARGET]


async def test_a_shard_larger_than_batch_size_is_split_and_keeps_order(queue, store, clock):
    hosts = ScriptedHosts()
    hosts.script["h1.example"] = [503]
    outbox = Outbox(queue, store, hosts, clock=clock, shards=1, batch_size=3)
    to = [follower(f"h{n}.example", 1) for n in range(10)]
    await outbox.send(create(1, "Create"), key_ref=KEY, to=to)
    await outbox.send(create(2, "Delete"), key_ref=KEY, to=to)
    await drain(outbox, queue, clock)
    assert outbox.stats.batches == 8  # 4 per activity: 3 + 3 + 3 + 1 targets
    for n in range(10):
        kinds = [b["type"] for inbox, b in hosts.posts if f"//h{n}.example/" in inbox]
        assert kinds in (["Create", "Delete"], ["Create", "Create", "Delete"]), (n, kinds)
    assert [k async for k in store.list(("delivery", "pending"))] == []


async def test_messages_never_hold_key_material(queue, store, clock):
    hosts = ScriptedHosts()
    hosts.script["slow.example"] = [500]
    outbox = Outbox(queue, store, hosts, clock=clock)
    personal = Recipient("https://slow.example/u", "https://slow.example/u/inbox")
    await outbox.send(create(), key_ref=KEY, to=[personal, follower("ok.example", 1)])
    seen = []
    for _ in range(4):
        for message in await queue.receive(lease=60, max_messages=10):
            seen.append(json.dumps(message.body))
            await outbox.handle(message)
            await queue.ack(message)
        clock.advance(3600)
    assert {json.loads(s)["kind"] for s in seen} == {"fanout", "batch", "retry"}
    assert all("PRIVATE" not in s and json.loads(s)["key"] == KEY for s in seen)


async def test_a_batch_run_twice_starts_one_retry_chain(queue, store, clock):
    hosts = ScriptedHosts()
    hosts.script["slow.example"] = [503, 503]
    outbox = Outbox(queue, store, hosts, clock=clock)
    await outbox.send(create(1, "Create"), key_ref=KEY, to=[follower("slow.example", 1)])
    [fanout] = await queue.receive(lease=60)
    await outbox.handle(fanout)
    assert await queue.ack(fanout)
    [batch] = await queue.receive(lease=60)
    await outbox.handle(batch)  # fails: a retry chain starts
    await outbox.handle(batch)  # the worker died before the ack: the batch runs again
    assert (await queue.stats()).depth == 2  # the leased batch and ONE retry
    assert await queue.ack(batch)
    await outbox.send(create(2, "Delete"), key_ref=KEY, to=[follower("slow.example", 1)])
    await drain(outbox, queue, clock)
    kinds = [body["type"] for _, body in hosts.posts]
    assert kinds[-1] == "Delete"
    assert kinds.count("Delete") == 1
    assert [k async for k in store.list(("delivery", "pending"))] == []

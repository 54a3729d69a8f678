"""Acceptance: one activity to 10,000 followers on 1,000 hosts is 1,000 verified POSTs.

Real HTTP all the way: 1,000 inbox servers listen on 127.0.0.x:port (one host each), the
outbox runs on the SQLite queue and store with a real Worker and HttpTransport, and every
server verifies the signature (our verification code, the sender's public key) and both
body digests of what it receives.
"""

from __future__ import annotations

import json

import pytest
from sinks import running

from activitypub_kit.delivery import HttpTransport, Outbox, Recipient
from activitypub_kit.storage import SqliteDatabase, SqliteQueue, SqliteStore, Worker
from activitypub_kit.testing import wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

KEY = "https://me.example/users/alice#main-key"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


class Followers:
    """The followers listing of one local actor (what a server would read from its DB)."""

    def __init__(self, recipients):
        self.recipients = recipients
        self.asked = 0

    async def expand(self, audience):
        assert audience == {"followers": "alice"}
        self.asked += 1
        for recipient in self.recipients:
            yield recipient


def followers_on(hosts, per_host):
    for host in hosts:
        for n in range(per_host):
            yield Recipient(
                id=f"http://{host}/users/u{n}",
                inbox=f"http://{host}/users/u{n}/inbox",
                shared_inbox=f"http://{host}/inbox",
            )


async def test_ten_thousand_followers_on_a_thousand_hosts(farm, http, keys, tmp_path):
    hosts = await farm.start(1000)
    recipients = list(followers_on(hosts, 10))
    assert len(recipients) == 10_000
    followers = Followers([*recipients, PUBLIC, *recipients[:100]])  # duplicates, Public
    db = SqliteDatabase(tmp_path / "outbox.sqlite")
    queue, store = SqliteQueue(db, poll_interval=0.05), SqliteStore(db)
    outbox = Outbox(queue, store, HttpTransport(http, keys), resolver=followers)
    activity = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://me.example/activities/1",
        "type": "Create",
        "actor": "https://me.example/users/alice",
        "to": [PUBLIC],
        "cc": ["https://me.example/users/alice/followers"],
        "bcc": ["http://secret.example/users/x"],
        "object": {"id": "https://me.example/notes/1", "type": "Note", "content": "hi " * 100},
    }
    await outbox.send(activity, key_ref=KEY, to=[{"followers": "alice"}])
    assert (await queue.stats()).depth == 1  # one message, whatever the audience

    worker = Worker(queue, outbox.handle, concurrency=8, poll_wait=0.2)
    async with running(worker):

        async def all_done():
            return farm.total >= 1000 and (await queue.stats()).depth == 0

        await wait_until(all_done, within=60, message="1,000 deliveries")

    assert farm.total == 1000  # exactly one POST per host
    assert sorted(farm.received) == sorted(hosts)
    assert all(len(seen) == 1 for seen in farm.received.values())
    assert farm.problems == []
    assert all(r.verified and r.activity == activity["id"] for v in farm.received.values()
               for r in v)  # fmt: skip
    assert outbox.stats.sent == 1000
    assert outbox.stats.batches <= outbox.shards
    assert followers.asked == 1
    metrics = await outbox.metrics()
    assert (metrics["sent"], metrics["queue_depth"]) == (1000, 0)
    stored = json.loads(str(await store.get(("delivery", "body", activity["id"]))))
    assert "bcc" not in stored
    await queue.aclose()
    await store.aclose()

"""HttpTransport against real inbox servers on loopback."""

from __future__ import annotations

import hashlib
import json

import anyio
import pytest
from sinks import ACCEPTED

from activitypub_kit.delivery import HttpTransport
from activitypub_kit.signatures import DoubleKnock, SignatureScheme
from activitypub_kit.storage import MemoryStore

pytestmark = pytest.mark.anyio

KEY = "https://me.example/users/alice#main-key"
BODY = json.dumps({"id": "https://me.example/activities/1", "type": "Create"}).encode()
SHA = hashlib.sha256(BODY).digest()


async def deliver(transport, host, path="/inbox"):
    return await transport.deliver(f"http://{host}{path}", BODY, body_sha256=SHA, key_ref=KEY)


async def test_signed_post_verifies_at_the_inbox(farm, http, keys):
    [host] = await farm.start(1)
    transport = HttpTransport(http, keys, user_agent="kit-test/1 (+https://me.example/)")
    result = await deliver(transport, host)
    assert result.status == 202
    assert result.scheme is SignatureScheme.CAVAGE
    [received] = farm.received[host]
    assert received.verified, farm.problems
    assert received.scheme == "draft-cavage"
    assert received.activity == "https://me.example/activities/1"
    assert farm.problems == []


async def test_keys_are_resolved_once_and_connections_reused(farm, http, keys):
    [host] = await farm.start(1)
    transport = HttpTransport(http, keys)
    for _ in range(5):
        assert (await deliver(transport, host)).status == 202
    assert keys.calls == 1
    assert farm.connections[host] == 1
    assert all(r.verified for r in farm.received[host])


async def test_falls_back_to_rfc9421_and_remembers_it(farm, http, keys):
    def only_rfc9421(host, n, received):
        return ("status", 401, {}) if received.scheme != "rfc9421" else ACCEPTED

    farm.behaviour = only_rfc9421
    [host] = await farm.start(1)
    store = MemoryStore()
    transport = HttpTransport(http, keys, knock=DoubleKnock(store))
    first = await deliver(transport, host)
    assert (first.status, first.scheme, first.requests) == (202, SignatureScheme.RFC9421, 2)
    second = await deliver(transport, host)
    assert (second.status, second.requests) == (202, 1)
    assert [r.scheme for r in farm.received[host]] == ["draft-cavage", "rfc9421", "rfc9421"]
    # another worker sharing the store starts with RFC 9421 straight away
    other = HttpTransport(http, keys, knock=DoubleKnock(store))
    assert (await deliver(other, host)).requests == 1


async def test_preferring_rfc9421(farm, http, keys):
    [host] = await farm.start(1)
    transport = HttpTransport(
        http, keys, knock=DoubleKnock(MemoryStore(), prefer=SignatureScheme.RFC9421)
    )
    assert (await deliver(transport, host)).status == 202
    [received] = farm.received[host]
    assert (received.scheme, received.verified) == ("rfc9421", True)


async def test_retry_after_is_reported(farm, http, keys):
    farm.behaviour = lambda host, n, received: ("status", 503, {"Retry-After": "120"})
    [host] = await farm.start(1)
    result = await deliver(HttpTransport(http, keys), host)
    assert (result.status, result.retry_after) == (503, 120.0)


@pytest.mark.parametrize("action", [("reset",), ("hang",)])
async def test_network_failures_are_results_not_exceptions(farm, http, keys, action):
    farm.behaviour = lambda host, n, received: action
    [host] = await farm.start(1)
    result = await deliver(HttpTransport(http, keys), host)
    assert result.status is None
    assert result.error
    assert not result.permanent


async def test_refused_address_is_permanent(http, keys):
    result = await HttpTransport(http, keys).deliver(
        "http://10.1.2.3/inbox", BODY, body_sha256=SHA, key_ref=KEY
    )
    assert (result.status, result.permanent) == (None, True)
    assert "10.1.2.3" in (result.error or "")


async def test_connection_refused(http, keys):
    with anyio.fail_after(5):
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        await listener.aclose()  # nothing listens there any more
        result = await HttpTransport(http, keys).deliver(
            f"http://127.0.0.1:{port}/inbox", BODY, body_sha256=SHA, key_ref=KEY
        )
    assert result.status is None
    assert not result.permanent


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
@pytest.mark.parametrize(
    "inbox",
    [
        "http://a.example/inbox",
        "https://b.example:8443/users/x/inbox?q=1",
        "https://c.example:443/i",
    ],
)
def test_direct_cavage_signing_equals_sign_cavage(rsa_key, kind, inbox):
    from activitypub_kit.signatures import HttpRequest, generate_ed25519_key, sign_cavage

    key = rsa_key if kind == "rsa" else generate_ed25519_key()
    transport = HttpTransport(None, None, clock=lambda: 1_732_000_000.5)  # type: ignore[arg-type]
    ours = transport.signed_headers(inbox, BODY, SHA, KEY, key, SignatureScheme.CAVAGE)
    base = [(k, v) for k, v in ours if k != "Signature"]
    reference = sign_cavage(HttpRequest("POST", inbox, base, BODY), key, KEY, now=1_732_000_000.5)
    assert dict(ours)["Signature"] == reference.headers.get("signature")


class FlakyListing(MemoryStore):
    """A store whose listings fail (a storage outage) and are counted."""

    def __init__(self, fail):
        super().__init__()
        self.fail = fail
        self.listings = 0

    async def list(self, prefix):
        from activitypub_kit.errors import StorageConnectionError

        self.listings += 1
        if self.fail:
            raise StorageConnectionError("store is down")
        async for item in super().list(prefix):
            yield item


async def test_remembered_schemes_are_listed_once_for_concurrent_posts(farm, http, keys):
    hosts = await farm.start(20)
    store = FlakyListing(fail=False)
    transport = HttpTransport(http, keys, knock=DoubleKnock(store))
    async with anyio.create_task_group() as group:
        for host in hosts:
            group.start_soon(deliver, transport, host)
    assert store.listings == 1
    assert sum(len(v) for v in farm.received.values()) == 20


async def test_a_store_outage_does_not_fail_deliveries(farm, http, keys):
    [host] = await farm.start(1)
    transport = HttpTransport(http, keys, knock=DoubleKnock(FlakyListing(fail=True)))
    result = await deliver(transport, host)
    assert (result.status, result.scheme) == (202, SignatureScheme.CAVAGE)

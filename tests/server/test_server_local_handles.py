"""``allow_local_handles``: WebFinger on a loopback origin only when asked for (development)."""

from __future__ import annotations

import httpx
import pytest

from activitypub_kit.server import Federation

pytestmark = pytest.mark.anyio


def test_off_by_default():
    assert Federation("http://127.0.0.1:8080").allow_local_handles is False


async def webfinger(origin: str, resource: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(f"{origin}/.well-known/webfinger", params={"resource": resource})


async def test_an_ip_origin_serves_no_webfinger_by_default(start_node):
    node = await start_node("127.0.0.1", users={"alice": "Alice"})
    host = node.origin.split("://")[1]
    answer = await webfinger(node.origin, f"acct:alice@{host}")
    assert answer.status_code == 404
    assert "allow_local_handles" in answer.json()["error"]


async def test_allow_local_handles_serves_acct_on_an_ip_origin(start_node):
    node = await start_node("127.0.0.1", users={"alice": "Alice"}, allow_local_handles=True)
    host = node.origin.split("://")[1]
    answer = await webfinger(node.origin, f"acct:alice@{host}")
    assert answer.status_code == 200
    jrd = answer.json()
    assert jrd["subject"] == f"acct:alice@{host}"
    assert {"rel": "self", "type": "application/activity+json", "href": node.actor("alice")} in (
        jrd["links"]
    )
    # Another host, or an unknown user, is still not served here.
    assert (await webfinger(node.origin, "acct:alice@127.0.0.2:80")).status_code == 404
    assert (await webfinger(node.origin, f"acct:nobody@{host}")).status_code == 404

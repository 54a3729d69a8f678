"""WebFinger server builder: statuses, JRD contents, CORS, rel filter; served for real."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from activitypub_kit.http import HttpClient
from activitypub_kit.webfinger import (
    Handle,
    Jrd,
    WebFingerAccount,
    WebFingerClient,
    WebFingerServer,
)
from loopback import StartServer

pytestmark = pytest.mark.anyio

ALICE = WebFingerAccount(
    username="alice",
    actor_url="https://example.com/users/alice",
    profile_url="https://example.com/@alice",
    aliases=["https://example.com/users/alice", "https://old.example/@alice"],
    subscribe_template="https://example.com/authorize_interaction?uri={uri}",
)
GONE = WebFingerAccount(username="gone", actor_url="https://example.com/users/gone", gone=True)


async def lookup(username: str) -> WebFingerAccount | None:
    return {"alice": ALICE, "gone": GONE}.get(username)


async def lookup_url(url: str) -> WebFingerAccount | None:
    return ALICE if url in (ALICE.actor_url, ALICE.profile_url) else None


@pytest.fixture
def server() -> WebFingerServer:
    return WebFingerServer("example.com", lookup, lookup_url=lookup_url)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 400),
        ("resource=", 400),
        ("resource==", 400),
        ("rel=self", 400),
        ("resource=acct:alice@example.com&resource=acct:bob@example.com", 400),
        ("resource=alice@example.com", 400),  # no scheme
        ("resource=alice", 400),
        ("resource=acct:alice@example.com:1234/secret%3F", 400),
        ("resource=acct:alice@example.com@evil.test", 400),
        ("resource=acct:alice%20@example.com", 400),
        ("resource=acct:bob@example.com", 404),
        ("resource=acct:alice@other.example", 404),
        ("resource=mailto:alice@example.com", 404),
        ("resource=foo://bar", 404),
        ("resource=https://example.com/users/nobody", 404),
        ("resource=acct:gone@example.com", 410),
        ("resource=acct:alice@example.com", 200),
        ("resource=acct%3Aalice%40example.com", 200),
        ("resource=https%3A%2F%2Fexample.com%2F%40alice", 200),
    ],
)
async def test_statuses(query: str, status: int, server: WebFingerServer) -> None:
    response = await server.respond(query)
    assert response.status == status, response.body
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_jrd_has_subject_aliases_links(server: WebFingerServer) -> None:
    response = await server.respond("resource=acct%3Aalice%40EXAMPLE.com.")
    assert response.headers["Content-Type"].startswith("application/jrd+json")
    body = response.json()
    assert body["subject"] == "acct:alice@example.com"
    assert body["aliases"] == [
        "https://example.com/users/alice",
        "https://example.com/@alice",
        "https://old.example/@alice",
    ]
    rels = {link["rel"]: link for link in body["links"]}
    assert rels["self"] == {
        "rel": "self",
        "type": "application/activity+json",
        "href": "https://example.com/users/alice",
    }
    assert rels["http://webfinger.net/rel/profile-page"]["href"] == "https://example.com/@alice"
    assert rels["http://ostatus.org/schema/1.0/subscribe"]["template"].endswith("?uri={uri}")
    assert Jrd.model_validate(body).activitypub_self() == ALICE.actor_url


async def test_rel_parameters_filter_links(server: WebFingerServer) -> None:
    one = (await server.respond("resource=acct:alice@example.com&rel=self")).json()
    assert [link["rel"] for link in one["links"]] == ["self"]
    two = await server.respond(
        "resource=acct:alice@example.com&rel=self&rel=http%3A%2F%2Fwebfinger.net%2Frel%2Fprofile-page"
    )
    assert len(two.json()["links"]) == 2
    none = (await server.respond("resource=acct:alice@example.com&rel=unknown")).json()
    assert none["links"] == []  # kept, empty: clients (feditest) read body["links"]
    assert none["subject"] == "acct:alice@example.com"


def test_jrd_to_json_keeps_an_empty_links_array() -> None:
    assert Jrd(subject="acct:alice@example.com").to_json() == {
        "subject": "acct:alice@example.com",
        "links": [],
    }


async def test_plain_http_request_to_an_https_origin_gets_no_jrd(server: WebFingerServer) -> None:
    query = "resource=acct:alice@example.com"
    refused = await server.respond(query, scheme="http")
    assert refused.status == 400
    assert refused.headers["Content-Type"] == "application/json"
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    assert "https" in refused.json()["error"]
    # Refused before any lookup: an unknown account gets the same answer.
    assert (await server.respond("resource=acct:bob@example.com", scheme="HTTP")).status == 400
    assert (await server.respond(query, scheme="https")).status == 200
    # A development origin served over http, and callers that do not pass the scheme.
    assert (await server.respond(query, scheme="http", origin_scheme="http")).status == 200
    assert (await server.respond(query)).status == 200


async def test_asgi_app_serves_get_head_options(server: WebFingerServer) -> None:
    transport = httpx.ASGITransport(app=server.asgi())
    async with httpx.AsyncClient(transport=transport, base_url="https://example.com") as http:
        get = await http.get(
            "/.well-known/webfinger", params={"resource": "acct:alice@example.com"}
        )
        assert get.status_code == 200
        assert get.json()["subject"] == "acct:alice@example.com"
        head = await http.head("/.well-known/webfinger?resource=acct:alice@example.com")
        assert head.status_code == 200
        assert head.content == b""
        options = await http.options("/.well-known/webfinger")
        assert options.status_code == 204
        assert options.headers["access-control-allow-origin"] == "*"
        post = await http.post("/.well-known/webfinger")
        assert post.status_code == 405


async def test_our_server_and_our_client_round_trip(
    start_server: StartServer, client: HttpClient
) -> None:
    site = await start_server("a.test")
    domain = f"a.test:{site.port}"
    actor_id = site.url("/users/alice")
    account = WebFingerAccount(
        username="alice", actor_url=actor_id, profile_url=site.url("/@alice")
    )

    async def find(username: str) -> WebFingerAccount | None:
        return account if username == "alice" else None

    wf = WebFingerServer(domain, find, allow_port=True)

    async def handler(request: web.Request) -> web.StreamResponse:
        answer = await wf.respond(request.query_string)
        return web.Response(status=answer.status, body=answer.body, headers=answer.headers)

    site.on("/.well-known/webfinger", handler)
    site.json(
        "/users/alice",
        {"id": actor_id, "type": "Person", "preferredUsername": "alice", "inbox": actor_id + "/i"},
    )
    resolved = await WebFingerClient(client, scheme="http", allow_port=True).resolve(
        f"@alice@{domain}"
    )
    assert resolved.handle == Handle("alice", domain)
    assert resolved.id == actor_id


@pytest.mark.corpus
def test_corpus_jrds_parse(corpus: Path) -> None:
    files = sorted((corpus / "webfinger").rglob("*.json"))
    files = [f for f in files if f.name != "manifest.json"]
    assert len(files) >= 13
    for path in files:
        jrd = Jrd.model_validate(json.loads(path.read_text()))
        assert jrd.links or jrd.properties or jrd.aliases, path.name
        round_trip = Jrd.model_validate(jrd.to_json())
        assert round_trip == jrd, path.name
    spoof = Jrd.model_validate_json(
        (corpus / "webfinger/real-world/rebased-tesla_mock_webfinger_spoof.json").read_text()
    )
    # The spoof's subject and its self link disagree; only a round trip catches it.
    assert spoof.subject == "acct:trump@whitehouse.gov"
    assert spoof.activitypub_self() == "https://gleasonator.com/users/alex"

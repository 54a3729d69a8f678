"""Serving: authorized fetch, content negotiation through Starlette and FastAPI, uvicorn
alone with its lifespan worker, and the inbox handler rules (subclasses, retries)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
import uvicorn
from hostile import AS, post_signed, serve_actor
from nodes import keys_for
from social import Node
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

from activitypub_kit.errors import ActivityPubError, InvalidCursorError
from activitypub_kit.models import Activity, Create, Flag, Follow, Like, Note, Person, View
from activitypub_kit.server import (
    Context,
    Federation,
    FederationMiddleware,
    PageItems,
    offset_cursor,
)
from activitypub_kit.server._asgi import vary_accept
from activitypub_kit.server._collections import MAX_OFFSET
from activitypub_kit.signatures import HttpRequest, sign_cavage
from activitypub_kit.storage import RetryPolicy

pytestmark = pytest.mark.anyio
AP = {"Accept": "application/activity+json"}


async def signed_get(client, url, remote):
    request = sign_cavage(
        HttpRequest("GET", url, [], b""), remote.rsa, remote.key_id, now=time.time()
    )
    headers = [(k, v) for k, v in request.headers.items() if k.lower() != "host"]
    return await client.get(url, headers=[*headers, *AP.items()], auth=None)


async def test_authorized_fetch(start_node, start_server, client):
    node = await start_node("a.test", users={"alice": "Alice"}, worker=False, authorized_fetch=True)
    evil = await start_server("c.test")
    eve = serve_actor(evil, "eve", keys_for("eve"))
    unsigned = await client.get(node.actor("alice"), headers=AP)
    assert unsigned.status_code == 401
    assert "signed GET" in unsigned.json()["error"]
    signed = await signed_get(client, node.actor("alice"), eve)
    assert signed.status_code == 200
    assert signed.json()["id"] == node.actor("alice")
    # The instance actor stays fetchable without a signature (it signs our own fetches).
    instance = await client.get(node.origin + "/actor", headers=AP)
    assert instance.status_code == 200
    # WebFinger stays open too.
    host = node.origin.split("//")[1]
    webfinger = await client.get(f"{node.origin}/.well-known/webfinger?resource=acct:alice@{host}")
    assert webfinger.status_code == 200


async def test_two_authorized_fetch_nodes_still_federate(start_node):
    a = await start_node("a.test", users={"alice": "Alice"}, authorized_fetch=True)
    b = await start_node("b.test", users={"bob": "Bob"}, authorized_fetch=True)
    follow = Follow(
        id=a.ctx.new_id(a.actor("alice")), actor=a.actor("alice"), object=b.actor("bob")
    )
    a.state.outgoing_follows[follow.id] = ("alice", b.actor("bob"))
    await a.ctx.send(follow, to=[b.actor("bob")])
    await a.wait_for(lambda: a.state.following.get("alice", {}).get(b.actor("bob")) == "accepted")
    assert b.state.followers["bob"] == [a.actor("alice")]


def starlette_app(node):
    async def profile(request):
        return HTMLResponse(f"<h1>{request.path_params['handle']}</h1>")

    async def home(request):
        return HTMLResponse("<p>home</p>")

    return Starlette(
        routes=[
            Route("/users/{handle}", profile),
            Route("/", home),
            Mount("/", node.fed.asgi(run_worker=False)),
        ]
    )


def fastapi_app(node):
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/users/{handle}")
    async def profile(handle: str) -> HTMLResponse:
        return HTMLResponse(f"<h1>{handle}</h1>")

    app.add_middleware(FederationMiddleware, federation=node.fed)
    return app


def starlette_middleware_app(node):
    app = Starlette(routes=[Route("/users/{handle}", lambda r: HTMLResponse("<h1>page</h1>"))])
    app.add_middleware(FederationMiddleware, federation=node.fed)
    return app


@pytest.mark.parametrize("make_app", [fastapi_app, starlette_middleware_app])
async def test_same_url_renders_html_or_activitypub(start_node, client, make_app):
    node = await start_node("a.test", users={"alice": "Alice"}, app=make_app)
    html = await client.get(node.actor("alice"), headers={"Accept": "text/html"})
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    ap = await client.get(node.actor("alice"), headers=AP)
    assert ap.headers["content-type"] == "application/activity+json"
    assert ap.json()["type"] == "Person"
    ld = await client.get(
        node.actor("alice"),
        headers={"Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'},
    )
    assert ld.json()["id"] == node.actor("alice")


async def test_mounted_in_starlette(start_node, client):
    node = await start_node("a.test", users={"alice": "Alice"}, app=starlette_app)
    # Starlette routes first: its own page wins for /users/{handle}...
    html = await client.get(node.actor("alice"), headers={"Accept": "text/html"})
    assert html.text == "<h1>alice</h1>"
    # ...and everything else reaches the mounted federation app (WebFinger, inbox, objects).
    host = node.origin.split("//")[1]
    webfinger = await client.get(f"{node.origin}/.well-known/webfinger?resource=acct:alice@{host}")
    assert webfinger.json()["links"][0]["href"] == node.actor("alice")
    followers = await client.get(node.ctx.followers_uri("alice"), headers=AP)
    assert followers.json()["type"] == "OrderedCollection"


async def test_uvicorn_alone_runs_its_worker_in_the_lifespan(start_server, client):
    evil = await start_server("c.test")
    eve = serve_actor(evil, "eve", keys_for("eve"))
    alone = Node("b.test", client, keys_for)
    alone.state.users["bob"] = "Bob"
    server = uvicorn.Server(uvicorn.Config(alone.fed.asgi(), lifespan="on", log_level="warning"))
    server.install_signal_handlers = lambda: None
    async with anyio.create_task_group() as group:
        group.start_soon(server.serve, [alone.sock])
        like = {
            "@context": AS,
            "id": eve.id + "/likes/1",
            "type": "Like",
            "actor": eve.id,
            "object": alone.note_uri("1"),
        }
        status, body = await post_signed(
            client, alone.fed.uri("inbox", handle="bob"), like, eve.rsa, eve.key_id
        )
        assert (status, body) == (202, {"status": "accepted"})
        await alone.wait_for(lambda: any(isinstance(h, Like) for h in alone.state.handled))
        server.should_exit = True


async def test_most_specific_handler_wins_and_base_class_catches_the_rest(start_node):
    node = await start_node("a.test", users={"alice": "Alice"}, worker=False)
    inbox = node.fed.inbox
    assert inbox.handler_for(Like(id="x")).__name__ == "on_like"
    assert inbox.handler_for(Create(id="x")).__name__ == "on_create"
    # No handler for View or Flag of its own: the Activity handler receives them.
    assert inbox.handler_for(View(id="x")).__name__ == "on_other"
    assert inbox.handler_for(Flag(id="x")).__name__ == "on_other"
    assert inbox.handler_for(Note(id="x")) is None
    assert issubclass(Like, Activity)


async def test_failing_handler_is_retried(start_node, start_server, client):
    node = await start_node("a.test", users={"alice": "Alice"}, worker=False)
    failures = []

    @node.fed.inbox.on(Like, replace=True)
    async def flaky(ctx, like):
        if len(failures) < 2:
            failures.append(like.id)
            raise RuntimeError("database is down")
        node._record(like)

    evil = await start_server("c.test")
    eve = serve_actor(evil, "eve", keys_for("eve"))
    like = {
        "@context": AS,
        "id": eve.id + "/likes/1",
        "type": "Like",
        "actor": eve.id,
        "object": node.note_uri("1"),
    }
    status, _ = await post_signed(
        client, node.fed.uri("inbox", handle="alice"), like, eve.rsa, eve.key_id
    )
    assert status == 202
    policy = RetryPolicy(initial=0.01, maximum=0.01)
    async with node.fed.running(concurrency=1, poll_wait=0.05, retry=policy):
        await node.wait_for(lambda: any(isinstance(h, Like) for h in node.state.handled))
    assert failures == [like["id"], like["id"]]


async def test_authorized_fetch_refuses_a_blocked_signer(start_node, start_server, client):
    evil = await start_server("c.test")
    eve = serve_actor(evil, "eve", keys_for("eve"))
    node = await start_node(
        "a.test",
        users={"alice": "Alice"},
        worker=False,
        authorized_fetch=True,
        block_actor=lambda actor: "c.test" in actor,
    )
    refused = await signed_get(client, node.actor("alice"), eve)
    assert refused.status_code == 403
    assert "is blocked here" in refused.json()["error"]


# -- collection cursors, dispatcher failures, Vary on the host app's answers ---------------


@pytest.fixture
async def fed() -> AsyncIterator[Federation]:
    """A Federation with an actor, a note and followers paged by offset (no HTTP out)."""
    fed = Federation("https://a.example")
    members = [f"https://b.example/users/{i}" for i in range(5)]

    @fed.actor("/users/{handle}")
    async def actor(ctx: Context, handle: str) -> Person | None:
        return Person(id=ctx.actor_uri(handle)) if handle == "alice" else None

    @fed.object(Note, "/notes/{id}")
    async def note(ctx: Context, id: str) -> Note | None:
        if id == "boom":
            raise RuntimeError("the database is down")
        return Note(id=ctx.object_uri(Note, id=id), content="hi")

    @fed.followers("/users/{handle}/followers")
    async def followers(ctx: Context, cursor: str | None, handle: str) -> PageItems:
        start = offset_cursor(cursor, maximum=1000)
        more = start + 2 < len(members)
        return PageItems(members[start : start + 2], next=str(start + 2) if more else None)

    @fed.following("/users/{handle}/following")
    async def following(ctx: Context, cursor: str | None, handle: str) -> PageItems:
        return PageItems([], total=int(cursor or 0))  # ValueError for ?cursor=abc

    yield fed
    await fed.aclose()


def asgi_client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://a.example")


@pytest.mark.parametrize(
    "cursor",
    [
        "abc",
        "1e3",
        "%00",
        "-5",
        "%2B5",
        "%205",
        "1_0",
        "0x10",
        "1.5",
        "%C2%B2",
        "1" * 20,
        "9" * 5000,
    ],
)
async def test_a_cursor_that_is_not_an_offset_is_a_400(fed, cursor):
    async with asgi_client(fed.asgi(run_worker=False)) as http:
        answer = await http.get(f"/users/alice/followers?cursor={cursor}", headers=AP)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json"
    assert "cursor" in answer.json()["error"]


async def test_offset_cursors_page_through_the_collection(fed):
    async with asgi_client(fed.asgi(run_worker=False)) as http:
        first = (await http.get("/users/alice/followers", headers=AP)).json()
        assert first["first"]["next"].endswith("/followers?cursor=2")
        # The empty cursor is the first page (its id is ?cursor=), like no cursor.
        empty = await http.get("/users/alice/followers?cursor=", headers=AP)
        assert empty.status_code == 200
        assert empty.json()["orderedItems"] == first["first"]["orderedItems"]
        last = (await http.get("/users/alice/followers?cursor=4", headers=AP)).json()
        assert last["orderedItems"] == ["https://b.example/users/4"]
        assert "next" not in last
        past = await http.get("/users/alice/followers?cursor=1000", headers=AP)
        assert (past.status_code, past.json()["orderedItems"]) == (200, [])
        over = await http.get("/users/alice/followers?cursor=1001", headers=AP)
        assert over.status_code == 400


@pytest.mark.parametrize(
    ("cursor", "offset"),
    [(None, 0), ("", 0), ("0", 0), ("17", 17), ("007", 7), (str(MAX_OFFSET), MAX_OFFSET)],
)
def test_offset_cursor_reads_plain_decimal_offsets(cursor, offset):
    assert offset_cursor(cursor) == offset


@pytest.mark.parametrize(
    "cursor", ["abc", "1e3", "\x00", "-5", "+5", " 5", "5 ", "1_0", "²", "١٢", str(MAX_OFFSET + 1)]
)
def test_offset_cursor_refuses_the_rest(cursor):
    with pytest.raises(InvalidCursorError) as raised:
        offset_cursor(cursor)
    assert raised.value.cursor == cursor
    assert raised.value.http_status == 400
    assert isinstance(raised.value, ActivityPubError)
    assert isinstance(raised.value, ValueError)
    with pytest.raises(InvalidCursorError):
        offset_cursor("11", maximum=10)


async def test_a_failing_dispatcher_is_a_logged_json_500(fed, caplog):
    app = fed.asgi(run_worker=False)
    async with asgi_client(app) as http:
        with caplog.at_level(logging.ERROR, logger="activitypub_kit.server"):
            boom = await http.get("/notes/boom", headers=AP)
            legacy = await http.get("/users/alice/following?cursor=abc", headers=AP)
    for answer in (boom, legacy):
        assert answer.status_code == 500
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == {"error": "internal error"}  # nothing of the exception
    logged = [r for r in caplog.records if r.name == "activitypub_kit.server"]
    assert len(logged) == 2
    assert logged[0].exc_info is not None
    assert "database is down" in str(logged[0].exc_info[1])
    assert "/notes/boom" in logged[0].getMessage()
    # The same failure behind a host app is our JSON 500, not the host's error page.
    host = Starlette(routes=[Route("/", lambda r: HTMLResponse("home"))])
    host.add_middleware(FederationMiddleware, federation=fed)
    async with asgi_client(host) as http:
        behind = await http.get("/notes/boom", headers=AP)
        assert (behind.status_code, behind.json()) == (500, {"error": "internal error"})


def host_app(fed: Federation) -> Starlette:
    async def profile(request):
        return HTMLResponse("<h1>profile</h1>", headers={"Vary": "Cookie"})

    async def about(request):
        return HTMLResponse("<p>about</p>")

    async def accepting(request):
        return HTMLResponse("<p>x</p>", headers={"Vary": "accept-encoding, ACCEPT"})

    app = Starlette(
        routes=[
            Route("/users/{handle}", profile),
            Route("/about", about),
            Route("/users/{handle}/followers", accepting),
        ]
    )
    app.add_middleware(FederationMiddleware, federation=fed)
    return app


async def test_the_host_apps_answer_on_a_negotiated_url_varies_on_accept(fed):
    async with asgi_client(host_app(fed)) as http:
        html = await http.get("/users/alice", headers={"Accept": "text/html"})
        assert html.text == "<h1>profile</h1>"
        assert html.headers.get_list("vary") == ["Cookie, Accept"]
        head = await http.head("/users/alice", headers={"Accept": "text/html"})
        assert head.headers.get_list("vary") == ["Cookie, Accept"]
        # the host app's own 404 for an object URL it has no page for
        missing = await http.get("/notes/1", headers={"Accept": "text/html"})
        assert missing.status_code == 404
        assert missing.headers.get_list("vary") == ["Accept"]
        # a Vary that already names Accept is left as it is
        named = await http.get("/users/alice/followers", headers={"Accept": "text/html"})
        assert named.headers.get_list("vary") == ["accept-encoding, ACCEPT"]
        # a URL that is not negotiated is the host app's alone
        about = await http.get("/about", headers={"Accept": "text/html"})
        assert "vary" not in about.headers
        ap = await http.get("/users/alice", headers=AP)
        assert ap.headers.get_list("vary") == ["Accept"]


async def test_406_without_a_host_app_varies_on_accept(fed):
    async with asgi_client(fed.asgi(run_worker=False)) as http:
        refused = await http.get("/users/alice", headers={"Accept": "text/html"})
    assert refused.status_code == 406
    assert refused.headers.get_list("vary") == ["Accept"]


@pytest.mark.parametrize(
    ("headers", "vary"),
    [
        ([], [b"Accept"]),
        ([(b"vary", b"")], [b"Accept"]),
        ([(b"Vary", b"Cookie")], [b"Cookie, Accept"]),
        ([(b"vary", b"Cookie"), (b"vary", b"Origin")], [b"Cookie, Accept", b"Origin"]),
        ([(b"vary", b"Cookie"), (b"vary", b"accept")], [b"Cookie", b"accept"]),
        ([(b"vary", b"*")], [b"*"]),
        ([(b"vary", b"Accept-Language")], [b"Accept-Language, Accept"]),
    ],
)
async def test_vary_accept_merges_with_the_vary_header(headers, vary):
    sent = []

    async def send(message):
        sent.append(message)

    start = {"type": "http.response.start", "status": 200, "headers": headers}
    await vary_accept(send)(start)
    await vary_accept(send)({"type": "http.response.body", "body": b"x"})
    assert [v for k, v in sent[0]["headers"] if k.lower() == b"vary"] == vary
    assert sent[1] == {"type": "http.response.body", "body": b"x"}
    assert start["headers"] is headers  # the message given is not changed

"""Serving: authorized fetch, content negotiation through Starlette and FastAPI, uvicorn
alone with its lifespan worker, and the inbox handler rules (subclasses, retries)."""

from __future__ import annotations

import time

import anyio
import pytest
import uvicorn
from hostile import AS, post_signed, serve_actor
from nodes import keys_for
from social import Node
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

from activitypub_kit.models import Activity, Create, Flag, Follow, Like, Note, View
from activitypub_kit.server import FederationMiddleware
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

    @node.fed.inbox.on(Like)
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
        is_blocked=lambda actor: "c.test" in actor,
    )
    refused = await signed_get(client, node.actor("alice"), eve)
    assert refused.status_code == 403
    assert "is blocked here" in refused.json()["error"]

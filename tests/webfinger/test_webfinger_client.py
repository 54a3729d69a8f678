"""WebFinger client against real loopback servers: round trip, spoofing, host-meta, SSRF."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from activitypub_kit.errors import (
    AddressRefusedError,
    InvalidHandleError,
    InvalidResponseError,
    NoActorLinkError,
    ResourceGoneError,
    WebFingerMismatchError,
    WrongContentTypeError,
)
from activitypub_kit.http import HttpClient, HttpSettings
from activitypub_kit.webfinger import Handle, WebFingerClient
from loopback import LoopbackServer, StartServer, resolver_with

pytestmark = pytest.mark.anyio


def wf_client(client: HttpClient) -> WebFingerClient:
    return WebFingerClient(client, scheme="http", allow_port=True)


def handle_of(server: LoopbackServer, user: str) -> str:
    return f"{user}@{server.host}:{server.port}"


def serve_webfinger(
    server: LoopbackServer, jrds: dict[str, Any], *, path: str = "/.well-known/webfinger"
) -> None:
    """Answer WebFinger queries from ``jrds`` (keyed by the acct: resource)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        resource = request.query.get("resource", "")
        jrd = jrds.get(resource)
        if jrd is None:
            return web.Response(status=404)
        if isinstance(jrd, int):
            return web.Response(status=jrd)
        return web.Response(
            body=json.dumps(jrd).encode(), headers={"Content-Type": "application/jrd+json"}
        )

    server.on(path, handler)


def jrd(subject: str, self_href: str, **extra: Any) -> dict[str, Any]:
    return {
        "subject": subject,
        "links": [
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": "x"},
            {"rel": "self", "type": "application/activity+json", "href": self_href},
        ],
    } | extra


def person(actor_id: str, username: str, **extra: Any) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": actor_id,
        "type": "Person",
        "preferredUsername": username,
        "inbox": actor_id + "/inbox",
    } | extra


async def test_resolves_every_handle_form_and_the_actor_url(
    start_server: StartServer, client: HttpClient
) -> None:
    a = await start_server("a.test")
    alice = a.url("/users/alice")
    handle = handle_of(a, "alice")
    serve_webfinger(a, {f"acct:{handle}": jrd(f"acct:{handle}", alice)})
    a.json("/users/alice", person(alice, "alice"))
    finger = wf_client(client)
    for form in (handle, "@" + handle, "acct:" + handle, alice):
        resolved = await finger.resolve(form)
        assert resolved.id == alice
        assert resolved.handle == Handle("alice", f"a.test:{a.port}")


async def test_split_domain_handle_resolves_through_the_subject(
    start_server: StartServer, client: HttpClient
) -> None:
    a = await start_server("a.test")  # the handle's domain
    b = await start_server("social.a.test")  # where the server runs
    alice = b.url("/users/alice")
    short = handle_of(a, "alice")
    long = handle_of(b, "alice")
    serve_webfinger(a, {f"acct:{short}": jrd(f"acct:{short}", alice)})
    serve_webfinger(b, {f"acct:{long}": jrd(f"acct:{short}", alice)})
    b.json("/users/alice", person(alice, "alice"))
    finger = wf_client(client)
    assert (await finger.resolve(short)).handle == Handle("alice", f"a.test:{a.port}")
    assert (await finger.resolve(long)).handle == Handle("alice", f"a.test:{a.port}")
    assert (await finger.resolve(alice)).handle == Handle("alice", f"a.test:{a.port}")


async def test_spoofed_webfinger_does_not_lend_its_handle(
    start_server: StartServer, client: HttpClient
) -> None:
    evil = await start_server("a.test")
    real = await start_server("b.test")
    alex = real.url("/users/alex")
    fake = handle_of(evil, "trump")
    serve_webfinger(evil, {f"acct:{fake}": jrd(f"acct:{fake}", alex)})
    serve_webfinger(
        real, {f"acct:{handle_of(real, 'alex')}": jrd("acct:" + handle_of(real, "alex"), alex)}
    )
    real.json("/users/alex", person(alex, "alex"))
    resolved = await wf_client(client).resolve(fake)
    assert resolved.handle == Handle("alex", f"b.test:{real.port}")
    assert resolved.handle != Handle("trump", f"a.test:{evil.port}")


async def test_actor_whose_handle_points_elsewhere_is_rejected(
    start_server: StartServer, client: HttpClient
) -> None:
    a = await start_server("a.test")
    mallory = a.url("/users/mallory")
    victim = a.url("/users/alice")
    serve_webfinger(
        a,
        {
            f"acct:{handle_of(a, 'mallory')}": jrd("acct:" + handle_of(a, "mallory"), mallory),
            f"acct:{handle_of(a, 'alice')}": jrd("acct:" + handle_of(a, "alice"), victim),
        },
    )
    # mallory's actor claims to be "alice" (preferredUsername), which WebFingers elsewhere.
    a.json("/users/mallory", person(mallory, "alice"))
    with pytest.raises(WebFingerMismatchError, match="not to the actor"):
        await wf_client(client).resolve(mallory)


async def test_self_link_must_be_the_actor_id(
    start_server: StartServer, client: HttpClient
) -> None:
    a = await start_server("a.test")
    handle = handle_of(a, "alice")
    serve_webfinger(a, {f"acct:{handle}": jrd(f"acct:{handle}", a.url("/@alice"))})
    a.json("/@alice", person(a.url("/users/alice"), "alice"))
    with pytest.raises(WebFingerMismatchError, match="actor's id"):
        await wf_client(client).resolve(handle)


async def test_jrd_without_activitypub_self_link(
    start_server: StartServer, client: HttpClient
) -> None:
    a = await start_server("a.test")
    handle = handle_of(a, "alice")
    only_html = {
        "subject": f"acct:{handle}",
        "links": [{"rel": "self", "type": "text/html", "href": a.url("/")}],
    }
    serve_webfinger(a, {f"acct:{handle}": only_html})
    with pytest.raises(NoActorLinkError):
        await wf_client(client).resolve(handle)


async def test_deleted_account_and_wrong_content_type(
    start_server: StartServer, client: HttpClient
) -> None:
    a = await start_server("a.test")
    serve_webfinger(a, {f"acct:{handle_of(a, 'gone')}": 410})
    with pytest.raises(ResourceGoneError):
        await wf_client(client).lookup(handle_of(a, "gone"))
    a.raw("/.well-known/webfinger", b"<html>", {"Content-Type": "text/html"})
    with pytest.raises(WrongContentTypeError, match="text/html"):
        await wf_client(client).lookup(handle_of(a, "x"))


HOST_META = """<?xml version="1.0" encoding="UTF-8"?>
<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">
  <Link rel="lrdd" template="{origin}/legacy/webfinger?resource={{uri}}"/>
</XRD>
"""


async def test_host_meta_fallback(start_server: StartServer, client: HttpClient) -> None:
    a = await start_server("a.test")
    alice = a.url("/users/alice")
    handle = handle_of(a, "alice")
    a.raw(
        "/.well-known/host-meta",
        HOST_META.format(origin=a.origin).encode(),
        {"Content-Type": "application/xrd+xml"},
    )
    serve_webfinger(a, {f"acct:{handle}": jrd(f"acct:{handle}", alice)}, path="/legacy/webfinger")
    a.json("/users/alice", person(alice, "alice"))
    resolved = await wf_client(client).resolve(handle)
    assert resolved.id == alice
    assert a.hits("/.well-known/host-meta") >= 1


XRD_WITH_ENTITY = (
    b'<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">'
    b'<Link rel="lrdd" template="&ENT;{uri}"/></XRD>'
)


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        + XRD_WITH_ENTITY.replace(b"ENT", b"b"),
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        + XRD_WITH_ENTITY.replace(b"ENT", b"e"),
    ],
)
async def test_host_meta_with_a_dtd_is_refused(
    body: bytes, start_server: StartServer, client: HttpClient
) -> None:
    a = await start_server("a.test")
    a.raw("/.well-known/host-meta", body, {"Content-Type": "application/xrd+xml"})
    with pytest.raises(InvalidResponseError, match="DTD"):
        await wf_client(client).lookup(handle_of(a, "alice"))


async def test_host_meta_template_to_a_refused_address(start_server: StartServer) -> None:
    a = await start_server("a.test")
    a.raw(
        "/.well-known/host-meta",
        HOST_META.format(origin="http://internal.test").encode(),
        {"Content-Type": "application/xrd+xml"},
    )
    resolver = resolver_with({"internal.test": ["192.168.0.10"]})
    async with HttpClient(HttpSettings.for_local_testing(), resolver=resolver) as client:
        with pytest.raises(AddressRefusedError, match=r"192\.168\.0\.10"):
            await wf_client(client).lookup(handle_of(a, "alice"))


async def test_webfinger_redirect_to_a_refused_address(start_server: StartServer) -> None:
    a = await start_server("a.test")
    a.redirect("/.well-known/webfinger", "http://[::ffff:10.0.0.1]/x")
    async with HttpClient(HttpSettings.for_local_testing(), resolver=resolver_with()) as client:
        with pytest.raises(AddressRefusedError, match="IPv4-mapped"):
            await wf_client(client).lookup(handle_of(a, "alice"))


@pytest.mark.parametrize(
    "text",
    [
        "user@localhost:1234/secret?",
        "a@a.test:1234/secret.txt?x=1#",
        "a@a.test@b.test",
        "a@ a.test",
        "user:pw@a.test",
        "a@127.0.0.1:80",
    ],
)
async def test_handle_injection_sends_nothing(text: str, start_server: StartServer) -> None:
    a = await start_server("a.test")
    resolver = resolver_with()
    async with HttpClient(HttpSettings.for_local_testing(), resolver=resolver) as client:
        with pytest.raises(InvalidHandleError):
            await wf_client(client).resolve(text)
    assert resolver.queries == []
    assert a.seen == []


async def test_webfinger_redirect_to_the_server_domain_is_followed(
    start_server: StartServer, client: HttpClient
) -> None:
    apex = await start_server("a.test")
    social = await start_server("social.a.test")
    alice = social.url("/users/alice")
    short = handle_of(apex, "alice")
    long = handle_of(social, "alice")
    apex.redirect(
        "/.well-known/webfinger",
        social.url("/.well-known/webfinger")
        + "?resource=acct%3A"
        + short.replace(":", "%3A").replace("@", "%40"),
    )
    serve_webfinger(
        social,
        {f"acct:{short}": jrd(f"acct:{short}", alice), f"acct:{long}": jrd(f"acct:{short}", alice)},
    )
    social.json("/users/alice", person(alice, "alice"))
    resolved = await wf_client(client).resolve(short)
    assert resolved.handle == Handle("alice", f"a.test:{apex.port}")
    assert resolved.id == alice


async def test_jrd_without_subject_resolves_through_the_self_link(
    start_server: StartServer, client: HttpClient
) -> None:
    a = await start_server("a.test")
    alice = a.url("/users/alice")
    handle = handle_of(a, "alice")
    no_subject = {"links": [{"rel": "self", "type": "application/activity+json", "href": alice}]}
    serve_webfinger(a, {f"acct:{handle}": no_subject})
    a.json("/users/alice", person(alice, "alice"))
    resolved = await wf_client(client).resolve(handle)
    assert resolved.handle == Handle("alice", f"a.test:{a.port}")

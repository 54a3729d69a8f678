"""The SSRF guard, end to end: stubbed DNS answers, real loopback servers, no other packet."""

from __future__ import annotations

import ipaddress

import pytest
from test_addresses import REFUSED

from activitypub_kit.errors import (
    AddressRefusedError,
    ConnectionFailedError,
    SchemeRefusedError,
    UrlRefusedError,
)
from activitypub_kit.http import HttpClient, HttpSettings
from loopback import StartServer, resolver_with

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("address", "word"), REFUSED)
async def test_name_resolving_to_a_refused_address_is_refused(
    address: str, word: str, start_server: StartServer
) -> None:
    server = await start_server("a.test")
    server.json("/x", {"id": "x"})
    resolver = resolver_with({"evil.test": [address]})
    async with HttpClient(HttpSettings(), resolver=resolver) as client:
        with pytest.raises(AddressRefusedError) as caught:
            await client.get(f"http://evil.test:{server.port}/x")
    assert caught.value.address == str(ipaddress.ip_address(address))
    assert word.lower() in str(caught.value).lower()
    assert resolver.queries == ["evil.test"]
    assert server.seen == []


async def test_one_private_answer_among_public_ones_refuses_the_name(
    start_server: StartServer,
) -> None:
    server = await start_server("a.test")
    # Loopback is allowed here; the name also answers a private address, so it is refused
    # as a whole instead of connecting to whichever answer passes.
    resolver = resolver_with({"rebind.test": ["127.0.0.1", "10.0.0.7"]})
    async with HttpClient(HttpSettings.for_local_testing(), resolver=resolver) as client:
        with pytest.raises(AddressRefusedError, match=r"10\.0\.0\.7"):
            await client.get(f"http://rebind.test:{server.port}/")
    assert server.seen == []


async def test_loopback_is_refused_unless_allow_listed(start_server: StartServer) -> None:
    server = await start_server("a.test")
    server.json("/ok", {"ok": True}, content_type="application/json")
    async with HttpClient(HttpSettings(), resolver=resolver_with()) as strict:
        with pytest.raises(AddressRefusedError, match="loopback"):
            await strict.get(server.url("/ok"))
    assert server.seen == []
    async with HttpClient(HttpSettings.for_local_testing(), resolver=resolver_with()) as dev:
        response = await dev.get(server.url("/ok"))
    assert response.json() == {"ok": True}
    assert server.hits("/ok") == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/",
        "http://[::1]:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://[::ffff:7f00:1]:{port}/",
        "http://0.0.0.0:{port}/",
        "http://[::]:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[64:ff9b::a9fe:a9fe]/",
    ],
)
async def test_ip_literals_are_checked_without_a_resolver(
    url: str, start_server: StartServer
) -> None:
    server = await start_server("a.test")
    resolver = resolver_with()
    async with HttpClient(HttpSettings(), resolver=resolver) as client:
        with pytest.raises(AddressRefusedError):
            await client.get(url.format(port=server.port))
    assert resolver.queries == []
    assert server.seen == []


@pytest.mark.parametrize("host", ["2130706433", "127.1", "0177.0.0.1", "017700000001"])
async def test_non_canonical_numeric_hosts_are_refused(host: str) -> None:
    async with HttpClient(HttpSettings.for_local_testing(), resolver=resolver_with()) as client:
        with pytest.raises(UrlRefusedError, match=r"canonical|not a valid URL"):
            await client.get(f"http://{host}/")


async def test_names_only_reach_the_network_through_the_guarded_resolver() -> None:
    resolver = resolver_with()
    async with HttpClient(HttpSettings(), resolver=resolver) as client:
        with pytest.raises(ConnectionFailedError, match="no such name"):
            await client.get("http://0x7f.0.0.1/")
    assert resolver.queries == ["0x7f.0.0.1"]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://a.test/x",
        "file:///etc/passwd",
        "gopher://a.test:70/_x",
        "data:application/activity+json,{}",
        "javascript:alert(1)",
    ],
)
async def test_non_http_schemes_are_refused(url: str, client: HttpClient) -> None:
    with pytest.raises(SchemeRefusedError):
        await client.get(url)


async def test_https_only_setting_refuses_http() -> None:
    settings = HttpSettings(schemes=frozenset({"https"}))
    async with HttpClient(settings, resolver=resolver_with()) as client:
        with pytest.raises(SchemeRefusedError, match="'http' is not https"):
            await client.get("http://a.test/")


async def test_credentials_in_the_url_are_refused(client: HttpClient) -> None:
    with pytest.raises(UrlRefusedError, match="credentials") as caught:
        await client.get("http://user:secret@a.test/")
    assert "secret" not in str(caught.value)


async def test_unresolvable_name_is_a_connection_failure(client: HttpClient) -> None:
    with pytest.raises(ConnectionFailedError, match=r"nowhere\.test"):
        await client.get("http://nowhere.test/")


async def test_environment_proxies_are_ignored(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = await start_server("c.test")
    target = await start_server("a.test")
    target.json("/x", {"direct": True}, content_type="application/json")
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
    async with HttpClient(HttpSettings.for_local_testing(), resolver=resolver_with()) as client:
        response = await client.get(target.url("/x"))
    assert response.json() == {"direct": True}
    assert proxy.seen == []


async def test_no_cookie_is_kept(start_server: StartServer, client: HttpClient) -> None:
    from aiohttp import web

    server = await start_server("a.test")

    async def set_cookie(request: web.Request) -> web.StreamResponse:
        response = web.Response(text="ok")
        response.set_cookie("session", "secret")
        return response

    server.on("/login", set_cookie)
    server.json("/next", {}, content_type="application/json")
    first = await client.get(server.url("/login"))
    assert "session=secret" in first.headers["set-cookie"]
    await client.get(server.url("/next"))
    assert "Cookie" not in server.seen[-1].headers

"""Redirect rules, body limits (after decompression), timeouts, budget and signing hooks."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import zlib
from collections.abc import Generator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from activitypub_kit.errors import (
    AddressRefusedError,
    FetchBudgetExhaustedError,
    FetchTimeoutError,
    InvalidResponseError,
    RedirectLoopError,
    ResponseTooLargeError,
    SchemeDowngradeError,
    TooManyRedirectsError,
)
from activitypub_kit.http import FetchBudget, HttpClient, HttpSettings
from loopback import StartServer, resolver_with, self_signed_tls

pytestmark = pytest.mark.anyio


# -- redirects -------------------------------------------------------------------------


async def test_redirect_chain_of_five_is_followed(
    start_server: StartServer, client: HttpClient
) -> None:
    server = await start_server("a.test")
    for i in range(5):
        server.redirect(f"/r{i}", f"/r{i + 1}")
    server.json("/r5", {"done": True})
    response = await client.get(server.url("/r0"))
    assert response.status_code == 200
    assert response.json() == {"done": True}
    assert str(response.url) == server.url("/r5")
    assert [r.status_code for r in response.history] == [302] * 5


async def test_sixth_redirect_is_refused(start_server: StartServer, client: HttpClient) -> None:
    server = await start_server("a.test")
    for i in range(6):
        server.redirect(f"/r{i}", f"/r{i + 1}")
    server.json("/r6", {"done": True})
    with pytest.raises(TooManyRedirectsError, match="5 redirects"):
        await client.get(server.url("/r0"))
    assert server.hits("/r6") == 0


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_loop_is_detected(
    status: int, start_server: StartServer, client: HttpClient
) -> None:
    a = await start_server("a.test")
    b = await start_server("b.test")
    a.redirect("/k", b.url("/k2"), status)
    b.redirect("/k2", a.url("/k"), status)
    with pytest.raises(RedirectLoopError, match="points back to"):
        await client.get(a.url("/k"))
    assert a.hits("/k") == 1
    assert b.hits("/k2") == 1


async def test_redirect_to_itself_is_a_loop(start_server: StartServer, client: HttpClient) -> None:
    server = await start_server("a.test")
    server.redirect("/self", "/self")
    with pytest.raises(RedirectLoopError):
        await client.get(server.url("/self"))


async def test_redirect_changing_scheme_is_refused(
    start_server: StartServer, client: HttpClient
) -> None:
    server = await start_server("a.test")
    server.redirect("/up", f"https://a.test:{server.port}/x")
    with pytest.raises(SchemeDowngradeError, match="from http to https"):
        await client.get(server.url("/up"))


async def test_https_to_http_downgrade_is_refused_before_connecting() -> None:
    client = HttpClient(HttpSettings.for_local_testing(), resolver=resolver_with())
    target = client._redirect_target  # the hop rule, applied to an https chain
    with pytest.raises(SchemeDowngradeError, match="from https to http"):
        target(httpx.URL("https://a.test/x"), "http://a.test/y")
    await client.aclose()


async def test_redirect_to_a_refused_address_is_refused(start_server: StartServer) -> None:
    server = await start_server("a.test")
    server.redirect("/go", "http://metadata.test/latest/meta-data/")
    resolver = resolver_with({"metadata.test": ["169.254.169.254"]})
    async with HttpClient(HttpSettings.for_local_testing(), resolver=resolver) as client:
        with pytest.raises(AddressRefusedError, match=r"169\.254\.169\.254.*link-local"):
            await client.get(server.url("/go"))
    assert resolver.queries[-1] == "metadata.test"


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.2:1/x",
        "http://[::ffff:127.0.0.2]:1/x",
        "http://[::1]:1/x",
        "http://10.0.0.1/",
    ],
)
async def test_redirect_to_a_loopback_literal_is_refused_by_default(
    location: str, start_server: StartServer
) -> None:
    server = await start_server("a.test")
    server.redirect("/go", location)
    # Only the server's exact address is allowed; the redirect targets are not.
    resolver = resolver_with()
    settings = HttpSettings(allowed_networks=("127.0.0.1/32",))
    async with HttpClient(settings, resolver=resolver) as client:
        with pytest.raises(AddressRefusedError):
            await client.get(f"http://a.test:{server.port}/go")
    assert server.hits("/go") == 1


async def test_redirects_are_not_followed_for_post(
    start_server: StartServer, client: HttpClient
) -> None:
    server = await start_server("a.test")
    server.redirect("/inbox", "/elsewhere", 307)
    response = await client.post(server.url("/inbox"), b"{}")
    assert response.status_code == 307
    assert server.hits("/elsewhere") == 0


async def test_credentials_do_not_follow_a_cross_origin_redirect(
    start_server: StartServer, client: HttpClient
) -> None:
    a = await start_server("a.test")
    b = await start_server("b.test")
    a.redirect("/x", b.url("/y"))
    b.json("/y", {"ok": True})
    await client.get(a.url("/x"), headers={"Authorization": "Bearer secret"})
    assert a.seen[0].headers.get("Authorization") == "Bearer secret"
    assert "Authorization" not in b.seen[0].headers


# -- body size -------------------------------------------------------------------------

LIMIT = 64 * 1024


@pytest.fixture
async def small_client() -> HttpClient:
    return HttpClient(HttpSettings.for_local_testing(max_body_size=LIMIT), resolver=resolver_with())


async def test_body_at_the_limit_is_accepted(
    start_server: StartServer, small_client: HttpClient
) -> None:
    server = await start_server("a.test")
    server.raw("/exact", b"x" * LIMIT, {"Content-Type": "text/plain"})
    async with small_client:
        response = await small_client.get(server.url("/exact"))
    assert len(response.content) == LIMIT


async def test_declared_oversize_body_is_refused(
    start_server: StartServer, small_client: HttpClient
) -> None:
    server = await start_server("a.test")
    server.raw("/big", b"x" * (LIMIT + 1), {"Content-Type": "text/plain"})
    async with small_client:
        with pytest.raises(ResponseTooLargeError, match=f"larger than {LIMIT}"):
            await small_client.get(server.url("/big"))


async def test_streamed_oversize_body_without_length_is_cut(
    start_server: StartServer, small_client: HttpClient
) -> None:
    server = await start_server("a.test")
    sent: list[int] = []

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(10_000):  # 160 MB if nobody stops reading
                await response.write(b"y" * 16384)
                sent.append(16384)
        except (ConnectionResetError, RuntimeError):
            pass
        return response

    server.on("/stream", endless)
    async with small_client:
        with pytest.raises(ResponseTooLargeError):
            await small_client.get(server.url("/stream"))
    assert sum(sent) < 100 * LIMIT


def bomb(size: int, layers: int = 1) -> bytes:
    data = b"\0" * size
    for _ in range(layers):
        data = gzip.compress(data, compresslevel=9)
    return data


@pytest.mark.parametrize("layers", [1, 2])
async def test_gzip_bomb_stops_at_the_limit(
    layers: int, start_server: StartServer, client: HttpClient
) -> None:
    server = await start_server("a.test")
    payload = bomb(64 * 1024 * 1024, layers)  # 64 MiB of zeros in < 70 KB
    assert len(payload) < 70_000
    encoding = ", ".join(["gzip"] * layers)
    server.raw("/bomb", payload, {"Content-Type": "text/plain", "Content-Encoding": encoding})
    with pytest.raises(ResponseTooLargeError, match="1048576 bytes after decoding"):
        await client.get(server.url("/bomb"))


async def test_gzip_and_deflate_bodies_are_decoded(
    start_server: StartServer, client: HttpClient
) -> None:
    server = await start_server("a.test")
    document = {"type": "Note", "content": "hello " * 100}
    server.gzip_json("/g", document)
    server.gzip_json("/gg", document, layers=2)
    raw = json.dumps(document).encode()
    server.raw("/z", zlib.compress(raw), {"Content-Encoding": "deflate"})
    deflater = zlib.compressobj(wbits=-15)
    server.raw("/d", deflater.compress(raw) + deflater.flush(), {"Content-Encoding": "deflate"})
    for path in ("/g", "/gg", "/z", "/d"):
        response = await client.get(server.url(path))
        assert response.json() == document, path
        assert "content-encoding" not in response.headers
    assert server.seen[0].headers["Accept-Encoding"] == "gzip, deflate"


async def test_unrequested_encoding_and_corrupt_gzip_are_refused(
    start_server: StartServer, client: HttpClient
) -> None:
    server = await start_server("a.test")
    server.raw("/br", b"\x1b\x00", {"Content-Encoding": "br"})
    server.raw("/bad", b"not gzip at all", {"Content-Encoding": "gzip"})
    with pytest.raises(InvalidResponseError, match="'br'"):
        await client.get(server.url("/br"))
    with pytest.raises(InvalidResponseError, match="not valid gzip"):
        await client.get(server.url("/bad"))


# -- timeouts --------------------------------------------------------------------------


async def test_read_timeout_applies(start_server: StartServer) -> None:
    server = await start_server("a.test")
    never = asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        await never.wait()
        return web.Response()

    server.on("/stall", stall)
    settings = HttpSettings.for_local_testing(read_timeout=0.2)
    async with HttpClient(settings, resolver=resolver_with()) as client:
        with pytest.raises(FetchTimeoutError, match=r"no data for 0\.2 s"):
            await client.get(server.url("/stall"))
    never.set()


async def test_total_timeout_covers_a_trickling_body(start_server: StartServer) -> None:
    server = await start_server("a.test")
    stop = asyncio.Event()

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            while not stop.is_set():  # a byte at a time, each well inside the read timeout
                await response.write(b"z")
                await asyncio.sleep(0.02)  # pacing the sender, not synchronising the test
        except (ConnectionResetError, RuntimeError):
            pass
        return response

    server.on("/trickle", trickle)
    settings = HttpSettings.for_local_testing(read_timeout=5, total_timeout=0.5)
    async with HttpClient(settings, resolver=resolver_with()) as client:
        with pytest.raises(FetchTimeoutError, match=r"longer than 0\.5 s"):
            await client.get(server.url("/trickle"))
    stop.set()


def test_default_limits_match_the_issue() -> None:
    settings = HttpSettings()
    assert (settings.connect_timeout, settings.read_timeout, settings.total_timeout) == (5, 10, 30)
    assert settings.max_body_size == 1024 * 1024
    assert settings.max_redirects == 5
    assert settings.allowed_networks == ()
    assert settings.fetch_budget == 20


# -- budget and auth -------------------------------------------------------------------


async def test_fetch_budget_counts_every_request_and_redirect_hop(
    start_server: StartServer, client: HttpClient
) -> None:
    server = await start_server("a.test")
    server.redirect("/hop", "/end")
    server.json("/end", {})
    budget = FetchBudget(3)
    with budget.activate():
        await client.get(server.url("/hop"))  # two requests
        await client.get(server.url("/end"))  # third
        with pytest.raises(FetchBudgetExhaustedError, match="budget of 3"):
            await client.get(server.url("/end"))
    assert budget.remaining == 0
    assert len(server.seen) == 3


class HeaderAuth(httpx.Auth):
    """Test-only signer: a header binding method, URL and host (stands in for HTTP sigs)."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        text = f"{request.method} {request.url} {request.headers['host']}".encode()
        request.headers["X-Test-Signature"] = hashlib.sha256(text).hexdigest()
        yield request


def expected_signature(method: str, url: str, host: str) -> str:
    return hashlib.sha256(f"{method} {url} {host}".encode()).hexdigest()


async def test_signed_get_is_resigned_on_every_hop(start_server: StartServer) -> None:
    a = await start_server("a.test")
    b = await start_server("b.test")

    async def checked(request: web.Request) -> web.StreamResponse:
        url = f"http://{request.headers['Host']}{request.path_qs}"
        good = request.headers.get("X-Test-Signature") == expected_signature(
            request.method, url, request.headers["Host"]
        )
        if not good:
            return web.Response(status=401)
        if request.path == "/start":
            return web.Response(status=302, headers={"Location": b.url("/end")})
        return web.json_response({"signed": True})

    a.on("/start", checked)
    b.on("/end", checked)
    async with HttpClient(
        HttpSettings.for_local_testing(), resolver=resolver_with(), auth=HeaderAuth()
    ) as client:
        response = await client.get(a.url("/start"))
        assert response.status_code == 200
        assert response.json() == {"signed": True}
        unsigned = await client.get(a.url("/start"), auth=None)
    assert unsigned.status_code == 401


async def test_https_redirect_to_http_is_a_refused_downgrade(
    start_server: StartServer, tmp_path: Path
) -> None:
    server_tls, client_tls = self_signed_tls(tmp_path, "a.test")
    secure = await start_server("a.test", server_tls)
    plain = await start_server("a.test")
    secure.json("/ok", {"tls": True}, content_type="application/json")
    secure.redirect("/down", plain.url("/x"))
    plain.json("/x", {"tls": False})
    settings = HttpSettings.for_local_testing(verify=client_tls)
    async with HttpClient(settings, resolver=resolver_with()) as client:
        assert (await client.get(secure.url("/ok"))).json() == {"tls": True}
        with pytest.raises(SchemeDowngradeError, match="from https to http"):
            await client.get(secure.url("/down"))
    assert plain.seen == []


async def test_send_and_check_apply_the_same_rules(
    start_server: StartServer, client: HttpClient
) -> None:
    server = await start_server("a.test")
    server.json("/inbox", {"accepted": True}, status=202)
    request = httpx.Request(
        "POST", server.url("/inbox"), content=b"{}", headers={"Content-Type": "application/json"}
    )
    response = await client.send(request)
    assert response.status_code == 202
    assert server.seen[0].body == b"{}"
    assert server.seen[0].headers["Content-Type"] == "application/json"
    assert client.check("http://a.test/x#frag") == httpx.URL("http://a.test/x")
    with pytest.raises(AddressRefusedError):
        client.check("http://[::ffff:10.0.0.1]/")


def test_settings_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="schemes"):
        HttpSettings(schemes=frozenset({"ftp"}))
    with pytest.raises(ValueError, match="positive"):
        HttpSettings(read_timeout=0)
    with pytest.raises(ValueError, match="does not appear to be"):
        HttpSettings(allowed_networks=("not a network",))


async def test_head_ignores_the_announced_length(
    start_server: StartServer, client: HttpClient
) -> None:
    server = await start_server("a.test")
    server.raw("/big", b"x" * (2 * 1024 * 1024), {"Content-Type": "text/plain"})
    response = await client.request("HEAD", server.url("/big"))
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == 2 * 1024 * 1024


async def test_send_refuses_a_streaming_body(client: HttpClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        yield b"x"

    request = httpx.Request("POST", "http://a.test/inbox", content=chunks())
    with pytest.raises(ValueError, match="bytes"):
        await client.send(request)

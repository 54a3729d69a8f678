"""Issue 12, items 6-7: one home per idea.

One bounded cache (LRU + TTL on an injectable clock) and its users; one origin function
every layer reads URLs with; one ActivityPub media type; one depth limit for documents from
other servers; renamed look-alikes (``server.Page``, ``http.PublicKey``) with deprecated
aliases.  Each test fails on the code before the change.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from activitypub_kit.errors import InvalidActivityError, InvalidResponseError, UrlRefusedError
from activitypub_kit.testing._clock import FakeClock

pytestmark = pytest.mark.anyio


# -- the bounded cache -----------------------------------------------------------------


def test_bounded_cache_evicts_the_least_recently_used() -> None:
    from activitypub_kit._cache import BoundedCache

    cache: BoundedCache[str, int] = BoundedCache(3)
    for i, key in enumerate("abc"):
        cache.set(key, i)
    assert cache.get("a") == 0  # a use: "b" is now the least recently used
    cache.set("d", 3)
    assert len(cache) == 3
    assert "b" not in cache
    assert [k for k, _ in cache.items()] == ["c", "a", "d"]
    for i in range(100):
        cache.set(f"k{i}", i)
    assert len(cache) == 3  # the bound holds under a flood


def test_bounded_cache_expires_entries_on_the_injected_clock() -> None:
    from activitypub_kit._cache import BoundedCache

    clock = FakeClock()
    cache: BoundedCache[str, str] = BoundedCache(10, ttl=30, clock=clock)
    cache.set("a", "A")
    cache.set("forever", "F", ttl=None)
    cache.set("short", "S", ttl=5)
    clock.advance(5)
    assert cache.get("short") is None  # expired exactly at its TTL
    assert cache.get("a") == "A"
    clock.advance(25)
    assert cache.get("a") is None
    assert cache.peek("forever") == "F"
    cache.set("off", "x", ttl=0)  # a TTL of zero keeps nothing
    assert "off" not in cache
    with pytest.raises(ValueError, match="at least one"):
        BoundedCache(0)


async def test_key_cache_expires_on_its_clock_and_stays_bounded() -> None:
    from activitypub_kit.server._keys import KeyCache, KeyPair

    clock = FakeClock()
    cache = KeyCache(ttl=60.0, size=2, clock=clock)
    pair = KeyPair("https://a.example/users/x#ed25519-key", ed25519.Ed25519PrivateKey.generate())
    loads: list[str] = []

    def loader(handle: str) -> Any:
        async def load() -> list[KeyPair]:
            loads.append(handle)
            return [pair]

        return load

    await cache.get("a", loader("a"))
    clock.advance(59)
    await cache.get("a", loader("a"))
    assert loads == ["a"]  # still fresh
    clock.advance(1)
    await cache.get("a", loader("a"))
    assert loads == ["a", "a"]  # expired at 60 s: loaded again
    await cache.get("b", loader("b"))
    await cache.get("a", loader("a"))  # a use: "b" is now the least recently used
    await cache.get("c", loader("c"))
    await cache.get("a", loader("a"))
    assert loads == ["a", "a", "b", "c"]  # "a" survived: least recently used goes first
    await cache.get("b", loader("b"))
    assert loads[-1] == "b"
    cache.ttl = 10  # a new TTL forgets what was loaded under the old one
    await cache.get("a", loader("a"))
    assert loads[-1] == "a"


async def test_resolver_cache_store_is_bounded_and_expires_on_its_clock() -> None:
    from activitypub_kit.http._cache import FetchCache, _LocalStore

    clock = FakeClock()
    cache = FetchCache(_LocalStore(clock=clock, max_entries=2), document_ttl=100, clock=clock)
    for n in range(3):
        await cache.put("doc", f"https://a.example/{n}", {"id": f"https://a.example/{n}"})
    assert await cache.get("doc", "https://a.example/0") is None  # evicted: over the bound
    hit = await cache.get("doc", "https://a.example/2")
    assert hit is not None
    assert hit.value["id"] == "https://a.example/2"
    clock.advance(100)
    assert await cache.get("doc", "https://a.example/2") is None  # the TTL ran out


def test_authenticator_reuses_a_verified_key_for_key_ttl_only() -> None:
    from activitypub_kit.server._authenticate import Authenticator

    clock = FakeClock()
    authenticator = Authenticator(None, key_ttl=30, clock=clock)  # type: ignore[arg-type]
    recent = authenticator._recent
    recent.set("https://a.example/k", "key")  # type: ignore[arg-type]
    clock.advance(29)
    assert recent.get("https://a.example/k") == "key"
    clock.advance(1)
    assert recent.get("https://a.example/k") is None
    for n in range(5000):
        recent.set(f"https://a.example/k{n}", "key")  # type: ignore[arg-type]
    assert len(recent) == 4096
    authenticator.key_ttl = 0  # no reuse at all
    recent.set("https://a.example/k", "key")  # type: ignore[arg-type]
    assert recent.get("https://a.example/k") is None


# -- one origin ------------------------------------------------------------------------

TRICKY = [
    # (a, b, same origin?)
    ("https://a.example/x", "https://A.EXAMPLE:443/y", True),  # case, explicit default port
    ("HTTP://a.example/", "http://a.example:80", True),
    ("https://a.example/", "http://a.example/", False),  # scheme
    ("https://a.example/", "https://a.example:8443/", False),  # port
    ("https://bücher.example/u", "https://xn--bcher-kva.example/u", True),  # IDN, two spellings
    ("https://BÜCHER.example/u", "https://xn--bcher-kva.example:443/", True),
    ("https://[::1]:8443/a", "https://[0:0::1]:8443/b", None),  # IPv6: compared as written
    ("https://[::A]/", "https://[::a]:443/", True),
]


@pytest.mark.parametrize(("a", "b", "same"), TRICKY)
def test_every_call_site_reads_an_origin_the_same_way(a: str, b: str, same: bool | None) -> None:
    from activitypub_kit import _origin
    from activitypub_kit.http import _urls as urls
    from activitypub_kit.server import _parsing as parsing

    for url in (a, b):
        assert parsing.origin_of(url) == urls.origin(url) == _origin.origin_of(url)
    if same is not None:
        assert (parsing.origin_of(a) == parsing.origin_of(b)) is same
        assert urls.same_origin(a, b) is same


def test_there_is_one_origin_function() -> None:
    from activitypub_kit import _origin
    from activitypub_kit.http import _resolver as resolver
    from activitypub_kit.http import _urls as urls
    from activitypub_kit.server import _authenticate as authenticate
    from activitypub_kit.server import _origins as origins
    from activitypub_kit.server import _parsing as parsing
    from activitypub_kit.signatures import _proofs as proofs

    for module in (parsing, authenticate, origins, proofs, resolver, urls):
        assert module.origin_of is _origin.origin_of
    assert not hasattr(proofs, "_origin")
    assert not hasattr(resolver, "_origin_or_none")


@pytest.mark.parametrize(
    "url", ["not a url", "ftp://a.example/", "https://a.example:99999/", "https:///path", ""]
)
def test_no_origin_for_what_is_not_an_http_url(url: str) -> None:
    from activitypub_kit.http import _urls as urls
    from activitypub_kit.server import _parsing as parsing

    assert parsing.origin_of(url) is None
    with pytest.raises(UrlRefusedError):
        urls.origin(url)  # before: ("", "", 0) for "not a url", so two non-URLs "matched"


def test_a_proof_key_on_the_explicit_default_port_is_on_the_document_origin() -> None:
    from activitypub_kit.signatures import create_proof, parse_proof, verify_proof

    key = ed25519.Ed25519PrivateKey.generate()
    document = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://a.example/notes/1",
        "type": "Note",
        "content": "hi",
    }
    signed = create_proof(document, key, "https://a.example:443/users/x#ed25519-key")
    verified = verify_proof(signed, parse_proof(signed), key.public_key())
    assert verified["id"] == document["id"]


def test_strip_foreign_embeds_keeps_an_embed_spelled_with_the_idn() -> None:
    from activitypub_kit.http import strip_foreign_embeds

    document = {
        "id": "https://bücher.example/notes/1",
        "attachment": {"id": "https://xn--bcher-kva.example/a/1", "type": "Image"},
        "tag": {"id": "https://other.example/t", "type": "Hashtag"},
    }
    stripped = strip_foreign_embeds(document)
    assert stripped["attachment"] == document["attachment"]  # the same origin
    assert stripped["tag"] == "https://other.example/t"


# -- one media type, one depth limit ---------------------------------------------------


def test_the_activitypub_media_type_has_one_home() -> None:
    from activitypub_kit.http import ACTIVITY_JSON
    from activitypub_kit.server import _asgi as asgi

    assert asgi._AP_TYPES[0] is ACTIVITY_JSON
    assert asgi.Response.json(200, {}).headers["content-type"] is ACTIVITY_JSON
    with pytest.warns(DeprecationWarning, match="ACTIVITY_JSON"):
        assert asgi.ACTIVITY_TYPE is ACTIVITY_JSON


def nested(levels: int) -> dict[str, Any]:
    """A document whose arrays and objects nest ``levels`` deep (the top object is 1)."""
    inner: Any = {"type": "Note"}
    for _ in range(levels - 1):
        inner = {"type": "Note", "inReplyTo": inner}
    return {
        "id": "https://a.example/activities/1",
        "type": "Create",
        "actor": "https://a.example/users/x",
        "object": inner,
    }


def test_fetched_and_inbound_documents_share_one_depth_limit() -> None:
    import json

    from activitypub_kit.http import strip_foreign_embeds
    from activitypub_kit.server._parsing import DEFAULT_LIMITS, MAX_DEPTH, decode_activity

    assert MAX_DEPTH == DEFAULT_LIMITS.max_depth == 48
    deepest = nested(MAX_DEPTH - 1)  # the activity is level 1, its object level 2...
    decode_activity(json.dumps(deepest).encode())
    strip_foreign_embeds(deepest)
    too_deep = nested(MAX_DEPTH)
    with pytest.raises(InvalidActivityError, match="deeper than 48"):
        decode_activity(json.dumps(too_deep).encode())
    with pytest.raises(InvalidResponseError, match="deeper than 48"):
        strip_foreign_embeds(too_deep)  # before: accepted up to 64


def test_the_resolver_takes_its_depth_from_document_limits() -> None:
    from activitypub_kit.http import HttpClient, HttpSettings, Resolver
    from activitypub_kit.server._parsing import DEFAULT_LIMITS, DocumentLimits

    client = HttpClient(HttpSettings.for_local_testing())
    assert Resolver(client).limits is DEFAULT_LIMITS
    assert Resolver(client, limits=DocumentLimits(max_depth=8)).limits.max_depth == 8


# -- renamed look-alikes, deprecated for one release -----------------------------------


@pytest.mark.parametrize(
    ("module", "old", "new_module", "new"),
    [
        ("activitypub_kit.server", "Page", "activitypub_kit.server", "PageItems"),
        ("activitypub_kit.server._collections", "Page", "activitypub_kit.server", "PageItems"),
        ("activitypub_kit.http", "PublicKey", "activitypub_kit.http", "VerifiedKey"),
        ("activitypub_kit.http._keys", "PublicKey", "activitypub_kit.http", "VerifiedKey"),
        (
            "activitypub_kit.http._resolver",
            "MAX_DEPTH",
            "activitypub_kit.server._parsing",
            "MAX_DEPTH",
        ),
    ],
)
def test_an_old_name_warns_and_gives_the_new_object(
    module: str, old: str, new_module: str, new: str
) -> None:
    import importlib

    old_home, new_home = importlib.import_module(module), importlib.import_module(new_module)
    with pytest.warns(DeprecationWarning, match=new):
        value = getattr(old_home, old)
    assert value is getattr(new_home, new)
    with pytest.raises(AttributeError):
        _ = old_home.NoSuchName


def test_the_names_that_collided_are_now_distinct() -> None:
    import activitypub_kit
    import activitypub_kit.http
    import activitypub_kit.server
    import activitypub_kit.signatures

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new names do not warn
        assert activitypub_kit.server.PageItems is not activitypub_kit.Page
        assert activitypub_kit.http.VerifiedKey is not activitypub_kit.signatures.PublicKey
    assert "Page" not in activitypub_kit.server.__all__
    assert "PublicKey" not in activitypub_kit.http.__all__


# -- one bounded body reader for both sides ---------------------------------------------


def test_the_bounded_body_collector_refuses_past_its_limit_with_the_callers_error() -> None:
    from activitypub_kit._body import BoundedChunks
    from activitypub_kit.errors import PayloadTooLargeError

    only = b"x" * 10
    single = BoundedChunks(10, lambda size: PayloadTooLargeError(f"{size} bytes"))
    single.add(only)
    assert single.body() is only  # one chunk: no copy
    chunks = BoundedChunks(10, lambda size: PayloadTooLargeError(f"{size} bytes"))
    for part in (b"abc", b"", b"defg"):
        chunks.add(part)
    with pytest.raises(PayloadTooLargeError, match="11 bytes"):
        chunks.add(b"hijk")  # 3 + 4 + 4 = 11 > 10: refused before it is kept
    assert chunks.body() == b"abcdefg"


def _asgi_messages(*messages: dict[str, Any]) -> Any:
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        return pending.pop(0)

    return receive


async def test_the_request_body_reader_is_named_for_its_side_and_bounded() -> None:
    from activitypub_kit.errors import PayloadTooLargeError
    from activitypub_kit.server import _asgi

    scope: dict[str, Any] = {"type": "http", "headers": []}
    one = {"type": "http.request", "body": b"12345", "more_body": False}
    assert await _asgi.read_request_body(scope, _asgi_messages(one), 5) == b"12345"
    with pytest.raises(PayloadTooLargeError):
        await _asgi.read_request_body(scope, _asgi_messages(one), 4)
    parts = [
        {"type": "http.request", "body": b"123", "more_body": True},
        {"type": "http.request", "body": b"45", "more_body": False},
    ]
    assert await _asgi.read_request_body(scope, _asgi_messages(*parts), 5) == b"12345"
    with pytest.raises(PayloadTooLargeError, match="over the 4-byte limit"):
        await _asgi.read_request_body(scope, _asgi_messages(*parts), 4)
    cut = [parts[0], {"type": "http.disconnect"}]
    with pytest.raises(PayloadTooLargeError, match="disconnected"):
        await _asgi.read_request_body(scope, _asgi_messages(*cut), 5)
    declared = {"type": "http", "headers": [(b"content-length", b"6")]}
    with pytest.raises(PayloadTooLargeError, match="6 bytes"):
        await _asgi.read_request_body(declared, _asgi_messages(one), 5)
    assert "read_body" not in vars(_asgi)
    with pytest.warns(DeprecationWarning, match="read_request_body"):
        assert _asgi.read_body is _asgi.read_request_body  # the old public path listed it


async def test_the_response_body_reader_is_named_for_its_side_and_bounded() -> None:
    import aiohttp
    from aiohttp import web

    from activitypub_kit.errors import ResponseTooLargeError
    from activitypub_kit.http import _wire
    from loopback import LoopbackServer

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()  # no Content-Length: counted chunk by chunk
        await response.prepare(request)
        for _ in range(4):
            await response.write(b"y" * 1000)
        await response.write_eof()
        return response

    server = await LoopbackServer("127.0.0.1").start()
    server.handlers["/body"] = chunked
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{server.port}/body") as raw:
                body, decoded = await _wire.read_response_body(raw, 4000, "here")
            assert (body, decoded) == (b"y" * 4000, False)
            async with session.get(f"http://127.0.0.1:{server.port}/body") as raw:
                with pytest.raises(ResponseTooLargeError, match="larger than 3999 bytes"):
                    await _wire.read_response_body(raw, 3999, "here")
    finally:
        await server.stop()
    assert "read_body" not in vars(_wire)
    with pytest.warns(DeprecationWarning, match="read_response_body"):
        assert _wire.read_body is _wire.read_response_body


# -- two id readers: id_of (lenient) and single_id (strict) ------------------------------

TRICKY_IDS: list[Any] = [
    "https://a.example/x",
    ["https://a.example/x"],
    ["https://a.example/x", "https://b.example/y"],
    [],
    {"href": "https://b.example/y"},
    {"id": "https://b.example/y"},
    {"id": 5},
    [{"id": "https://b.example/y"}],
    [["https://b.example/y"]],
    5,
    None,
]


def test_there_is_one_definition_of_each_id_reader() -> None:
    import ast
    from pathlib import Path

    import activitypub_kit
    import activitypub_kit.models as models
    from activitypub_kit.models import _helpers

    assert models.id_of is _helpers.id_of
    assert models.single_id is _helpers.single_id
    assert "single_id" in models.__all__
    src = Path(activitypub_kit.__file__).parent
    lookalikes = {"id_of", "single_id", "_ids", "_object_id"}
    defined = [
        f"{path.relative_to(src)}:{node.name}"
        for path in sorted(src.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in lookalikes
    ]
    assert defined == ["models/_helpers.py:id_of", "models/_helpers.py:single_id"]


def test_the_trust_decisions_read_ids_with_single_id() -> None:
    from activitypub_kit.models import _helpers
    from activitypub_kit.server import _authenticate, _fanout, _inbox, _origins, _parsing

    for module in (_authenticate, _fanout, _inbox, _origins, _parsing):
        assert module.single_id is _helpers.single_id, module.__name__
    assert _helpers.single_id(["https://a.example/x", "https://b.example/y"]) is None
    assert _helpers.single_id({"href": "https://b.example/y"}) is None
    assert _helpers.id_of({"href": "https://b.example/y"}) == "https://b.example/y"
    assert _helpers.id_of(["https://a.example/x", "https://b.example/y"]) == "https://a.example/x"


@pytest.mark.parametrize("obj", TRICKY_IDS)
async def test_the_outbox_orders_by_the_single_id_of_the_object(obj: Any) -> None:
    from activitypub_kit.delivery import Recipient
    from activitypub_kit.models import single_id
    from activitypub_kit.server import Federation

    fed: Federation = Federation("https://me.example")
    activity = {"id": "https://me.example/a/1", "type": "Create", "object": obj}
    await fed.outbox.send(activity, key_ref="alice", to=[Recipient(id="https://b.example/u")])
    [message] = await fed.queue.receive(lease=60, max_messages=5)
    assert message.body["object"] == (single_id(obj) or activity["id"])


@pytest.mark.parametrize("attributed", TRICKY_IDS)
async def test_the_origin_rules_read_owners_as_before(attributed: Any) -> None:
    from activitypub_kit.errors import ForbiddenActivityError
    from activitypub_kit.http import HttpClient, Resolver
    from activitypub_kit.models import as_list, single_id
    from activitypub_kit.server._origins import apply_origin_rules

    actor = "https://a.example/x"
    note = {"id": "https://a.example/n/1", "type": "Note", "attributedTo": attributed}
    create = {"id": "https://a.example/c/1", "type": "Create", "actor": actor, "object": note}
    # the owners: each entry's single id; a nested list is not an entry (unchanged rule)
    owners = [single_id(i) for i in as_list(attributed) if not isinstance(i, list)]
    owners = [o for o in owners if o is not None]
    async with HttpClient() as client:  # never used: a Create fetches nothing
        resolver = Resolver(client)
        if owners and actor not in owners:
            with pytest.raises(ForbiddenActivityError, match="attributed to"):
                await apply_origin_rules(create, actor, resolver)
        else:
            assert (await apply_origin_rules(create, actor, resolver))["object"] == note

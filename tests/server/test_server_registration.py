"""Registration checks (second registrations, overlapping templates, dispatcher parameters),
typed inbox handlers, and ``ctx.parse_uri``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitypub_kit.errors import RouteError
from activitypub_kit.models import Activity, Article, Create, Follow, Like, Note, Person
from activitypub_kit.server import Context, Federation, PageItems, ParsedUri
from activitypub_kit.server._routes import UrlTemplate

ROOT = Path(__file__).resolve().parents[2]


async def actor(ctx: Context, handle: str) -> Person | None:
    return None


async def note(ctx: Context, id: str) -> Note | None:
    return None


async def page(ctx: Context, cursor: str | None, handle: str) -> PageItems | None:
    return None


async def handler(ctx: Context, activity: Activity) -> None:
    return None


# -- a second registration ---------------------------------------------------------------


def test_a_second_inbox_handler_for_a_type_is_refused_unless_replacing():
    fed = Federation("https://a.example")
    fed.inbox.on(Follow, Like)(handler)

    async def again(ctx: Context, follow: Follow) -> None:
        return None

    with pytest.raises(RouteError, match=r"already registered for Follow \(handler\)"):
        fed.inbox.on(Follow)(again)
    with pytest.raises(RouteError, match="Create more than once"):
        fed.inbox.on(Create, Create)
    assert fed.inbox.handler_for(Follow(id="x")) is handler
    fed.inbox.on(Follow, replace=True)(again)
    assert fed.inbox.handler_for(Follow(id="x")) is again
    assert fed.inbox.handler_for(Like(id="x")) is handler


def test_a_second_actor_object_collection_or_dispatcher_is_refused_unless_replacing():
    fed = Federation("https://a.example")
    fed.actor("/users/{handle}")(actor)
    with pytest.raises(RouteError, match="an actor dispatcher is already registered"):
        fed.actor("/people/{handle}")(actor)
    fed.actor("/people/{handle}", replace=True)(actor)
    assert fed.uri("actor", handle="a") == "https://a.example/people/a"

    fed.object(Note, "/notes/{id}")(note)
    with pytest.raises(RouteError, match="object dispatcher for Note is already registered"):
        fed.object(Note, "/posts/{id}")(note)
    fed.object(Note, "/posts/{id}", replace=True)(note)
    assert fed.uri("object:Note", id="1") == "https://a.example/posts/1"

    fed.followers("/people/{handle}/followers")(page)
    with pytest.raises(RouteError, match="collection 'followers' is already registered"):
        fed.collection("followers", "/people/{handle}/fans")(page)
    fed.followers("/people/{handle}/fans", replace=True)(page)
    assert fed.collections["followers"].template.template == "/people/{handle}/fans"

    async def keys(ctx: Context, handle: str) -> list[Any]:
        return []

    fed.key_pairs(keys)
    with pytest.raises(RouteError, match="key-pairs dispatcher is already registered"):
        fed.key_pairs(keys)
    fed.key_pairs(replace=True)(keys)

    async def info(ctx: Context) -> Any:
        return None

    fed.nodeinfo(info)
    with pytest.raises(RouteError, match="NodeInfo dispatcher is already registered"):
        fed.nodeinfo(info)
    fed.nodeinfo(replace=True)(info)


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        (("object", Note, "/notes/{id}"), ("object", Article, "/notes/{slug}"), "object:Note"),
        (("object", Note, "/notes/{id}"), ("object", Article, "/notes/first"), "object:Note"),
        (("actor", None, "/users/{handle}"), ("object", Note, "/users/{id}"), "actor route"),
        (
            ("collection", "tags", "/tags/{tag}"),
            ("object", Note, "/tags/{id}"),
            "collection:tags",
        ),
        (None, ("actor", None, "/{handle}"), "shared_inbox route '/inbox'"),
        (None, ("object", Note, "/users/{handle}/{id}"), "inbox route"),
        (None, ("object", Note, "/nodeinfo/{version}"), "NodeInfo route '/nodeinfo/2.1'"),
        (None, ("collection", "x", "/.well-known/{name}"), "WebFinger route"),
    ],
)
def test_two_templates_matching_the_same_paths_are_refused(first, second, message):
    fed = Federation("https://a.example")

    def register(kind: str, name: Any, template: str) -> None:
        if kind == "actor":
            fed.actor(template)(actor)
        elif kind == "object":
            fed.object(name, template)(lambda ctx, **params: note(ctx, "x"))
        else:
            fed.collection(name, template)(lambda ctx, cursor, **params: page(ctx, cursor, ""))

    if first is not None:
        register(*first)
    with pytest.raises(RouteError, match="matches the same paths as the " + message):
        register(*second)


def test_templates_that_never_match_the_same_path_coexist():
    fed = Federation("https://a.example")
    fed.actor("/users/{handle}")(actor)
    fed.object(Note, "/users/{handle}/notes/{id}")(lambda ctx, handle, id: note(ctx, id))
    fed.object(Article, "/users/{handle}/articles/{id}.html")(lambda ctx, **p: note(ctx, ""))
    fed.followers("/users/{handle}/followers")(page)
    fed.collection("tagged", "/tags/{tag}")(lambda ctx, cursor, tag: page(ctx, cursor, tag))
    assert len(fed.templates) == 8
    parsed = fed.context().parse_uri("https://a.example/users/a/articles/b.html")
    assert parsed is not None
    assert (parsed.name, parsed.params) == ("Article", {"handle": "a", "id": "b"})


@pytest.mark.parametrize(
    ("left", "right", "overlap"),
    [
        ("/notes/{id}", "/notes/{slug}", True),
        ("/users/{handle}", "/users/alice", True),
        ("/users/{handle}", "/users/{handle}/inbox", False),
        ("/a/{x}.json", "/a/{y}", True),
        ("/a/{x}.json", "/a/{y}.xml", False),
        ("/a/{x}-{y}", "/a/b", False),
        ("/a/{x}-{y}", "/a/b-c", True),
        ("/@{handle}", "/actor", False),
        ("/{a}/{b}", "/{c}", False),
    ],
)
def test_template_overlap(left, right, overlap):
    assert UrlTemplate(left).overlaps(UrlTemplate(right)) is overlap
    assert UrlTemplate(right).overlaps(UrlTemplate(left)) is overlap


# -- dispatcher parameters against the template ------------------------------------------


def test_an_object_dispatcher_whose_parameters_miss_the_template_is_refused():
    fed = Federation("https://a.example")

    async def by_note_id(ctx: Context, note_id: str) -> Note | None:
        return None

    with pytest.raises(RouteError) as refused:
        fed.object(Note, "/notes/{id}")(by_note_id)
    message = str(refused.value)
    assert "by_note_id(ctx: 'Context', note_id: 'str')" in message
    assert "called as (ctx, id=...)" in message
    assert "no value for parameter note_id" in message
    assert "it takes no parameter id" in message
    assert "object:Note" not in fed.templates  # nothing was registered

    async def extra(ctx: Context, id: str, lang: str) -> Note | None:
        return None

    with pytest.raises(RouteError, match="no value for parameter lang"):
        fed.object(Note, "/notes/{id}")(extra)

    async def defaults_and_kwargs(ctx: Context, lang: str = "en", **params: str) -> None:
        return None

    fed.object(Note, "/notes/{id}")(defaults_and_kwargs)  # **params takes {id}


def test_collection_actor_inbox_and_helper_callbacks_are_checked():
    fed = Federation("https://a.example")

    async def no_cursor(ctx: Context, handle: str) -> PageItems | None:
        return None

    with pytest.raises(RouteError, match=r"called as \(ctx, cursor, handle=\.\.\.\)"):
        fed.followers("/users/{handle}/followers")(no_cursor)

    async def no_handle(ctx: Context) -> Person | None:
        return None

    with pytest.raises(RouteError, match="must take 2 positional argument"):
        fed.actor("/users/{handle}")(no_handle)  # type: ignore[arg-type]

    async def no_activity(ctx: Context) -> None:
        return None

    with pytest.raises(RouteError, match=r"inbox handler .*no_activity"):
        fed.inbox.on(Follow)(no_activity)  # type: ignore[arg-type]

    route = fed.followers("/users/{handle}/followers")(page)

    async def count(ctx: Context, user: str) -> int:
        return 0

    with pytest.raises(RouteError, match=r"counter of collection 'followers'.*parameter user"):
        route.counter(count)

    async def listing(ctx: Context, handle: str) -> Any:
        yield "https://b.example/u/1"

    assert route.recipients(listing) is listing


# -- typed inbox handlers ----------------------------------------------------------------


@pytest.mark.slow
def test_inbox_handlers_are_typed_by_their_activity_class():
    """``mypy --strict`` accepts handlers typed for their class and refuses the others."""
    mypy_api = pytest.importorskip("mypy.api")
    example = ROOT / "tests" / "server" / "typed_inbox.py"
    out, err, status = mypy_api.run(
        ["--strict", "--config-file", str(ROOT / "pyproject.toml"), str(example)]
    )
    assert status == 0, out + err


# -- ctx.parse_uri -----------------------------------------------------------------------


@pytest.fixture
def routed() -> Federation:
    fed = Federation(["https://a.example", "https://www.a.example"])
    fed.actor("/users/{handle}")(actor)
    fed.object(Note, "/notes/{id}")(note)
    fed.object(Article, "/users/{handle}/articles/{slug}")(lambda ctx, **p: note(ctx, ""))
    fed.followers("/users/{handle}/followers")(page)
    fed.collection("tagged", "/tags/{tag}")(lambda ctx, cursor, tag: page(ctx, cursor, tag))
    return fed


def test_parse_uri_reads_back_every_kind_of_route(routed):
    ctx = routed.context()
    cases = {
        ctx.actor_uri("alice"): ParsedUri("actor", "", {"handle": "alice"}),
        ctx.object_uri(Note, id="n 1"): ParsedUri("object", "Note", {"id": "n 1"}, Note),
        ctx.object_uri(Article, handle="bob", slug="hello"): ParsedUri(
            "object", "Article", {"handle": "bob", "slug": "hello"}, Article
        ),
        ctx.followers_uri("alice"): ParsedUri("collection", "followers", {"handle": "alice"}),
        ctx.collection_uri("tagged", tag="café"): ParsedUri(
            "collection", "tagged", {"tag": "café"}
        ),
        ctx.inbox_uri("alice"): ParsedUri("inbox", "", {"handle": "alice"}),
        ctx.shared_inbox_uri(): ParsedUri("shared_inbox", "", {}),
        ctx.instance_actor_uri(): ParsedUri("instance_actor", "", {}),
    }
    for uri, expected in cases.items():
        parsed = ctx.parse_uri(uri)
        assert parsed == expected, uri
        assert routed.uri(parsed.route, **parsed.params) == uri
    article = ctx.parse_uri("https://www.a.example/users/bob/articles/hello?x=1")
    assert article is not None
    assert (article.model, article.handle, article.params["slug"]) == (Article, "bob", "hello")


@pytest.mark.parametrize(
    "uri",
    [
        "https://b.example/notes/1",  # not ours
        "http://a.example/notes/1",  # another scheme is another origin
        "https://a.example/notes/1#replies",  # a fragment names something else
        "https://a.example/users/alice#main-key",
        "https://a.example/notes/1/likes",  # no such route
        "https://a.example/",
        "",
        "not a uri",
        "https://[::1/notes/1",
    ],
)
def test_parse_uri_is_none_for_what_no_route_serves(routed, uri):
    assert routed.context().parse_uri(uri) is None


@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_parse_uri_round_trips_any_parameters(handle, slug):
    fed = Federation("https://a.example")
    fed.object(Article, "/users/{handle}/articles/{slug}")(lambda ctx, **p: note(ctx, ""))
    ctx = fed.context()
    parsed = ctx.parse_uri(ctx.object_uri(Article, handle=handle, slug=slug))
    assert parsed == ParsedUri("object", "Article", {"handle": handle, "slug": slug}, Article)

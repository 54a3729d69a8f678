"""examples/blog: a fediverse actor follows the blog, receives its articles, and replies.

The blog runs under uvicorn with its own lifespan worker on loopback (b.test); the follower
is a Federation node (a.test).  ``publish`` is also run as the documented command, in
another process, sharing the blog's SQLite queue.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import sys
from html.parser import HTMLParser
from pathlib import Path

import anyio
import httpx
import pytest
import uvicorn
from examples.blog.app import Blog
from examples.blog.markdown import plain_text, to_html
from examples.blog.storage import BlogStore

from activitypub_kit.http import HttpClient, HttpSettings
from activitypub_kit.models import Article, Create, Follow, Like, Note, Undo, parse
from activitypub_kit.testing import wait_until
from loopback import resolver_with

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
AP = {"Accept": "application/activity+json"}
#: Cursors a hostile client sent the followers collection (each was a 500 once).
BAD_CURSORS = ["abc", "1e3", "%00", "-5", "12345678901234567890", "%2B5", "1_0"]


def test_markdown_subset_escapes_everything():
    assert to_html("# Hi\n\nsome *em* and **strong** <b>x</b>") == (
        "<h1>Hi</h1>\n<p>some <em>em</em> and <strong>strong</strong> &lt;b&gt;x&lt;/b&gt;</p>"
    )
    assert to_html("[a](javascript:alert(1))") == "<p>[a](javascript:alert(1))</p>"
    assert plain_text('<p>hi <script>x</script><a href="y">@me</a></p>') == "hi x@me"


class _Tags(HTMLParser):
    """Every start tag of a fragment, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(fragment: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(fragment)
    parser.close()
    return parser.tags


def test_markdown_renders_what_the_old_subset_did():
    source = (
        "## Two\n\n###### Six\n\nfirst line\nsecond *em* **strong** `a < b`\n\n"
        "see [the spec](https://www.w3.org/TR/activitypub/)"
    )
    assert to_html(source) == (
        "<h2>Two</h2>\n<h6>Six</h6>\n"
        "<p>first line<br>\nsecond <em>em</em> <strong>strong</strong> <code>a &lt; b</code></p>\n"
        '<p>see <a href="https://www.w3.org/TR/activitypub/" rel="nofollow noopener">'
        "the spec</a></p>"
    )


HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java&#x09;script:alert(1))",
    "![x](javascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<javascript:alert(1)>",
    '[x](https://e.example/"onmouseover="alert(1))',
    '[x](https://e.example/ "a" onmouseover="alert(1)")',
    "[<script>alert(1)</script>](https://e.example/)",
    "```html\n<script>alert(1)</script>\n```",
    "<!-- <script>alert(1)</script> -->",
    "<style>*{display:none}</style><iframe src=https://e.example/></iframe>",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_markdown_refuses_script_injection(source):
    rendered = to_html(source)
    for tag, attrs in tags_of(rendered):
        assert tag in {"p", "a", "img", "pre", "code", "br"}, rendered
        for name, value in attrs.items():
            assert not name.startswith("on"), rendered
            if name in {"href", "src"}:
                assert value is not None, rendered
                assert value.startswith("https://"), rendered
    assert "<script" not in rendered.lower()


def test_markdown_links_are_absolute_http_and_nofollow():
    rendered = to_html(
        '[a](https://e.example/?x=1&y="2") [b](http://e.example/) '
        "[c](/relative) [d](mailto:someone@e.example) <https://e.example/auto>"
    )
    links = [attrs for tag, attrs in tags_of(rendered) if tag == "a"]
    assert links == [
        {"href": "https://e.example/?x=1&y=%222%22", "rel": "nofollow noopener"},
        {"href": "http://e.example/", "rel": "nofollow noopener"},
        {"href": "https://e.example/auto", "rel": "nofollow noopener"},
    ]
    assert "[c](/relative)" in rendered
    assert "[d](mailto:someone@e.example)" in rendered


def test_markdown_code_blocks_are_escaped_verbatim():
    fenced = to_html("```python\nif a < b and c > d:\n    print('<b>&amp;</b>')\n```")
    assert fenced == (
        "<pre><code>if a &lt; b and c &gt; d:\n"
        "    print('&lt;b&gt;&amp;amp;&lt;/b&gt;')\n</code></pre>"
    )
    indented = to_html("text\n\n    *not em*\n    <i>x</i>")
    assert indented == "<p>text</p>\n<pre><code>*not em*\n&lt;i&gt;x&lt;/i&gt;\n</code></pre>"


async def test_follow_publish_reply(start_node, tmp_path):
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    origin = f"http://b.test:{sock.getsockname()[1]}"
    http = HttpClient(HttpSettings.for_local_testing(), resolver=resolver_with())
    blog = Blog(tmp_path / "data", origin, client=http)
    author = blog.fed.uri("actor", handle="author")
    server = uvicorn.Server(uvicorn.Config(blog.site(), lifespan="on", log_level="warning"))
    server.install_signal_handlers = lambda: None

    events = [anyio.Event()]

    def changed() -> None:
        events[0].set()
        events[0] = anyio.Event()

    async def wait_until(predicate) -> None:
        with anyio.fail_after(20):
            while not predicate():
                await events[0].wait()

    blog.on_change = changed
    a = await start_node("a.test", users={"alice": "Alice"})
    alice = a.actor("alice")
    async with contextlib.AsyncExitStack() as cleanup:
        cleanup.push_async_callback(http.aclose)
        cleanup.push_async_callback(blog.aclose)
        group = await cleanup.enter_async_context(anyio.create_task_group())
        group.start_soon(server.serve, [sock])
        try:
            follow = Follow(id=a.ctx.new_id(alice, "follows"), actor=alice, object=author)
            a.state.outgoing_follows[follow.id] = ("alice", author)
            await a.ctx.send(follow, to=[author])
            await a.wait_for(lambda: a.state.following.get("alice", {}).get(author) == "accepted")
            assert [row[0] for row in blog.store.followers()] == [alice]
            assert blog.store.follow_id(alice) == follow.id

            # Publishing in this process reaches the follower.
            article_id = await blog.publish("# First post\n\nHello *fediverse*.")
            await a.wait_for(lambda: any(_created(h, article_id) for h in a.state.handled))
            created = next(h for h in a.state.handled if _created(h, article_id))
            assert created.object.name == "First post"
            assert created.object.content == "<p>Hello <em>fediverse</em>.</p>"

            # The documented command, in another process, through the shared SQLite queue.
            post = tmp_path / "second.md"
            post.write_text("# Second post\n\nAgain.")
            command = [
                sys.executable,
                "-m",
                "examples.blog",
                "publish",
                "--data",
                str(tmp_path / "data"),
                str(post),
            ]
            with anyio.fail_after(60):
                done = await anyio.run_process(command, cwd=ROOT, check=True)
            second_id = done.stdout.decode().split()[-1]
            await a.wait_for(lambda: any(_created(h, second_id) for h in a.state.handled))

            # A reply from the fediverse is shown under the article (as text).
            reply = Note(
                id=a.note_uri("r1"),
                attributedTo=alice,
                inReplyTo=article_id,
                content="<p>Nice <b>post</b>!</p>",
                to=[author],
            )
            a.state.notes["r1"] = reply.to_json(context=False)
            await a.ctx.send(
                Create(id=f"{reply.id}#create", actor=alice, object=reply.to_json(context=False)),
                to=[author],
            )
            await wait_until(lambda: bool(blog.store.replies("first-post")))
            page = await http.get(f"{origin}/articles/first-post", headers={"Accept": "text/html"})
            assert "Nice post!" in page.text
            assert "<b>" not in page.text.split("Replies")[1]
            ap = await http.get(article_id, headers={"Accept": "application/activity+json"})
            assert ap.json()["type"] == "Article"

            # Undo(Follow) forgets the follower.
            await a.ctx.send(
                Undo(id=f"{follow.id}/undo", actor=alice, object=follow.to_json(context=False)),
                to=[author],
            )
            await wait_until(lambda: blog.store.follower_count() == 0)

            # So does an Undo naming only the id of the Follow (not embedding it).
            again = Follow(id=a.ctx.new_id(alice, "follows"), actor=alice, object=author)
            a.state.outgoing_follows[again.id] = ("alice", author)
            await a.ctx.send(again, to=[author])
            await wait_until(lambda: blog.store.follow_id(alice) == again.id)
            await a.ctx.send(Undo(id=f"{again.id}/undo", actor=alice, object=again.id), to=[author])
            await wait_until(lambda: blog.store.follower_count() == 0)
        finally:
            server.should_exit = True


async def test_undo_follow_removes_only_the_undoers_follow_of_the_author(tmp_path):
    http = HttpClient(HttpSettings.for_local_testing())
    blog = Blog(tmp_path / "data", "https://blog.example", client=http)
    try:
        ctx = blog.fed.context()
        author = ctx.actor_uri("author")
        alice, bob = "https://a.example/users/alice", "https://a.example/users/bob"
        store = blog.store
        store.add_follower(alice, f"{alice}/inbox", None, "2024-01-01T00:00:00Z", "urn:f:alice")
        store.add_follower(bob, f"{bob}/inbox", None, "2024-01-01T00:00:01Z", "urn:f:bob")
        on_undo = blog.fed.inbox.handler_for(Undo(id="urn:x"))
        assert on_undo is not None
        sent = iter(range(100))

        async def undo(actor: str, undone: object) -> None:
            if isinstance(undone, Follow | Like):
                undone = undone.to_json(context=False)
            # as the inbox pipeline hands it over: parsed from JSON
            activity = parse(
                Undo(id=f"{actor}/undo/{next(sent)}", actor=actor, object=undone).to_json()
            )
            await on_undo(ctx, activity)

        def followers() -> set[str]:
            return {row[0] for row in store.followers()}

        carol = "https://c.example/users/carol"
        # embedded Follows: of someone else, of another blog actor, by someone else
        await undo(alice, Follow(id="urn:f:alice", actor=alice, object=carol))
        await undo(alice, Follow(id="urn:f:x", actor=alice, object=ctx.actor_uri("other")))
        await undo(alice, Follow(id="urn:f:bob", actor=bob, object=author))
        # ids only: one never recorded, bob's (recorded for bob, not alice), a Follow of bob's
        await undo(alice, "urn:f:unknown")
        await undo(alice, "urn:f:bob")
        await undo(alice, {"id": "urn:f:bob", "type": "Follow"})
        # other activities
        await undo(alice, Like(id="urn:f:alice", actor=alice, object=author))
        assert followers() == {alice, bob}

        await undo(alice, "urn:f:alice")  # the id of alice's own Follow
        assert followers() == {bob}
        await undo(bob, Follow(id="urn:f:other", actor=bob, object=author))  # Mastodon's way
        assert followers() == set()
    finally:
        await blog.aclose()
        await http.aclose()


def test_blog_store_adds_the_follow_id_column_to_an_old_file(tmp_path):
    path = tmp_path / "blog.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE followers (
            actor TEXT PRIMARY KEY, inbox TEXT, shared_inbox TEXT, followed_at TEXT NOT NULL
        );
        INSERT INTO followers VALUES ('https://a.example/u/old', 'https://a.example/i', NULL, 't');
        """
    )
    old.commit()
    old.close()
    for _ in range(2):  # opening it again finds the column and leaves it be
        store = BlogStore(path)
        columns = [row[1] for row in store.db.execute("PRAGMA table_info(followers)")]
        assert columns == ["actor", "inbox", "shared_inbox", "followed_at", "follow_id"]
        assert store.followers() == [("https://a.example/u/old", "https://a.example/i", None)]
        assert store.follow_id("https://a.example/u/old") is None
        store.close()
    store = BlogStore(path)
    try:
        # a follower from before knows no Follow id: an id alone cannot remove it
        assert not store.remove_follow("https://a.example/u/old", "urn:anything")
        store.add_follower("https://a.example/u/new", None, None, "u", "urn:f:1")
        assert store.follow_id("https://a.example/u/new") == "urn:f:1"
        assert store.remove_follow("https://a.example/u/new", "urn:f:1")
        assert store.remove_follower("https://a.example/u/old")
        assert store.follower_count() == 0
    finally:
        store.close()


async def test_the_blog_answers_hostile_requests_in_process(tmp_path):
    http = HttpClient(HttpSettings.for_local_testing())
    blog = Blog(tmp_path / "data", "https://blog.example", client=http)
    blog.store.add_follower("https://a.example/u/1", None, None, "t", "urn:f:1")
    transport = httpx.ASGITransport(app=blog.site())
    try:
        async with httpx.AsyncClient(transport=transport, base_url=blog.fed.origin) as client:
            for cursor in BAD_CURSORS:
                bad = await client.get(f"/users/author/followers?cursor={cursor}", headers=AP)
                assert bad.status_code == 400, cursor
                assert "cursor" in bad.json()["error"]
            for cursor in ("", "0"):
                page = await client.get(f"/users/author/followers?cursor={cursor}", headers=AP)
                assert page.json()["orderedItems"] == ["https://a.example/u/1"]
            # The actor URL as HTML is the site's 404, which must vary on Accept like the JSON.
            html = await client.get("/users/author", headers={"Accept": "text/html"})
            assert html.status_code == 404
            assert html.headers["vary"] == "Accept"
            assert (await client.get("/users/author", headers=AP)).headers["vary"] == "Accept"
            missing = await client.get("/articles/nope", headers={"Accept": "text/html"})
            assert missing.status_code == 404
            assert "No such article" in missing.text
    finally:
        await blog.aclose()
        await http.aclose()


def _created(activity, object_id: str) -> bool:
    return (
        isinstance(activity, Create)
        and isinstance(activity.object, Article)
        and (activity.object.id == object_id)
    )


async def test_serve_command_answers_as_documented(tmp_path):
    """`python -m examples.blog serve ...` (what ./scripts/blog runs) serves the actor."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    origin = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "examples.blog", "serve", "--bind", f"127.0.0.1:{port}"]
    command += ["--origin", origin, "--data", str(tmp_path / "data")]
    process = await anyio.open_process(command, cwd=ROOT)
    try:
        async with HttpClient(HttpSettings.for_local_testing()) as http:

            async def answering() -> bool:
                if process.returncode is not None:
                    raise AssertionError(f"serve exited with {process.returncode}")
                try:
                    await http.get(origin + "/")
                except Exception:
                    return False
                return True

            await wait_until(answering, within=60, message="the blog answering")
            actor = await http.get(
                origin + "/users/author", headers={"Accept": "application/activity+json"}
            )
            assert actor.status_code == 200
            assert actor.json()["type"] == "Person"
            assert actor.json()["inbox"] == origin + "/users/author/inbox"
            # a browser's request for the same URL falls through to the blog's own pages
            page = await http.get(origin + "/users/author", headers={"Accept": "text/html"})
            assert "json" not in page.headers["content-type"]
            assert page.headers["vary"] == "Accept"  # or a cache may serve it to fetchers
            for cursor in BAD_CURSORS:
                bad = await http.get(f"{origin}/users/author/followers?cursor={cursor}", headers=AP)
                assert bad.status_code == 400, cursor
                assert bad.headers["content-type"] == "application/json"
                assert "cursor" in bad.json()["error"]
            missing = await http.get(origin + "/articles/nope", headers={"Accept": "text/html"})
            assert missing.status_code == 404
            home = await http.get(origin + "/", headers={"Accept": "text/html"})
            assert home.headers["content-type"].startswith("text/html")
            assert "@author@" in home.text
    finally:
        process.terminate()
        await process.wait()

"""examples/blog: a fediverse actor follows the blog, receives its articles, and replies.

The blog runs under uvicorn with its own lifespan worker on loopback (b.test); the follower
is a Federation node (a.test).  ``publish`` is also run as the documented command, in
another process, sharing the blog's SQLite queue.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from pathlib import Path

import anyio
import pytest
import uvicorn
from examples.blog.app import Blog
from examples.blog.markdown import plain_text, to_html

from activitypub_kit.http import HttpClient, HttpSettings
from activitypub_kit.models import Article, Create, Follow, Note, Undo
from activitypub_kit.testing import wait_until
from loopback import resolver_with

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]


def test_markdown_subset_escapes_everything():
    assert to_html("# Hi\n\nsome *em* and **strong** <b>x</b>") == (
        "<h1>Hi</h1>\n<p>some <em>em</em> and <strong>strong</strong> &lt;b&gt;x&lt;/b&gt;</p>"
    )
    assert to_html("[a](javascript:alert(1))") == "<p>[a](javascript:alert(1))</p>"
    assert plain_text('<p>hi <script>x</script><a href="y">@me</a></p>') == "hi x@me"


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
        finally:
            server.should_exit = True


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
            home = await http.get(origin + "/", headers={"Accept": "text/html"})
            assert home.headers["content-type"].startswith("text/html")
            assert "@author@" in home.text
    finally:
        process.terminate()
        await process.wait()

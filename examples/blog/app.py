"""The blog: a Federation (actor, articles, followers, inbox) and a Starlette site."""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from activitypub_kit.delivery import Recipient
from activitypub_kit.http import HttpClient, HttpSettings
from activitypub_kit.models import (
    Activity,
    Article,
    Create,
    Delete,
    Follow,
    Note,
    Person,
    Undo,
    Update,
    format_datetime,
    id_of,
)
from activitypub_kit.server import (
    Context,
    Federation,
    FederationMiddleware,
    PageItems,
    offset_cursor,
)
from activitypub_kit.storage import SqliteDatabase, SqliteQueue, SqliteStore
from examples.blog.markdown import plain_text, split_title, to_html
from examples.blog.storage import BlogStore

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
PRIVATE_NETWORKS = (
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "::1/128",
    "fc00::/7",
)


def now() -> str:
    return format_datetime(datetime.now(UTC))


def slugify(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug or "article"


class Blog:
    """One blog under ``data`` served at ``origin``; its author is ``@author@host``."""

    def __init__(
        self,
        data: Path,
        origin: str,
        *,
        author: str = "author",
        client: HttpClient | None = None,
        allow_private_network: bool = False,
    ) -> None:
        data.mkdir(parents=True, exist_ok=True)
        (data / "origin").write_text(origin)  # for `publish` without --origin
        self.author = author
        #: Called after an inbox handler changed the blog's data (tests wait on it).
        self.on_change: Callable[[], None] = lambda: None
        self.store = BlogStore(data / "blog.sqlite")
        self.database = SqliteDatabase(str(data / "federation.sqlite"))
        if client is None:
            networks = PRIVATE_NETWORKS if allow_private_network else ()
            client = HttpClient(HttpSettings(allowed_networks=networks))
        self.fed = Federation(
            origin,
            store=SqliteStore(self.database),
            queue=SqliteQueue(self.database),
            client=client,
        )
        self._register()

    # -- federation ------------------------------------------------------------------

    def article_json(self, ctx: Context, row: dict[str, Any]) -> dict[str, Any]:
        author = ctx.actor_uri(self.author)
        return Article(
            id=ctx.object_uri(Article, handle=self.author, slug=row["slug"]),
            attributedTo=author,
            name=row["title"],
            content=row["html"],
            published=row["published"],
            url=f"{ctx.origin}/articles/{row['slug']}",
            to=[PUBLIC],
            cc=[ctx.followers_uri(self.author)],
        ).to_json(context=False)

    def _register(self) -> None:
        fed, store = self.fed, self.store

        @fed.actor("/users/{handle}")
        async def actor(ctx: Context, handle: str) -> Person | None:
            if handle != self.author:
                return None
            return Person(
                id=ctx.actor_uri(handle),
                name=f"{handle}'s blog",
                summary="A blog you can follow from the fediverse.",
                url=f"{ctx.origin}/",
            )

        @fed.object(Article, "/users/{handle}/articles/{slug}")
        async def article(ctx: Context, handle: str, slug: str) -> Article | None:
            row = store.article(slug) if handle == self.author else None
            return None if row is None else Article.model_validate(self.article_json(ctx, row))

        @fed.outbox_collection("/users/{handle}/outbox")
        async def outbox(ctx: Context, cursor: str | None, handle: str) -> PageItems | None:
            if handle != self.author:
                return None
            creates = [
                {
                    "id": f"{item['id']}#create",
                    "type": "Create",
                    "actor": item["attributedTo"],
                    "object": item,
                }
                for item in (self.article_json(ctx, row) for row in store.articles())
            ]
            return PageItems(creates)

        followers = fed.followers("/users/{handle}/followers")

        @followers
        async def list_followers(ctx: Context, cursor: str | None, handle: str) -> PageItems | None:
            if handle != self.author:
                return None
            start = offset_cursor(cursor)  # anything but an offset is a 400
            rows = store.followers(start, 100)
            more = start + 100 < store.follower_count()
            return PageItems(
                [row[0] for row in rows],
                next=str(start + 100) if more else None,
                total=store.follower_count(),
            )

        route = fed.collections["followers"]

        @route.recipients
        async def every_follower(ctx: Context, handle: str) -> AsyncIterator[Recipient]:
            for actor_id, inbox, shared in store.followers(0, 1_000_000):
                yield Recipient(id=actor_id, inbox=inbox, shared_inbox=shared)

        @fed.inbox.on(Follow)
        async def on_follow(ctx: Context, follow: Follow) -> None:
            follower = id_of(follow.actor)
            if ctx.parse_actor_uri(id_of(follow.object) or "") != self.author or not follower:
                return
            found = Recipient.from_actor((await ctx.lookup_actor(follower)).to_json())
            store.add_follower(follower, found.inbox, found.shared_inbox, now(), follow.id)
            await ctx.accept(follow)
            self.on_change()

        @fed.inbox.on(Undo)
        async def on_undo(ctx: Context, undo: Undo) -> None:
            actor = id_of(undo.actor)
            undone = undo.object
            if not actor:
                return
            if isinstance(undone, Follow) and undone.object is not None:
                # The Follow itself (Mastodon): the Undo's actor following our author.
                if id_of(undone.actor) != actor:
                    return
                if ctx.parse_actor_uri(id_of(undone.object) or "") != self.author:
                    return
                store.remove_follower(actor)
            elif isinstance(undone, Activity) and not isinstance(undone, Follow):
                return  # Undo(Like), Undo(Announce)...: nothing the blog keeps
            else:
                # Only the Follow's id: it must be the Follow this actor follows us through.
                follow_id = id_of(undone)
                if not follow_id or not store.remove_follow(actor, follow_id):
                    return
            self.on_change()

        def local_slug(ctx: Context, uri: str | None) -> str | None:
            found = ctx.parse_uri(uri or "")  # read back through the article route
            if found is None or found.model is not Article or found.handle != self.author:
                return None
            return found.params["slug"]

        @fed.inbox.on(Create, Update)
        async def on_reply(ctx: Context, activity: Create | Update) -> None:
            note = activity.object
            if not isinstance(note, Note) or not note.id:
                return
            slug = local_slug(ctx, id_of(note.in_reply_to))
            if slug is None or store.article(slug) is None:
                return
            author = id_of(activity.actor) or ""
            known = store.reply_author(note.id)
            if known is not None and known != author:
                return  # only the author may edit a reply
            content = note.content if isinstance(note.content, str) else ""
            store.add_reply(note.id, slug, author, plain_text(content), note.published)
            self.on_change()

        @fed.inbox.on(Delete)
        async def on_delete(ctx: Context, delete: Delete) -> None:
            actor = id_of(delete.actor) or ""
            target = id_of(delete.object) or ""
            if target == actor:
                store.remove_follower(actor)
            else:
                store.remove_reply(target, actor)
            self.on_change()

    # -- publishing ------------------------------------------------------------------

    async def publish(self, source: str) -> str:
        """Store a Markdown article and send ``Create(Article)`` to every follower."""
        title, body = split_title(source)
        slug = slugify(title)
        self.store.add_article(slug, title, to_html(body), now())
        ctx = self.fed.context()
        row = self.store.article(slug)
        assert row is not None
        article = self.article_json(ctx, row)
        create = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{article['id']}#create-{row['published']}",
            "type": "Create",
            "actor": article["attributedTo"],
            "object": article,
            "to": [PUBLIC],
            "cc": [ctx.followers_uri(self.author)],
        }
        await ctx.send(create, to=[ctx.followers_of(self.author)])
        return str(article["id"])

    # -- the web site ----------------------------------------------------------------

    def site(self) -> Starlette:
        """The HTML site with the federation in front of it."""
        store = self.store

        def page(title: str, body: str, status: int = 200) -> HTMLResponse:
            return HTMLResponse(
                f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
                f"<body>{body}</body>",
                status_code=status,
            )

        async def home(request: Request) -> Response:
            handle = f"@{self.author}@{self.fed.origin.split('//', 1)[1]}"
            items = "".join(
                f'<li><a href="/articles/{a["slug"]}">{html.escape(a["title"])}</a></li>'
                for a in store.articles()
            )
            return page("Blog", f"<h1>Follow {html.escape(handle)}</h1><ul>{items}</ul>")

        async def article(request: Request) -> Response:
            row = store.article(request.path_params["slug"])
            if row is None:
                return page("Not found", "<p>No such article.</p>", 404)
            replies = "".join(
                f'<li><a href="{html.escape(r["author"])}">{html.escape(r["author"])}</a>:'
                f" {r['content']}</li>"
                for r in store.replies(row["slug"])
            )
            return page(
                row["title"],
                f"<article><h1>{html.escape(row['title'])}</h1>{row['html']}</article>"
                f"<h2>Replies</h2><ul class=replies>{replies}</ul>",
            )

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            async with self.fed.running(poll_wait=1.0):
                yield

        app = Starlette(
            routes=[Route("/", home), Route("/articles/{slug}", article)], lifespan=lifespan
        )
        app.add_middleware(FederationMiddleware, federation=self.fed)
        return app

    async def aclose(self) -> None:
        await self.database.aclose()
        await self.fed.aclose()
        self.store.close()

"""Typed registrations, checked by ``mypy --strict`` in ``test_server_registration.py``.

Not a test module: it is never imported, only type-checked.  The ``type: ignore`` below
must be needed (``--strict`` reports unused ones), so a handler whose activity class does
not match its registration has to be a type error.
"""

from __future__ import annotations

from activitypub_kit.models import Accept, Activity, Create, Follow, Like, Note, Reject, Update
from activitypub_kit.server import Context, Federation, PageItems

fed = Federation("https://typed.example")


@fed.inbox.on(Follow)
async def on_follow(ctx: Context, follow: Follow) -> None:
    await ctx.accept(follow)


@fed.inbox.on(Create, Update)
async def on_change(ctx: Context, activity: Create | Update) -> None:
    print(activity.object)


@fed.inbox.on(Accept, Reject)
async def on_answer(ctx: Context, answer: Activity) -> None:
    print(answer.id)


@fed.inbox.on(Like, replace=True)  # type: ignore[arg-type]
async def on_like(ctx: Context, follow: Follow) -> None:
    print(follow.object)


@fed.object(Note, "/notes/{id}")
async def note(ctx: Context, id: str) -> Note | None:
    return Note(id=ctx.object_uri(Note, id=id))


@fed.followers("/users/{handle}/followers")
async def followers(ctx: Context, cursor: str | None, handle: str) -> PageItems | None:
    return PageItems([])


def parsed_handle(ctx: Context, uri: str) -> str | None:
    found = ctx.parse_uri(uri)
    return found.handle if found is not None and found.kind == "actor" else None

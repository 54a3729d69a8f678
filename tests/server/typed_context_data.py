"""Typed context data, checked by ``mypy --strict`` in ``test_server_context_data.py``.

Not a test module: it is never imported, only type-checked.  Every ``type: ignore`` below
must be needed (``--strict`` reports unused ones): ``ctx.data`` is the Federation's data
type, not ``Any``, and a callback typed for other data is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import assert_type

from activitypub_kit.models import Follow, Note, Person
from activitypub_kit.server import Context, Federation, PageItems
from activitypub_kit.signatures import PrivateKey
from activitypub_kit.webfinger import NodeInfo, NodeInfoSoftware


@dataclass
class AppState:
    session: Callable[[], object]
    greeting: str


class Other:
    pass


fed = Federation[AppState]("https://typed.example", context_data=AppState(object, "hi"))
made = Federation("https://typed.example", context_data_factory=lambda: AppState(object, "hi"))
assert_type(made, Federation[AppState])
assert_type(fed.context(), Context[AppState])
assert_type(fed.context().data, AppState)
assert_type(made.context().data.greeting, str)
wrong: int = fed.context().data.greeting  # type: ignore[assignment]
Federation[AppState]("https://typed.example", context_data=Other())  # type: ignore[arg-type]


@fed.actor("/users/{handle}")
async def actor(ctx: Context[AppState], handle: str) -> Person | None:
    return Person(id=ctx.actor_uri(handle), name=ctx.data.greeting)


@fed.key_pairs
async def key_pairs(ctx: Context[AppState], handle: str) -> list[PrivateKey]:
    ctx.data.session()
    return []


@fed.nodeinfo
async def nodeinfo(ctx: Context[AppState]) -> NodeInfo:
    return NodeInfo(version="2.1", software=NodeInfoSoftware(name=ctx.data.greeting, version="1"))


@fed.object(Note, "/notes/{id}")
async def note(ctx: Context[AppState], id: str) -> Note | None:
    return Note(id=ctx.object_uri(Note, id=id), content=ctx.data.greeting)


@fed.followers("/users/{handle}/followers")
async def followers(ctx: Context[AppState], cursor: str | None, handle: str) -> PageItems | None:
    return PageItems([ctx.data.greeting])


@fed.inbox.on(Follow)
async def on_follow(ctx: Context[AppState], follow: Follow) -> None:
    assert_type(ctx.data, AppState)
    await ctx.accept(follow)


@fed.inbox.on(Follow, replace=True)  # type: ignore[arg-type]
async def on_follow_other(ctx: Context[Other], follow: Follow) -> None:
    print(ctx.data)


@fed.actor("/people/{handle}", replace=True)  # type: ignore[arg-type]
async def actor_other(ctx: Context[Other], handle: str) -> Person | None:
    return None


# Untyped uses keep working: a bare Context is Context[Any], on any Federation.
@fed.inbox.on(Follow, replace=True)
async def on_follow_bare(ctx: Context, follow: Follow) -> None:
    print(ctx.data.anything)


plain = Federation("https://plain.example")


@plain.inbox.on(Follow)
async def on_plain_follow(ctx: Context, follow: Follow) -> None:
    await ctx.accept(follow)

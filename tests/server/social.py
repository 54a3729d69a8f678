"""A tiny federated app on a real Federation, served by uvicorn on loopback, for tests.

Each :class:`Node` keeps its state in plain dicts (users, notes, followers, likes...) that
the inbox handlers change, and records every handled activity; tests wait on
:meth:`Node.wait_for` (an event-driven wait, no sleeps).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import uvicorn

from activitypub_kit.http import HttpClient
from activitypub_kit.models import (
    Accept,
    Activity,
    Announce,
    Create,
    Delete,
    Follow,
    Like,
    Note,
    Person,
    Reject,
    Tombstone,
    Undo,
    Update,
    id_of,
)
from activitypub_kit.server import Context, Federation, PageItems, offset_cursor
from activitypub_kit.signatures import PrivateKey


@dataclass
class State:
    """What one node knows."""

    users: dict[str, str] = field(default_factory=dict)  # handle -> display name
    gone: set[str] = field(default_factory=set)
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)  # local id -> note json
    followers: dict[str, list[str]] = field(default_factory=dict)  # handle -> actor ids
    following: dict[str, dict[str, str]] = field(default_factory=dict)  # handle -> {id: state}
    outgoing_follows: dict[str, tuple[str, str]] = field(default_factory=dict)
    remote_notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    likes: dict[str, set[str]] = field(default_factory=dict)  # note uri -> actors
    shares: dict[str, set[str]] = field(default_factory=dict)
    deleted_actors: set[str] = field(default_factory=set)
    handled: list[Activity] = field(default_factory=list)


class Node:
    """A Federation app on ``http(s)://HOST:PORT`` with handlers that keep :class:`State`."""

    def __init__(
        self,
        host: str,
        client: HttpClient,
        keys: Callable[[str], list[PrivateKey]],
        *,
        tls: tuple[str, str] | None = None,
        **options: Any,
    ) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this; uvicorn does not set it on sockets it is given.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind(("127.0.0.1", 0))
        # Listening now means early connections wait in the backlog until uvicorn accepts.
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.tls = tls  # (certificate file, key file): serve HTTPS
        self.origin = f"{'https' if tls else 'http'}://{host}:{self.port}"
        self.state = State()
        self.fed = Federation(self.origin, client=client, **options)
        self._changed = anyio.Event()
        self._keys = keys
        self._register()
        self.server: uvicorn.Server | None = None

    # -- waiting ---------------------------------------------------------------------

    def changed(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for(self, predicate: Callable[[], bool], limit: float = 20.0) -> None:
        with anyio.fail_after(limit):
            while not predicate():
                await self._changed.wait()

    # -- helpers ---------------------------------------------------------------------

    def actor(self, handle: str) -> str:
        return self.fed.uri("actor", handle=handle)

    def note_uri(self, note_id: str) -> str:
        return self.fed.uri("object:Note", id=note_id)

    @property
    def ctx(self) -> Context:
        return self.fed.context()

    def _register(self) -> None:
        fed, state = self.fed, self.state

        @fed.actor("/users/{handle}")
        async def actor(ctx: Context, handle: str) -> Person | Tombstone | None:
            if handle in state.gone:
                return Tombstone(id=ctx.actor_uri(handle))
            if handle not in state.users:
                return None
            return Person(
                id=ctx.actor_uri(handle),
                name=state.users[handle],
                url=f"{ctx.origin}/@{handle}",
            )

        @fed.key_pairs
        async def key_pairs(ctx: Context, handle: str) -> list[PrivateKey]:
            return self._keys(f"{self.origin}/{handle}")

        @fed.object(Note, "/notes/{id}")
        async def note(ctx: Context, id: str) -> Note | Tombstone | None:
            found = state.notes.get(id)
            if found is None:
                return None
            if found.get("type") == "Tombstone":
                return Tombstone(id=ctx.object_uri(Note, id=id))
            return Note.model_validate(found)

        @fed.followers("/users/{handle}/followers")
        async def followers(ctx: Context, cursor: str | None, handle: str) -> PageItems | None:
            if handle not in state.users:
                return None
            everyone = state.followers.get(handle, [])
            start = offset_cursor(cursor)
            chunk = everyone[start : start + 2]
            more = start + 2 < len(everyone)
            return PageItems(chunk, next=str(start + 2) if more else None, total=len(everyone))

        @fed.outbox_collection("/users/{handle}/outbox")
        async def outbox(ctx: Context, cursor: str | None, handle: str) -> PageItems | None:
            if handle not in state.users:
                return None
            mine = [
                n for n in state.notes.values() if n.get("attributedTo") == ctx.actor_uri(handle)
            ]
            return PageItems(mine)

        inbox = fed.inbox

        @inbox.on(Follow)
        async def on_follow(ctx: Context, follow: Follow) -> None:
            handle = ctx.parse_actor_uri(id_of(follow.object) or "")
            follower = id_of(follow.actor)
            if handle is None or follower is None:
                return
            if state.users.get(handle, "").startswith("locked"):
                await ctx.reject(follow)
            else:
                state.followers.setdefault(handle, []).append(follower)
                await ctx.accept(follow)
            self._record(follow)

        @inbox.on(Accept, Reject)
        async def on_answer(ctx: Context, answer: Activity) -> None:
            follow_id = id_of(answer.object)
            pending = state.outgoing_follows.get(follow_id or "")
            if pending is not None and pending[1] == id_of(answer.actor):
                handle, target = pending
                verdict = "accepted" if isinstance(answer, Accept) else "rejected"
                state.following.setdefault(handle, {})[target] = verdict
            self._record(answer)

        @inbox.on(Create)
        async def on_create(ctx: Context, create: Create) -> None:
            obj = create.object
            if isinstance(obj, Note) and obj.id:
                state.remote_notes[obj.id] = obj.to_json(context=False)
            self._record(create)

        @inbox.on(Update)
        async def on_update(ctx: Context, update: Update) -> None:
            obj = update.object
            if isinstance(obj, Note) and obj.id in state.remote_notes:
                state.remote_notes[obj.id] = obj.to_json(context=False)
            self._record(update)

        @inbox.on(Delete)
        async def on_delete(ctx: Context, delete: Delete) -> None:
            target = id_of(delete.object)
            if target == id_of(delete.actor):
                state.deleted_actors.add(target or "")
            state.remote_notes.pop(target or "", None)
            self._record(delete)

        @inbox.on(Like)
        async def on_like(ctx: Context, like: Like) -> None:
            state.likes.setdefault(id_of(like.object) or "", set()).add(id_of(like.actor) or "")
            self._record(like)

        @inbox.on(Announce)
        async def on_announce(ctx: Context, announce: Announce) -> None:
            shared = id_of(announce.object) or ""
            state.shares.setdefault(shared, set()).add(id_of(announce.actor) or "")
            self._record(announce)

        @inbox.on(Undo)
        async def on_undo(ctx: Context, undo: Undo) -> None:
            inner = undo.object
            actor = id_of(undo.actor) or ""
            if isinstance(inner, Like):
                state.likes.get(id_of(inner.object) or "", set()).discard(actor)
            elif isinstance(inner, Announce):
                state.shares.get(id_of(inner.object) or "", set()).discard(actor)
            elif isinstance(inner, Follow):
                handle = ctx.parse_actor_uri(id_of(inner.object) or "")
                if handle is not None and actor in state.followers.get(handle, []):
                    state.followers[handle].remove(actor)
            self._record(undo)

        @inbox.on(Activity)
        async def on_other(ctx: Context, activity: Activity) -> None:
            self._record(activity)

    def _record(self, activity: Activity) -> None:
        self.state.handled.append(activity)
        self.changed()

    # -- serving ---------------------------------------------------------------------

    async def serve(self, group: anyio.abc.TaskGroup, app: Any = None) -> None:
        config = uvicorn.Config(
            app or self.fed.asgi(run_worker=False),
            lifespan="off",
            log_level="warning",
            access_log=False,
            ssl_certfile=self.tls[0] if self.tls else None,
            ssl_keyfile=self.tls[1] if self.tls else None,
        )
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        group.start_soon(self.server.serve, [self.sock])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True

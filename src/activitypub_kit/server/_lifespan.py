"""The ASGI lifespan of a :class:`~activitypub_kit.server.FederationApp`.

With ``run_worker`` the app's lifespan runs a queue worker (``fed.running()``), otherwise it
only loads the instance actor's keys (``fed.setup()``).  A host application given as
``fallback`` has its own lifespan driven around ours, the way a server drives it: it starts
first and stops last, and a failure on either side fails the startup (or shutdown) with its
message.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from activitypub_kit.server._asgi import ASGIApp, Message, Receive, Scope, Send
    from activitypub_kit.server._federation import Federation

logger = logging.getLogger("activitypub_kit.server")

#: One ASGI lifespan message (``Message`` of :mod:`._asgi`, needed at run time here).
_Message = MutableMapping[str, Any]


async def serve_lifespan(
    federation: Federation,
    fallback: ASGIApp | None,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    run_worker: bool,
) -> None:
    """Run the host app's lifespan (``fallback``), and the Federation's inside it.

    The host app starts first and stops last: our worker runs only while it is up.  A
    failure on either side is answered ``lifespan.startup.failed`` (or
    ``lifespan.shutdown.failed``) with its message, after stopping whatever had started.
    A host app without lifespan support (it raises or returns at once on the lifespan
    scope) is left out, as the ASGI specification asks of servers.
    """
    await receive()  # lifespan.startup
    host = _HostLifespan(fallback, scope) if fallback is not None else None
    async with anyio.create_task_group() as group:
        if host is not None:
            group.start_soon(host.run)
            failure = await host.startup()
            if failure is not None:
                await send({"type": "lifespan.startup.failed", "message": failure})
                return
        failure = None
        async with contextlib.AsyncExitStack() as stack:
            try:
                if run_worker:
                    await stack.enter_async_context(federation.running())
                else:
                    await federation.setup()
            except Exception as exc:
                failure = _message(exc)
            else:
                await send({"type": "lifespan.startup.complete"})
                await receive()  # lifespan.shutdown
        stopped = await host.shutdown() if host is not None else None
        if failure is not None:
            await send({"type": "lifespan.startup.failed", "message": failure})
        elif stopped is not None:
            await send({"type": "lifespan.shutdown.failed", "message": stopped})
        else:
            await send({"type": "lifespan.shutdown.complete"})


class _HostLifespan:
    """The host application's lifespan, driven the way a server drives it."""

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self._to_app, self._app_inbox = anyio.create_memory_object_stream[_Message](1)
        self._app_outbox, self._from_app = anyio.create_memory_object_stream[_Message](1)
        self._received = 0  # lifespan messages the app read
        self._error: Exception | None = None
        self._started = False

    async def run(self) -> None:
        """Call the app with the lifespan scope (a task of the lifespan's task group)."""
        async with self._app_outbox:  # closed when the app returns: we stop waiting then
            try:
                await self.app(self.scope, self._receive, self._app_outbox.send)
            except Exception as exc:
                self._error = exc

    async def _receive(self) -> Message:
        message = await self._app_inbox.receive()
        self._received += 1
        return message

    async def _answer(self, message: Message) -> Message | None:
        await self._to_app.send(message)
        try:
            return await self._from_app.receive()
        except anyio.EndOfStream:
            return None

    async def startup(self) -> str | None:
        """Start the app; the message of its failure, or ``None`` once it is up."""
        answer = await self._answer({"type": "lifespan.startup"})
        if answer is None:
            if self._error is not None and self._received:
                return f"the host application's lifespan failed: {_message(self._error)}"
            # It raised (or returned) without reading the startup: no lifespan support.
            logger.debug("the host application does not support lifespan: %r", self._error)
            return None
        if answer["type"] != "lifespan.startup.complete":
            self._to_app.close()  # it has failed: nothing more will be sent to it
            return str(answer.get("message") or "the host application's startup failed")
        self._started = True
        return None

    async def shutdown(self) -> str | None:
        """Stop a started app; the message of its failure, or ``None``."""
        if not self._started:
            return None
        try:
            answer = await self._answer({"type": "lifespan.shutdown"})
        finally:
            self._to_app.close()  # an app reading again gets an error, not a hang
        if answer is None:
            if self._error is not None:
                return f"the host application's lifespan failed: {_message(self._error)}"
            return None
        if answer["type"] != "lifespan.shutdown.complete":
            return str(answer.get("message") or "the host application's shutdown failed")
        return None


def _message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


__all__ = ["serve_lifespan"]

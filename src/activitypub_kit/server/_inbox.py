"""The inbox: handler registration and the pipeline from request to queued activity.

Pipeline, in order, each step answering with a precise status and ``{"error": reason}``:

1. body size limit (413, enforced while reading by the ASGI layer);
2. parse: UTF-8, JSON, bounded size (depth, objects, values, contexts), no ``@context``
   anywhere that redefines ActivityStreams terms or aliases a keyword, no ``@id``
   property, id/type/actor, a valid activity for the models read as plain JSON (400,
   :mod:`~activitypub_kit.server._parsing`);
3. signature: HTTP signature addressed to one of our origins, FEP-8b32 proof within its
   freshness window, or LD signature (401);
4. the key's owner is the activity's actor (401) — before anything else looks at the
   activity (:mod:`~activitypub_kit.server._authenticate`);
5. origin rules, on type names unified by :func:`~activitypub_kit.models.type_names`
   (403, or 202 without effect, :mod:`~activitypub_kit.server._origins`);
6. the domain-block policy hook (403);
7. idempotency: an activity id is applied once, whichever of our inboxes it reaches
   (202, no effect, on a repeat);
8. enqueue the very document steps 3-7 checked, then answer 202; the handler runs in a
   worker on that document, read the same way (``parse(..., normalise=False)``), and is
   retried on failure.

The received bytes: when the activity carries an LD ``signature`` or a ``proof`` — what lets
a receiver authenticate a copy that someone else delivers — the queued message also keeps
the body exactly as received (as text: it was checked to be UTF-8), and the handler's
context exposes it as ``ctx.raw_activity`` (``bytes``), for
:meth:`~activitypub_kit.server.Context.forward`.  Other activities keep the parsed document
only: forwarding them would be useless (no receiver could check them), and their queue
messages stay as small as before.  A signed activity whose two copies do not fit in one
queue message is queued without the raw copy (and cannot be forwarded) rather than refused.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from typing_extensions import TypeAliasType

from activitypub_kit.errors import (
    ActivityPubError,
    ForbiddenActivityError,
    InvalidActivityError,
    MessageTooLargeError,
    RouteError,
)
from activitypub_kit.models import ASModel, parse
from activitypub_kit.models._helpers import single_id
from activitypub_kit.server._context import D
from activitypub_kit.server._origins import Dropped, apply_origin_rules
from activitypub_kit.server._parsing import decode_activity
from activitypub_kit.server._routes import check_parameters
from activitypub_kit.signatures import HttpRequest

if TYPE_CHECKING:
    from activitypub_kit.server._context import Context
    from activitypub_kit.server._federation import Federation

logger = logging.getLogger("activitypub_kit.server._inbox")

_A = TypeVar("_A", bound=ASModel)
_B = TypeVar("_B", bound=ASModel)
_C = TypeVar("_C", bound=ASModel)

#: ``async (ctx, activity) -> None``; ``InboxHandler[Follow]`` receives ``Follow`` activities,
#: ``InboxHandler[Follow, AppState]`` with a ``Context[AppState]``.
InboxHandler = TypeAliasType(
    "InboxHandler", Callable[["Context[D]", _A], Awaitable[None]], type_params=(_A, D)
)


@dataclass(frozen=True, slots=True)
class InboxAnswer:
    """The status and JSON body the inbox answers with."""

    status: int
    body: dict[str, str]


class Inbox(Generic[D]):
    """Inbox handlers per activity type (``@fed.inbox.on(Follow)``) and the pipeline."""

    def __init__(self, federation: Federation[D]) -> None:
        self._federation = federation
        self._handlers: dict[type[ASModel], InboxHandler[Any, D]] = {}

    @overload
    def on(
        self, kind: type[_A], /, *, replace: bool = ...
    ) -> Callable[[InboxHandler[_A, D]], InboxHandler[_A, D]]: ...

    @overload
    def on(
        self, kind: type[_A], other: type[_B], /, *, replace: bool = ...
    ) -> Callable[[InboxHandler[_A | _B, D]], InboxHandler[_A | _B, D]]: ...

    @overload
    def on(
        self, kind: type[_A], other: type[_B], third: type[_C], /, *, replace: bool = ...
    ) -> Callable[[InboxHandler[_A | _B | _C, D]], InboxHandler[_A | _B | _C, D]]: ...

    @overload
    def on(
        self, *types: type[ASModel], replace: bool = ...
    ) -> Callable[[InboxHandler[Any, D]], InboxHandler[Any, D]]: ...

    def on(
        self, *types: type[ASModel], replace: bool = False
    ) -> Callable[[InboxHandler[Any, D]], InboxHandler[Any, D]]:
        """Register ``async (ctx, activity)`` for activities of ``types`` and their subclasses.

        The most specific registered class wins: a handler for ``Activity`` receives
        whatever has no handler of its own.  A class that already has a handler is a
        :class:`~activitypub_kit.errors.RouteError` naming it, unless ``replace``.  Typed:
        ``@fed.inbox.on(Follow)`` takes ``async def f(ctx: Context, follow: Follow)``.
        """
        if not types:
            raise TypeError("inbox.on() needs at least one activity class")
        repeated = [kind.__name__ for i, kind in enumerate(types) if kind in types[:i]]
        if repeated:
            raise RouteError(f"inbox.on() names {', '.join(repeated)} more than once")

        def register(handler: InboxHandler[Any, D]) -> InboxHandler[Any, D]:
            check_parameters(handler, leading=("ctx", "activity"), names=(), what="inbox handler")
            taken = [kind for kind in types if kind in self._handlers]
            if taken and not replace:
                raise RouteError(
                    "an inbox handler is already registered for "
                    + ", ".join(
                        f"{kind.__name__} ({getattr(self._handlers[kind], '__qualname__', '?')})"
                        for kind in taken
                    )
                    + " (pass replace=True to replace it)"
                )
            for kind in types:
                self._handlers[kind] = handler
            return handler

        return register

    def handler_for(self, activity: ASModel) -> InboxHandler[Any, D] | None:
        """The handler of the most specific registered class of ``activity``."""
        for kind in type(activity).__mro__:
            handler = self._handlers.get(kind)
            if handler is not None:
                return handler
        return None

    # -- the pipeline ----------------------------------------------------------------

    async def receive(self, request: HttpRequest, inbox: str | None) -> InboxAnswer:
        """Run steps 2-8 on a request whose body was read within the limit.

        ``inbox`` is the local actor's handle, or ``None`` for the shared inbox.
        """
        fed = self._federation
        try:
            document = decode_activity(request.body, limits=fed.limits)
            keep = keeps_raw(document)
            try:
                parse(document, normalise=False)
            except ActivityPubError as exc:
                raise InvalidActivityError(f"not a valid activity: {exc}") from None
            actor = single_id(document["actor"])
            assert actor is not None
            authenticated = await fed.authenticator.authenticate(request, document)
            await fed.heard_from(authenticated)  # a host that signs requests to us is up
            document = await apply_origin_rules(authenticated.document, actor, fed.resolver)
            if await _call(fed.is_blocked, actor):
                raise ForbiddenActivityError(f"the domain of {actor} is blocked here")
        except Dropped as dropped:
            logger.info("inbox activity dropped", extra={"reason": dropped.reason})
            return InboxAnswer(202, {"status": "dropped", "reason": dropped.reason})
        except ActivityPubError as exc:
            status = exc.http_status if 400 <= exc.http_status < 600 else 400
            return InboxAnswer(status, {"error": exc.message})
        seen = seen_key(document["id"])
        if not await fed.store.cas(seen, None, True, ttl=fed.idempotency_ttl):
            return InboxAnswer(202, {"status": "duplicate"})
        message: dict[str, Any] = {
            "kind": "inbox",
            "inbox": inbox,
            "activity": document,
            "signer": authenticated.key_id,
            "method": authenticated.method,
        }
        ordering = f"inbox\n{single_id(document.get('object')) or document['id']}"
        try:
            if keep:
                message["raw"] = request.body.decode("utf-8")
                try:
                    await fed.queue.enqueue(message, ordering_key=ordering)
                except MessageTooLargeError:
                    logger.warning(
                        "signed inbox activity queued without its raw copy (too large)",
                        extra={"activity": document["id"]},
                    )
                    del message["raw"]
                    await fed.queue.enqueue(message, ordering_key=ordering)
            else:
                await fed.queue.enqueue(message, ordering_key=ordering)
        except Exception:
            await fed.store.delete(seen)
            logger.exception("could not enqueue an inbox activity")
            return InboxAnswer(503, {"error": "the activity could not be queued; retry later"})
        return InboxAnswer(202, {"status": "accepted"})

    async def handle(self, body: dict[str, Any]) -> None:
        """Run the handler of a queued activity (a worker calls this; raising retries).

        The activity is read exactly as :meth:`receive` checked it: as plain JSON, never
        compacted (a document that would need it was refused there).
        """
        try:
            activity = parse(body["activity"], normalise=False)
        except ActivityPubError as exc:
            # Queued before this check existed, or altered in the queue: never act on it.
            logger.warning("queued inbox activity refused", extra={"reason": exc.message})
            return
        handler = self.handler_for(activity)
        if handler is None:
            logger.debug("no inbox handler", extra={"type": type(activity).__name__})
            return
        raw = body.get("raw")
        ctx = self._federation.context(
            inbox=body.get("inbox"),
            signer=body.get("signer"),
            method=body.get("method"),
            raw_activity=raw.encode("utf-8") if isinstance(raw, str) else None,
        )
        await handler(ctx, activity)


def keeps_raw(document: Mapping[str, Any]) -> bool:
    """Whether the inbox keeps an activity's received bytes: it has an LD signature or a proof.

    ``document`` is the activity as received (before authentication drops its proof).
    """
    return isinstance(document.get("signature"), dict) or "proof" in document


def seen_key(activity_id: str) -> tuple[str, ...]:
    """The store key remembering that ``activity_id`` was accepted (by any of our inboxes)."""
    return ("server", "inbox-seen", activity_id)


async def _call(hook: Callable[[str], bool | Awaitable[bool]] | None, actor: str) -> bool:
    if hook is None:
        return False
    result = hook(actor)
    if inspect.isawaitable(result):
        result = await result
    return bool(result)


__all__ = ["Inbox", "InboxAnswer", "InboxHandler", "keeps_raw", "seen_key"]

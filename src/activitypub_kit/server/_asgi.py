"""The ASGI face of a Federation: routing, content negotiation, authorized fetch, inbox.

* ``GET``/``HEAD`` on an actor, object or collection route with an ActivityPub ``Accept``
  (``application/activity+json`` or ``application/ld+json``) is answered with JSON; any other
  ``Accept`` falls through to the host application (``fallback``), so the same URL can
  render HTML; the fallback's answer gets ``Vary: Accept`` too, so that a shared cache
  never serves that HTML to an ActivityPub fetcher.  Without a fallback such requests get
  ``406``.
* ``POST`` on an inbox runs the inbox pipeline (:mod:`~activitypub_kit.server._inbox`) after
  reading the body within ``max_body_size`` (``413`` otherwise).
* WebFinger and NodeInfo are served from the actor dispatcher.  A WebFinger query known to
  have come over plain http for an https origin is answered ``400`` without a JRD: known
  from the last ``X-Forwarded-Proto`` with ``trust_forwarded_host``; a plain-http
  connection alone is not proof (a TLS-terminating proxy talks http to us), so without
  that setting or that header the scheme is not checked.
* Authorized fetch: every served document except the instance actor needs a valid signed
  ``GET`` (``401`` otherwise; ``403`` for a blocked signer).
* Who asked: a signed ``GET`` of an actor, object or collection is verified even without
  authorized fetch, and its signer is ``ctx.signer`` (``None`` when unsigned; without
  authorized fetch an invalid signature, or a blocked signer, counts as none).  A route's
  ``authorize`` predicate then decides, before the dispatcher runs; a refusal is the
  route's ``404``.  Answers of such routes are ``Cache-Control: private``.
* Errors: an :class:`~activitypub_kit.errors.ActivityPubError` (from the library or from a
  dispatcher) is answered ``{"error": message}`` with its ``http_status``; any other
  exception raised while answering (say, in a dispatcher) is logged with its traceback on
  the ``activitypub_kit.server`` logger and answered ``500 {"error": "internal error"}``.

Use it alone (``uvicorn module:app`` with ``app = fed.asgi()``; its lifespan runs a queue
worker), mount it with ``Mount("/", fed.asgi())``, or wrap a host application with
:class:`FederationMiddleware` (Starlette's and FastAPI's ``add_middleware``).
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from activitypub_kit._body import BoundedChunks
from activitypub_kit._deprecated import deprecated_names
from activitypub_kit.errors import (
    ActivityPubError,
    BlockedError,
    FetchError,
    PayloadTooLargeError,
    UnauthenticatedActivityError,
)
from activitypub_kit.http._activitypub import ACTIVITY_JSON
from activitypub_kit.server import _documents as documents
from activitypub_kit.server._documents import Signer
from activitypub_kit.server._lifespan import serve_lifespan
from activitypub_kit.signatures import HttpRequest, request_from_asgi
from activitypub_kit.webfinger._nodeinfo import content_type as nodeinfo_content_type
from activitypub_kit.webfinger._nodeinfo import well_known
from activitypub_kit.webfinger._server import request_scheme

if TYPE_CHECKING:
    from activitypub_kit.server._context import Context
    from activitypub_kit.server._federation import Federation

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_AP_TYPES = (ACTIVITY_JSON, "application/ld+json")

logger = logging.getLogger("activitypub_kit.server")


class _Fallback(enum.Enum):
    """A request the host application answers: no federation route, or a negotiated one."""

    PLAIN = "plain"
    #: A content-negotiated URL (actor, object, collection) asked for as something else.
    NEGOTIATED = "negotiated"


def wants_activitypub(accept: str) -> bool:
    """Whether an ``Accept`` header asks for ActivityPub JSON (with a non-zero weight)."""
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media.lower() in _AP_TYPES:
            weights = [p for p in params if p.lower().startswith("q=")]
            if not weights or weights[0][2:].strip() not in ("0", "0.0", "0.00", "0.000"):
                return True
    return False


class Response:
    """A status, headers and body to send."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    @classmethod
    def json(cls, status: int, document: Any, content_type: str = ACTIVITY_JSON) -> Response:
        """A JSON response (``Vary: Accept``, since the URL may also render HTML)."""
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        return cls(status, body, {"content-type": content_type, "vary": "Accept"})

    @classmethod
    def error(cls, status: int, reason: str) -> Response:
        """``{"error": reason}`` with ``status``."""
        return cls.json(status, {"error": reason}, "application/json")

    async def send(self, send: Send, *, head: bool = False) -> None:
        """Send this response."""
        headers = [(k.encode(), v.encode()) for k, v in self.headers.items()]
        headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else self.body})


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


async def read_request_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The ASGI request's body, refusing more than ``limit`` bytes (``PayloadTooLargeError``).

    A declared ``Content-Length`` over the limit is refused before anything is read; the
    chunks are counted by :class:`~activitypub_kit._body.BoundedChunks` as they arrive.
    """
    declared = _header(scope, b"content-length")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"body of {declared} bytes is over the {limit}-byte limit")
    message = await receive()
    if message["type"] != "http.disconnect" and not message.get("more_body", False):
        body: bytes = message.get("body", b"")  # the usual case: one message, no copy
        if len(body) > limit:
            raise _request_too_large(limit)
        return body
    chunks = BoundedChunks(limit, lambda _size: _request_too_large(limit))
    while True:
        if message["type"] == "http.disconnect":
            raise PayloadTooLargeError("client disconnected before sending the whole body")
        chunks.add(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks.body()
        message = await receive()


def _request_too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"body is over the {limit}-byte limit")


class FederationApp:
    """The ASGI application of a :class:`~activitypub_kit.server.Federation`."""

    def __init__(
        self, federation: Federation, fallback: ASGIApp | None = None, *, run_worker: bool = True
    ) -> None:
        self.federation = federation
        self.fallback = fallback
        self.run_worker = run_worker
        self.webfinger = documents.webfinger_server(federation)
        #: ``https`` when every origin is https: a plain-http WebFinger query then gets 400.
        self.origin_scheme = (
            "https" if all(o.startswith("https:") for o in federation.origins) else "http"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        if scope["type"] == "lifespan":
            if self.run_worker or self.fallback is None:
                await self._lifespan(scope, receive, send)
            else:
                await self.fallback(scope, receive, send)
            return
        if scope["type"] != "http":
            if self.fallback is not None:
                await self.fallback(scope, receive, send)
            return
        await self.federation.setup()
        raw = scope.get("raw_path")
        path = raw.decode("latin-1").split("?", 1)[0] if raw else quote(scope.get("path", "/"))
        try:
            response = await self._route(scope, receive, path)
        except ActivityPubError as exc:
            response = Response.error(exc.http_status, exc.message)
        except Exception:
            logger.exception("%s %s failed", scope["method"], path)
            response = Response.error(500, "internal error")
        if isinstance(response, _Fallback):
            if self.fallback is not None:
                negotiated = response is _Fallback.NEGOTIATED
                await self.fallback(scope, receive, vary_accept(send) if negotiated else send)
                return
            response = Response.error(404, "not found")
        await response.send(send, head=scope["method"] == "HEAD")

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the host app's lifespan and ours inside it (:mod:`._lifespan`)."""
        await serve_lifespan(
            self.federation, self.fallback, scope, receive, send, run_worker=self.run_worker
        )

    async def _route(self, scope: Scope, receive: Receive, path: str) -> Response | _Fallback:
        fed = self.federation
        method = scope["method"]
        if path == "/.well-known/webfinger":
            if self.webfinger is None:
                return Response.error(
                    404, "WebFinger needs an origin with a domain name (or allow_local_handles)"
                )
            answer = await self.webfinger.respond(
                scope.get("query_string", b""),
                scheme=request_scheme(scope, trust_forwarded=fed.trust_forwarded_host),
                origin_scheme=self.origin_scheme,
            )
            return Response(answer.status, answer.body, dict(answer.headers))
        if path == "/.well-known/nodeinfo":
            return Response.json(
                200, well_known(fed.origin, ("2.1",)).to_json(), "application/json"
            )
        if path == "/nodeinfo/2.1":
            document = await documents.nodeinfo_document(fed, fed.context())
            return Response.json(200, document, nodeinfo_content_type("2.1"))
        inbox = self._match_inbox(path)
        if inbox is not None and method == "POST":
            return await self._inbox(scope, receive, inbox[0], inbox[1])
        if method not in ("GET", "HEAD"):
            if inbox is None:
                return _Fallback.PLAIN
            return Response.error(405, "an inbox accepts POST only")
        target = self._match_document(path)
        if target is None:
            return _Fallback.PLAIN
        if not wants_activitypub(_header(scope, b"accept")):
            if self.fallback is not None:
                return _Fallback.NEGOTIATED
            return Response.error(406, f"this URL serves {ACTIVITY_JSON}")  # Vary: Accept
        kind, name, params = target
        signer: Signer | None = None
        predicate: documents.Authorize | None = None
        if kind != "instance":
            checked = await self._signer(scope)
            if isinstance(checked, Response):
                return checked
            signer = checked
            predicate = fed.authorizers.get("actor" if kind == "actor" else f"{kind}:{name}")
        ctx = fed.context(signer=signer)
        response = await self._document(scope, kind, name, params, ctx, predicate)
        if predicate is not None:
            response.headers["cache-control"] = "private"  # the answer depends on who asks
        return response

    async def _document(
        self,
        scope: Scope,
        kind: str,
        name: str,
        params: dict[str, str],
        ctx: Context,
        predicate: documents.Authorize | None,
    ) -> Response:
        """The document at ``params``, or the route's ``404`` when ``predicate`` refuses."""
        fed = self.federation
        if predicate is not None and not await documents.authorized(predicate, ctx, params):
            # What a missing document gets: a refusal does not tell that it exists.
            return Response.error(404, f"no such {kind}")
        if kind == "instance":
            status, document = await documents.instance_actor_document(fed)
        elif kind == "actor":
            status, document = await documents.actor_document(fed, ctx, params["handle"])
        elif kind == "collection":
            cursors = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("cursor")
            cursor = cursors[0] if cursors else None
            if cursor is None and b"cursor=" in scope.get("query_string", b""):
                cursor = ""
            route = fed.collections[name]
            status, document = await documents.collection_document(route, fed, ctx, params, cursor)
        else:
            status, document = await documents.object_document(fed, ctx, name, params)
        if status >= 400 and "error" in document:
            return Response.error(status, document["error"])
        return Response.json(status, document)

    def _match_inbox(self, path: str) -> tuple[str | None, bool] | None:
        templates = self.federation.templates
        if templates["shared_inbox"].match(path) is not None:
            return None, True
        values = templates["inbox"].match(path)
        if values is not None and "handle" in values:
            return values["handle"], False
        return None

    def _match_document(self, path: str) -> tuple[str, str, dict[str, str]] | None:
        fed = self.federation
        if fed.templates["instance_actor"].match(path) is not None:
            return "instance", "", {}
        actor = fed.templates.get("actor")
        if actor is not None and fed.actor_dispatcher is not None:
            values = actor.match(path)
            if values is not None:
                return "actor", "", values
        for name, route in fed.collections.items():
            values = route.template.match(path)
            if values is not None:
                return "collection", name, values
        for name in fed.objects:
            values = fed.templates[f"object:{name}"].match(path)
            if values is not None:
                return "object", name, values
        return None

    async def _inbox(
        self, scope: Scope, receive: Receive, handle: str | None, shared: bool
    ) -> Response:
        fed = self.federation
        body = await read_request_body(scope, receive, fed.max_body_size)
        if not shared:
            assert handle is not None
            if (
                fed.actor_dispatcher is None
                or await fed.actor_dispatcher(fed.context(), handle) is None
            ):
                return Response.error(404, f"no actor {handle} here")
        request = _signed_request(fed, scope, body)
        answer = await fed.inbox.receive(request, handle)
        return Response.json(answer.status, answer.body, "application/json")

    async def _signer(self, scope: Scope) -> Signer | Response | None:
        """The verified signer of a ``GET``, ``None`` if unsigned, or the refusal to send.

        With authorized fetch, an unsigned request or a signature that fails (or whose key
        cannot be fetched) is ``401``, and a blocked signer ``403`` (a key on a blocked host
        is not even fetched).  Without it a signature is still verified when there is one
        (one verify per signed ``GET``, as Mastodon does), and one that fails, or a blocked
        signer, counts as no signature: the request is answered as an unsigned one would be
        (what anyone may fetch unsigned is no secret, and the block is not revealed), so a
        predicate sees ``None``, never a signer we could not check or do not trust.
        """
        fed = self.federation
        strict = fed.authorized_fetch
        request = _signed_request(fed, scope, b"")
        try:
            signed = await fed.authenticator.http_signer(request)
        except (UnauthenticatedActivityError, FetchError, BlockedError) as exc:
            if strict and isinstance(exc, BlockedError):
                raise
            if isinstance(exc, FetchError):
                reason = f"cannot fetch the signing key: {exc}"
            else:
                reason = exc.message
            if strict:
                return Response.error(401, reason)
            logger.debug("signed GET answered as unsigned", extra={"reason": reason})
            return None
        if signed is None:
            if strict:
                return Response.error(401, "authorized fetch: this server needs a signed GET")
            return None
        key, key_id = signed
        if await fed.moderation.blocks(key.owner):
            if strict:
                return Response.error(403, f"the domain of {key.owner} is blocked here")
            logger.debug("signed GET by a blocked actor answered as unsigned")
            return None
        return Signer(key_id, key.owner)


def vary_accept(send: Send) -> Send:
    """``send`` with ``Accept`` added to the ``Vary`` header of the response it starts.

    An existing ``Vary`` header is extended (``Vary: Cookie`` becomes ``Vary: Cookie,
    Accept``); one that already names ``Accept`` (or ``*``) is left alone.
    """

    async def send_varying(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": _with_vary_accept(message.get("headers", ()))}
        await send(message)

    return send_varying


def _with_vary_accept(headers: Any) -> list[tuple[bytes, bytes]]:
    pairs = [(bytes(name), bytes(value)) for name, value in headers]
    varies = [i for i, (name, _) in enumerate(pairs) if name.lower() == b"vary"]
    tokens = {token.strip().lower() for i in varies for token in pairs[i][1].split(b",")}
    if b"accept" in tokens or b"*" in tokens:
        return pairs
    if not varies:
        return [*pairs, (b"vary", b"Accept")]
    first = varies[0]
    name, value = pairs[first]
    pairs[first] = (name, value + b", Accept" if value.strip() else b"Accept")
    return pairs


def _signed_request(fed: Federation, scope: Scope, body: bytes) -> HttpRequest:
    """The request as its signer saw it.

    Our public scheme, and the public host (the last ``X-Forwarded-Host`` value, which our
    proxy added) when the operator trusts the proxy.
    """
    if fed.trust_forwarded_host:
        forwarded = _header(scope, b"x-forwarded-host").rsplit(",", 1)[-1].strip()
        if forwarded:
            headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"host"]
            headers.append((b"host", forwarded.encode("latin-1")))
            scope = {**scope, "headers": headers}
    return request_from_asgi(scope, body, scheme=_public_scheme(fed.origin))


def _public_scheme(origin: str) -> str:
    return origin.split(":", 1)[0]


class FederationMiddleware:
    """Wrap a host ASGI app: federation routes are answered, the rest goes to ``app``.

    ``app.add_middleware(FederationMiddleware, federation=fed)`` in Starlette and FastAPI.
    The worker is not started here: run ``fed.running()`` in the host app's lifespan.
    """

    def __init__(self, app: ASGIApp, federation: Federation) -> None:
        self.app = FederationApp(federation, app, run_worker=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        await self.app(scope, receive, send)


__getattr__ = deprecated_names(
    __name__,
    {
        "ACTIVITY_TYPE": ("activitypub_kit.http.ACTIVITY_JSON", ACTIVITY_JSON),
        # listed by the old public path activitypub_kit.server.asgi
        "read_body": ("nothing public (internal, now read_request_body)", read_request_body),
    },
)

__all__ = [
    "FederationApp",
    "FederationMiddleware",
    "wants_activitypub",
    "read_request_body",
    "vary_accept",
]

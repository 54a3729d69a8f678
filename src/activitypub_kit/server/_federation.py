"""The :class:`Federation` object: configuration, registrations, and the runtime parts."""

from __future__ import annotations

import contextlib
import inspect
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Generic, TypeVar, overload
from urllib.parse import urlsplit

import anyio

from activitypub_kit.delivery._failures import DeliveryFailure, DeliveryFailureEvent
from activitypub_kit.delivery._known import MEMO_SIZE, HostInbox, KnownInboxes, StoreKnownInboxes
from activitypub_kit.delivery._options import DeliveryOptions
from activitypub_kit.delivery._outbox import DeliveryHooks, Outbox
from activitypub_kit.delivery._planning import Recipient, Unresolved, inbox_host
from activitypub_kit.delivery._transport import HttpTransport
from activitypub_kit.errors import BlockedError, NoContextDataError, RouteError
from activitypub_kit.http import FetchCache, HttpClient, KeyResolver, Resolver
from activitypub_kit.models import ASModel
from activitypub_kit.server._authenticate import Authenticated, Authenticator
from activitypub_kit.server._collections import CollectionRoute, PageDispatcher, PageItems
from activitypub_kit.server._context import MAX_CONCURRENT_LOOKUPS, Context, D
from activitypub_kit.server._documents import Authorize
from activitypub_kit.server._inbox import Inbox, seen_key
from activitypub_kit.server._keys import KeyCache, KeyPair, key_pairs_for, stored_keys
from activitypub_kit.server._moderation import BlockHook, Moderation
from activitypub_kit.server._objects import DEFAULT_REFRESH_AFTER, ObjectStore
from activitypub_kit.server._parsing import DEFAULT_LIMITS, DocumentLimits, origin_of, single_id
from activitypub_kit.server._routes import UrlTemplate, check_parameters
from activitypub_kit.signatures import DoubleKnock, HttpxSigner, PrivateKey
from activitypub_kit.storage import MemoryQueue, MemoryStore, Worker
from activitypub_kit.storage._base import JSONValue, KeyValueStore, Message, MessageQueue
from activitypub_kit.webfinger import NodeInfo, NodeInfoSoftware

F = TypeVar("F", bound=Callable[..., Any])

ActorDispatcher = Callable[[Context[D], str], Awaitable[ASModel | None]]
ObjectDispatcher = Callable[..., Awaitable[ASModel | None]]
KeyPairsDispatcher = Callable[[Context[D], str], Awaitable[Sequence[PrivateKey]]]
NodeInfoDispatcher = Callable[[Context[D]], Awaitable[NodeInfo]]
#: ``context_data_factory``: a plain zero-argument callable making one context's data.
ContextDataFactory = Callable[[], D]
#: ``on_delivery_failed`` / ``on_gone``: ``(event) -> None``, plain or ``async``.
FailureCallback = Callable[[DeliveryFailureEvent], Awaitable[None] | None]

logger = logging.getLogger("activitypub_kit.server")

#: Shortest ``idempotency_ttl``: 12 h of signature lifetime plus an hour of clock skew.
MIN_IDEMPOTENCY_TTL = 13 * 3600.0

#: The ``key_ref`` of the instance actor's keys.
INSTANCE = "*instance*"

#: Paths the Federation answers itself; no registered template may match them.
_BUILT_IN = {
    "WebFinger": UrlTemplate("/.well-known/webfinger"),
    "NodeInfo discovery": UrlTemplate("/.well-known/nodeinfo"),
    "NodeInfo": UrlTemplate("/nodeinfo/2.1"),
}


class _NoData:
    """The default of ``context_data``: none given (``None`` is a value like any other)."""


_NO_DATA = _NoData()


class Federation(Generic[D]):
    """One federated application: origins, stores, HTTP client, policies and routes.

    Generic in the app's context data ``D``: ``context_data`` (a value, shared by every
    context) or ``context_data_factory`` (a plain zero-argument callable, called once per
    context on its first ``ctx.data`` read) is what ``ctx.data`` gives in every dispatcher,
    handler and :meth:`context`, typed ``D`` (``Federation[AppState]``, ``Context[AppState]``).
    Without either, ``ctx.data`` raises :class:`~activitypub_kit.errors.NoContextDataError`.

    ``origin`` is our canonical origin (``https://example.com``), or several (the first is
    canonical; the others are accepted as local).  ``store`` and ``queue`` default to the
    in-memory backends (fine for tests, not for production); ``client`` is the one outbound
    :class:`~activitypub_kit.http.HttpClient`.  ``authorized_fetch`` demands a signed GET for
    every actor, object and collection except the instance actor.

    Moderation, both ways (:mod:`~activitypub_kit.server._moderation`): ``block_host(host)``
    and ``block_actor(actor_id)``, plain or ``async`` predicates, refuse the inbox (403),
    skip delivery (no request) and refuse fetches through :attr:`resolver`
    (:class:`~activitypub_kit.errors.BlockedError`); ``is_blocked`` is the deprecated name
    of ``block_actor``.  ``delivery`` (:class:`~activitypub_kit.delivery.DeliveryOptions`)
    configures the :attr:`outbox` — retry schedule, circuit breaker and unavailable-domain
    tracking (both on by default, their state in ``store``), concurrency; it is fixed once
    built.  ``on_delivery_failed(event)`` hears of every recipient that will not get an
    activity, with a :class:`~activitypub_kit.delivery.DeliveryFailure` reason, and
    ``on_gone(event)`` of personal inboxes that answered 410 (both plain or ``async``).
    Fetched documents and keys are cached in ``store`` (with TTLs), so every process sharing
    it fetches a document once.  ``known_inboxes``
    (:class:`~activitypub_kit.delivery.KnownInboxes`, default: one ``store`` entry per host)
    is every server we know, for ``ctx.known_inboxes()`` audiences (actor ``Delete``,
    profile ``Update``).  ``object_store``
    (:class:`~activitypub_kit.server._objects.ObjectStore`) is the app's own database of
    remote objects: ``ctx.lookup`` reads it first and fetches only copies older than
    ``refresh_after`` (a ``timedelta``, one day by default), saving what it fetched.
    ``allow_local_handles`` (off by default; development and loopback tests only) serves
    WebFinger for origins on ``localhost`` or an IPv4 literal (``acct:alice@127.0.0.1:8080``),
    which production refuses as handles.

    Signed requests (inbox POSTs, authorized-fetch GETs) must be addressed to one of
    ``origin``: the signed ``Host`` / ``@authority`` / ``@target-uri`` of a request to
    another server is refused, so a delivery to someone else cannot be replayed here.
    Behind a reverse proxy that rewrites ``Host``, set ``trust_forwarded_host`` to read the
    public host from the last ``X-Forwarded-Host`` value instead (only when the proxy sets
    it: a client can send one too); the same setting reads the scheme the client used from
    the last ``X-Forwarded-Proto`` value, so that a plain-http WebFinger query for an https
    origin is refused (without it, or without that header, the scheme is not checked: a
    TLS-terminating proxy talks plain http to us).  ``limits`` bounds every inbox document
    (:class:`~activitypub_kit.server._parsing.DocumentLimits`); ``idempotency_ttl`` is how long
    an activity id is remembered, at least as long as any signature is accepted.
    """

    def __init__(
        self,
        origin: str | Sequence[str],
        *,
        store: KeyValueStore | None = None,
        queue: MessageQueue | None = None,
        client: HttpClient | None = None,
        authorized_fetch: bool = False,
        is_blocked: BlockHook | None = None,
        block_host: BlockHook | None = None,
        block_actor: BlockHook | None = None,
        delivery: DeliveryOptions | None = None,
        on_delivery_failed: FailureCallback | None = None,
        on_gone: FailureCallback | None = None,
        inbox_path: str = "/users/{handle}/inbox",
        shared_inbox_path: str = "/inbox",
        instance_actor_path: str = "/actor",
        max_body_size: int = 1024 * 1024,
        limits: DocumentLimits = DEFAULT_LIMITS,
        idempotency_ttl: float = 7 * 86400.0,
        software: NodeInfoSoftware | None = None,
        allow_local_handles: bool = False,
        trust_forwarded_host: bool = False,
        context_data: D | _NoData = _NO_DATA,
        context_data_factory: ContextDataFactory[D] | None = None,
        known_inboxes: KnownInboxes | None = None,
        object_store: ObjectStore | None = None,
        refresh_after: timedelta = DEFAULT_REFRESH_AFTER,
    ) -> None:
        if context_data_factory is not None:
            if not isinstance(context_data, _NoData):
                raise RouteError("pass context_data or context_data_factory, not both")
            if not callable(context_data_factory) or inspect.iscoroutinefunction(
                context_data_factory
            ):
                raise RouteError(
                    "context_data_factory must be a plain zero-argument callable (fed.context()"
                    " is not async: open async resources in the lifespan and pass them in)"
                )
        self._context_data = context_data
        self._context_data_factory = context_data_factory
        origins = [origin] if isinstance(origin, str) else list(origin)
        if not origins:
            raise RouteError("a Federation needs at least one origin")
        for value in origins:
            parts = urlsplit(value)
            if origin_of(value) is None or parts.path not in ("", "/") or parts.query:
                raise RouteError(f"origin {value!r} must be scheme://host[:port] only")
        self.origins = [o.rstrip("/") for o in origins]
        self.origin = self.origins[0]
        self.store: KeyValueStore = store if store is not None else MemoryStore()
        self.queue: MessageQueue = queue if queue is not None else MemoryQueue()
        self.client = client if client is not None else HttpClient()
        self._owned_client = client is None
        self.authorized_fetch = authorized_fetch
        if is_blocked is not None:
            if block_actor is not None:
                raise RouteError("pass block_actor only (is_blocked is its deprecated name)")
            warnings.warn(
                "Federation(is_blocked=...) is deprecated: pass block_actor=... (and"
                " block_host=... for whole domains)",
                DeprecationWarning,
                stacklevel=2,
            )
            block_actor = is_blocked
        #: The block policy (its hooks may be replaced at any time).
        self.moderation = Moderation(block_host=block_host, block_actor=block_actor)
        self._delivery = delivery if delivery is not None else DeliveryOptions()
        self.on_delivery_failed = on_delivery_failed
        self.on_gone = on_gone
        #: One inbox per known server (:mod:`~activitypub_kit.delivery._known`).
        self.known_inboxes: KnownInboxes = (
            known_inboxes if known_inboxes is not None else StoreKnownInboxes(self.store)
        )
        self._learnt_hosts: set[str] = set()
        self.max_body_size = max_body_size
        self.limits = limits
        if idempotency_ttl < MIN_IDEMPOTENCY_TTL:
            raise RouteError(
                f"idempotency_ttl must be at least {MIN_IDEMPOTENCY_TTL:.0f}s (the longest time"
                " a signature or proof is accepted), or a replay is applied again"
            )
        self.idempotency_ttl = idempotency_ttl
        self.trust_forwarded_host = trust_forwarded_host
        if object_store is not None and not isinstance(object_store, ObjectStore):
            raise RouteError("object_store must have async read, save and delete methods")
        if not isinstance(refresh_after, timedelta) or refresh_after < timedelta(0):
            raise RouteError("refresh_after must be a timedelta of zero or more")
        #: The app's copies of remote objects, read by ``ctx.lookup`` first (read per lookup).
        self.object_store = object_store
        #: The age after which a stored copy is fetched again (read per lookup).
        self.refresh_after = refresh_after
        self.allow_local_handles = allow_local_handles
        self.software = software or NodeInfoSoftware(name="activitypub-kit", version="0")
        self.templates: dict[str, UrlTemplate] = {
            "inbox": UrlTemplate(inbox_path),
            "shared_inbox": UrlTemplate(shared_inbox_path),
            "instance_actor": UrlTemplate(instance_actor_path),
        }
        self.actor_dispatcher: ActorDispatcher[D] | None = None
        self.key_pairs_dispatcher: KeyPairsDispatcher[D] | None = None
        self.nodeinfo_dispatcher: NodeInfoDispatcher[D] | None = None
        self.objects: dict[str, tuple[type[ASModel], ObjectDispatcher]] = {}
        self.collections: dict[str, CollectionRoute] = {}
        #: ``authorize`` predicates by route (``actor``, ``object:Note``, ``collection:name``).
        self.authorizers: dict[str, Authorize] = {}
        self.inbox: Inbox[D] = Inbox(self)
        self.resolver = Resolver(
            self.client,
            cache=FetchCache(self.store),
            local_origins=self.origins,
            block_host=self.moderation.name_blocked,
        )
        self.keys = KeyResolver(self.resolver)
        self.authenticator = Authenticator(
            self.keys, origins=self.origins, ld_signature_max_age=idempotency_ttl
        )
        self.outbox = Outbox.from_options(
            self.queue,
            self.store,
            HttpTransport(self.client, self.signing_key, knock=DoubleKnock(self.store)),
            self._delivery,
            resolver=self,
            is_local=self.is_local,
            is_blocked=self.moderation.inbox_host_blocked,
            is_blocked_actor=self.moderation.recipient_blocked,
            known_inboxes=self.known_inboxes,
            hooks=DeliveryHooks(
                on_failure=self._delivery_failed,
                on_gone=self._gone,
                on_local=self._deliver_locally,
            ),
        )
        self._key_cache = KeyCache()
        self._ready = False

    # -- registration ----------------------------------------------------------------
    #
    # Every registration is checked when it is made: a second registration of the same
    # thing is a RouteError unless ``replace=True``, a template that would answer the same
    # paths as another route is a RouteError, and so is a callback whose parameters do not
    # fit how it is called (its template's placeholders, passed by name).

    def _claim(self, route: str, template: UrlTemplate, what: str, *, replace: bool) -> None:
        """Refuse a second ``route`` (unless ``replace``) and a template overlapping another."""
        if route in self.templates and not replace:
            raise RouteError(f"{what} is already registered (pass replace=True to replace it)")
        others = {**_BUILT_IN, **{k: v for k, v in self.templates.items() if k != route}}
        for other, existing in others.items():
            if existing.overlaps(template):
                raise RouteError(
                    f"the template {template.template!r} of {what} matches the same paths as"
                    f" the {other} route {existing.template!r}"
                )

    def _check_authorize(
        self, authorize: Authorize | None, template: UrlTemplate, what: str
    ) -> None:
        """Refuse an ``authorize`` predicate that cannot be called ``(ctx, signer, **params)``."""
        if authorize is None:
            return
        if not callable(authorize):
            raise RouteError(f"authorize of {what} must be callable")
        check_parameters(
            authorize,
            leading=("ctx", "signer"),
            names=template.names,
            what=f"authorize predicate of {what}",
            template=template.template,
        )

    def _set_authorize(self, route: str, authorize: Authorize | None) -> None:
        if authorize is None:
            self.authorizers.pop(route, None)  # a replaced route loses the old predicate
        else:
            self.authorizers[route] = authorize

    def actor(
        self, template: str, *, replace: bool = False, authorize: Authorize | None = None
    ) -> Callable[[ActorDispatcher[D]], ActorDispatcher[D]]:
        """Register the actor dispatcher ``async (ctx, handle)`` on ``template``.

        The template must hold exactly ``{handle}``.  The dispatcher returns the actor model,
        a ``Tombstone`` (served as 410 Gone) or ``None`` (404).  The served document gets
        ``inbox``, ``endpoints.sharedInbox``, the registered collections and the keys
        (``publicKey``, ``assertionMethod``) added automatically.  A second actor dispatcher
        is a :class:`~activitypub_kit.errors.RouteError` unless ``replace``.

        ``authorize(ctx, signer, handle)`` decides who may fetch the actor document (see
        :meth:`object`); WebFinger and the inbox still answer for the actor, and a server
        that cannot fetch the actor cannot verify its signatures.
        """
        parsed = UrlTemplate(template)
        if parsed.names != ("handle",):
            raise RouteError(f"actor template {template!r} must hold exactly {{handle}}")

        def register(fn: ActorDispatcher[D]) -> ActorDispatcher[D]:
            check_parameters(
                fn, leading=("ctx", "handle"), names=(), what="actor dispatcher", template=template
            )
            self._check_authorize(authorize, parsed, "the actor dispatcher")
            self._claim("actor", parsed, "an actor dispatcher", replace=replace)
            self.templates["actor"] = parsed
            self.actor_dispatcher = fn
            self._set_authorize("actor", authorize)
            return fn

        return register

    @overload
    def key_pairs(self, fn: KeyPairsDispatcher[D], /) -> KeyPairsDispatcher[D]: ...

    @overload
    def key_pairs(
        self, *, replace: bool = ...
    ) -> Callable[[KeyPairsDispatcher[D]], KeyPairsDispatcher[D]]: ...

    def key_pairs(
        self, fn: KeyPairsDispatcher[D] | None = None, *, replace: bool = False
    ) -> KeyPairsDispatcher[D] | Callable[[KeyPairsDispatcher[D]], KeyPairsDispatcher[D]]:
        """Register ``async (ctx, handle) -> [private keys]`` (RSA and/or Ed25519).

        Without it every actor gets an RSA and an Ed25519 key generated once and kept in the
        key-value store.  Use it bare (``@fed.key_pairs``) or, to replace an earlier one,
        as ``@fed.key_pairs(replace=True)``.  Loaded keys are reused for
        :attr:`key_cache_ttl` seconds; :meth:`forget_keys` drops them at once.
        """

        def register(fn: KeyPairsDispatcher[D]) -> KeyPairsDispatcher[D]:
            check_parameters(fn, leading=("ctx", "handle"), names=(), what="key-pairs dispatcher")
            if self.key_pairs_dispatcher is not None and not replace:
                raise RouteError(
                    "a key-pairs dispatcher is already registered (pass replace=True to replace it)"
                )
            self.key_pairs_dispatcher = fn
            self._key_cache.forget()
            return fn

        return register if fn is None else register(fn)

    def object(
        self,
        kind: type[ASModel],
        template: str,
        *,
        replace: bool = False,
        authorize: Authorize | None = None,
    ) -> Callable[[F], F]:
        """Register ``async (ctx, **params) -> model | Tombstone | None`` for ``kind``.

        The dispatcher receives the template's placeholders by name (``/notes/{id}`` calls
        ``note(ctx, id=...)``); one that does not take them, or needs another parameter, is
        refused here, as is a second dispatcher for ``kind`` (unless ``replace``).

        ``authorize(ctx, signer, **params) -> bool`` (plain or ``async``) runs before the
        dispatcher on every ``GET``: ``signer`` is ``ctx.signer``, the verified
        :class:`~activitypub_kit.server._documents.Signer` of the request or ``None``.  Unless
        it returns ``True`` the answer is ``404 {"error": "no such object"}``, exactly what a
        missing object gets, so a refusal does not reveal that the object exists.  It guards
        HTTP only: our own code (fan-out, local lookups) reads the dispatcher directly.
        """
        parsed = UrlTemplate(template)

        def register(fn: F) -> F:
            check_parameters(
                fn,
                leading=("ctx",),
                names=parsed.names,
                what=f"object dispatcher for {kind.__name__}",
                template=template,
            )
            what = f"an object dispatcher for {kind.__name__}"
            self._check_authorize(authorize, parsed, what)
            self._claim(f"object:{kind.__name__}", parsed, what, replace=replace)
            self.templates[f"object:{kind.__name__}"] = parsed
            self.objects[kind.__name__] = (kind, fn)
            self._set_authorize(f"object:{kind.__name__}", authorize)
            return fn

        return register

    def collection(
        self,
        name: str,
        template: str,
        *,
        ordered: bool = True,
        replace: bool = False,
        authorize: Authorize | None = None,
    ) -> Callable[[PageDispatcher], CollectionRoute]:
        """Register ``async (ctx, cursor, **params) -> PageItems | None`` as collection ``name``.

        The decorator returns the :class:`~activitypub_kit.server._collections.CollectionRoute`,
        whose ``.counter`` and ``.recipients`` decorators add a count and a one-shot listing.
        ``outbox``, ``followers``, ``following``, ``liked`` and ``featured`` appear in the
        actor document automatically.  A second collection ``name`` is refused unless
        ``replace``.  ``authorize(ctx, signer, **params)`` guards the collection and each of
        its pages as it guards an object (:meth:`object`; ``404 {"error": "no such
        collection"}``); fan-out to followers does not go through it.
        """
        parsed = UrlTemplate(template)

        def register(fn: PageDispatcher) -> CollectionRoute:
            check_parameters(
                fn,
                leading=("ctx", "cursor"),
                names=parsed.names,
                what=f"collection dispatcher {name!r}",
                template=template,
            )
            what = f"a collection {name!r}"
            self._check_authorize(authorize, parsed, what)
            self._claim(f"collection:{name}", parsed, what, replace=replace)
            route = CollectionRoute(name, parsed, fn, ordered=ordered)
            self.templates[f"collection:{name}"] = parsed
            self.collections[name] = route
            self._set_authorize(f"collection:{name}", authorize)
            return route

        return register

    def outbox_collection(
        self, template: str, *, replace: bool = False, authorize: Authorize | None = None
    ) -> Callable[[PageDispatcher], CollectionRoute]:
        """Shorthand for ``collection("outbox", template)``."""
        return self.collection("outbox", template, replace=replace, authorize=authorize)

    def followers(
        self, template: str, *, replace: bool = False, authorize: Authorize | None = None
    ) -> Callable[[PageDispatcher], CollectionRoute]:
        """Shorthand for ``collection("followers", template)``."""
        return self.collection("followers", template, replace=replace, authorize=authorize)

    def following(
        self, template: str, *, replace: bool = False, authorize: Authorize | None = None
    ) -> Callable[[PageDispatcher], CollectionRoute]:
        """Shorthand for ``collection("following", template)``."""
        return self.collection("following", template, replace=replace, authorize=authorize)

    def liked(
        self, template: str, *, replace: bool = False, authorize: Authorize | None = None
    ) -> Callable[[PageDispatcher], CollectionRoute]:
        """Shorthand for ``collection("liked", template)``."""
        return self.collection("liked", template, replace=replace, authorize=authorize)

    def featured(
        self, template: str, *, replace: bool = False, authorize: Authorize | None = None
    ) -> Callable[[PageDispatcher], CollectionRoute]:
        """Shorthand for ``collection("featured", template)``."""
        return self.collection("featured", template, replace=replace, authorize=authorize)

    @overload
    def nodeinfo(self, fn: NodeInfoDispatcher[D], /) -> NodeInfoDispatcher[D]: ...

    @overload
    def nodeinfo(
        self, *, replace: bool = ...
    ) -> Callable[[NodeInfoDispatcher[D]], NodeInfoDispatcher[D]]: ...

    def nodeinfo(
        self, fn: NodeInfoDispatcher[D] | None = None, *, replace: bool = False
    ) -> NodeInfoDispatcher[D] | Callable[[NodeInfoDispatcher[D]], NodeInfoDispatcher[D]]:
        """Register ``async (ctx) -> NodeInfo`` (default: software and protocols only).

        Bare (``@fed.nodeinfo``), or ``@fed.nodeinfo(replace=True)`` to replace an earlier one.
        """

        def register(fn: NodeInfoDispatcher[D]) -> NodeInfoDispatcher[D]:
            check_parameters(fn, leading=("ctx",), names=(), what="NodeInfo dispatcher")
            if self.nodeinfo_dispatcher is not None and not replace:
                raise RouteError(
                    "a NodeInfo dispatcher is already registered (pass replace=True to replace it)"
                )
            self.nodeinfo_dispatcher = fn
            return fn

        return register if fn is None else register(fn)

    def uri(self, route: str, **params: str) -> str:
        """The absolute URI of ``route`` (``actor``, ``inbox``, ``object:Note``...)."""
        template = self.templates.get(route)
        if template is None:
            raise RouteError(f"no route {route!r} is registered")
        return self.origin + template.build(params)

    def is_local(self, uri: str) -> bool:
        """Whether ``uri`` is on one of our origins."""
        found = origin_of(uri)
        return found is not None and any(found == origin_of(o) for o in self.origins)

    def handle_of(self, uri: str) -> str | None:
        """The handle of a local actor URI, ``None`` otherwise."""
        template = self.templates.get("actor")
        if template is None or not self.is_local(uri):
            return None
        values = template.match(urlsplit(uri).path)
        return values["handle"] if values else None

    def context(self, **kwargs: Any) -> Context[D]:
        """A :class:`Context` for application code (publishing, lookups), with ``ctx.data``."""
        return Context(self, **kwargs)

    def new_context_data(self) -> D:
        """The data of a new context: ``context_data``, or a fresh ``context_data_factory()``.

        Raises :class:`~activitypub_kit.errors.NoContextDataError` when the Federation was
        built with neither.
        """
        if self._context_data_factory is not None:
            return self._context_data_factory()
        if isinstance(self._context_data, _NoData):
            raise NoContextDataError(
                "ctx.data: this Federation has no context data; build it with"
                " Federation(..., context_data=value) or context_data_factory=make"
            )
        return self._context_data

    # -- keys ------------------------------------------------------------------------

    @property
    def key_cache_ttl(self) -> float:
        """Seconds loaded key pairs are reused before they are read again (default 300).

        Reading them again asks the key-pairs dispatcher (or the key-value store); ``0``
        asks every time.  After rotating an actor's key, :meth:`forget_keys` uses the new
        one at once.
        """
        return self._key_cache.ttl

    @key_cache_ttl.setter
    def key_cache_ttl(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("key_cache_ttl must not be negative")
        self._key_cache.ttl = seconds

    def forget_keys(self, handle: str) -> None:
        """Drop the keys of ``handle`` (or ``INSTANCE``) loaded in this process.

        The next actor document or signature reads the key-pairs dispatcher (or the store)
        again: call it after rotating a key.  The delivery transport's copy of the signing
        key is dropped too.  Other processes pick the new key up within
        :attr:`key_cache_ttl` (plus the transport's own ``key_cache_ttl`` for deliveries).
        The instance actor's key also signs our fetches, with the signer :meth:`setup` made
        once: rotating that key still needs a restart.
        """
        self._key_cache.forget(handle)
        forget = getattr(self.outbox.transport, "forget_key", None)
        if callable(forget):
            forget(handle)

    async def key_pairs_of(self, handle: str) -> list[KeyPair]:
        """The key pairs of a local actor (or of the instance actor, ``INSTANCE``).

        Cached for :attr:`key_cache_ttl` seconds; concurrent first uses of an actor load (and
        generate) its keys once, and generating them runs in a worker thread.
        """
        return await self._key_cache.get(handle, lambda: self._load_key_pairs(handle))

    async def _load_key_pairs(self, handle: str) -> list[KeyPair]:
        if handle == INSTANCE:
            uri = self.uri("instance_actor")
            keys: Sequence[PrivateKey] = await stored_keys(self.store, INSTANCE)
        else:
            uri = self.uri("actor", handle=handle)
            if self.key_pairs_dispatcher is not None:
                keys = await self.key_pairs_dispatcher(self.context(), handle)
            else:
                keys = await stored_keys(self.store, f"actor:{handle}")
        return key_pairs_for(uri, keys)

    async def signing_key(self, key_ref: str) -> tuple[str, PrivateKey]:
        """The key that signs deliveries for ``key_ref`` (a handle): RSA first."""
        pairs = await self.key_pairs_of(key_ref)
        if not pairs:
            raise RouteError(f"actor {key_ref!r} has no key pair")
        chosen = next((p for p in pairs if p.is_rsa), pairs[0])
        return chosen.key_id, chosen.private_key

    # -- fan-out: the outbox's RecipientResolver --------------------------------------

    async def expand(
        self, audience: Mapping[str, JSONValue]
    ) -> AsyncIterator[Recipient | str | Unresolved]:
        """Yield the recipients of one audience entry (the delivery worker calls this).

        * ``{"followers": handle}`` (:meth:`Context.followers_of`): every follower of a
          local actor, from the followers collection's lister or pages;
        * ``{"actors": [ids]}`` (actor ids given to :meth:`Context.send`): each id fetched
          here, at most :data:`~activitypub_kit.server._context.MAX_CONCURRENT_LOOKUPS` at a
          time; an id blocked by policy is not fetched, a local one needs no fetch;
        * ``{"known": true}`` (:meth:`Context.known_inboxes`): one inbox per server in
          :attr:`known_inboxes`, hosts blocked by policy left out, each reached only when
          no other recipient of the activity is on that host.

        A member that cannot be resolved is logged and yielded as
        :class:`~activitypub_kit.delivery.Unresolved`, so ``on_delivery_failed`` hears of it
        (``BLOCKED`` for a blocked actor, ``UNRESOLVED`` with the error otherwise).
        """
        if "actors" in audience:
            for recipient in await self._resolve_actors(audience["actors"]):
                yield recipient
        elif audience.get("known") is True:
            async for inbox in self._known_inboxes():
                yield inbox
        elif "followers" in audience:
            async for member in self._followers(audience.get("followers")):
                yield member
        else:
            logger.warning("fan-out: audience %.200r is not one this server knows", audience)
            yield Unresolved(repr(dict(audience))[:200], "not a known audience reference")

    async def _followers(self, handle: Any) -> AsyncIterator[Recipient | Unresolved]:
        route = self.collections.get("followers")
        if not isinstance(handle, str) or route is None:
            logger.warning("fan-out to followers of %r reaches nobody: no collection", handle)
            return
        ctx = self.context()
        if route.lister is not None:
            async for member in route.lister(ctx, handle=handle):
                yield await self._as_recipient(member)
            return
        cursor: str | None = None
        while True:
            page: PageItems | None = await route.dispatcher(ctx, cursor, handle=handle)
            if page is None:
                if cursor is None:
                    logger.warning("fan-out: no followers collection for %r", handle)
                return
            for member in page.items:
                yield await self._as_recipient(member)
            if page.next is None:
                return
            cursor = page.next

    async def _resolve_actors(self, ids: JSONValue) -> list[Recipient | Unresolved]:
        """Resolve addressed actor ids concurrently (bounded); order is not kept."""
        members = list(ids) if isinstance(ids, list) else [ids]
        found: list[Recipient | Unresolved] = []
        limit = anyio.Semaphore(MAX_CONCURRENT_LOOKUPS)

        async def resolve(member: Any) -> None:
            async with limit:
                found.append(await self._as_recipient(member, "recipient"))

        async with anyio.create_task_group() as group:
            for member in members:
                group.start_soon(resolve, member)
        return found

    async def _known_inboxes(self) -> AsyncIterator[HostInbox]:
        seen: set[str] = set()
        async for inbox in self.known_inboxes.inboxes():
            host = inbox_host(inbox)
            if host is None or host in seen or self.is_local(inbox):
                continue
            seen.add(host)
            if not await self.moderation.host_blocked(host):
                yield HostInbox.of(inbox)

    async def _as_recipient(self, member: Any, what: str = "follower") -> Recipient | Unresolved:
        if isinstance(member, Recipient):
            return member
        if isinstance(member, ASModel):
            member = member.to_json(context=False)
        if isinstance(member, Mapping) and isinstance(member.get("inbox"), str):
            return Recipient.from_actor(member)
        member_id = member.get("id") if isinstance(member, Mapping) else member
        if not isinstance(member_id, str):
            logger.warning("fan-out: %s entry %.200r is not an actor or an id", what, member)
            return Unresolved(repr(member)[:200], "not an actor, an actor id or a Recipient")
        if self.is_local(member_id):
            return Recipient(id=member_id)  # ours: delivered in-process, no fetch, no POST
        blocked = Unresolved(member_id, "blocked by policy", DeliveryFailure.BLOCKED)
        if await self.moderation.blocks(member_id):
            return blocked  # not even fetched
        try:
            return Recipient.from_actor(await self.resolver.fetch_actor(member_id))
        except BlockedError:
            return blocked
        except Exception as exc:  # one unreachable member must not stop the fan-out
            logger.warning("fan-out: cannot resolve %s %s", what, member_id, exc_info=True)
            return Unresolved(member_id, f"{type(exc).__name__}: {exc}")

    # -- moderation and delivery health --------------------------------------------

    @property
    def delivery(self) -> DeliveryOptions:
        """The delivery options the :attr:`outbox` was built with (read-only)."""
        return self._delivery

    @property
    def is_blocked(self) -> BlockHook | None:
        """Deprecated: the combined check :meth:`Moderation.blocks` (``None`` without hooks).

        Assigning it sets ``moderation.block_actor`` (with a ``DeprecationWarning``).
        """
        return self.moderation.blocks if self.moderation.active else None

    @is_blocked.setter
    def is_blocked(self, hook: BlockHook | None) -> None:
        warnings.warn(
            "Federation.is_blocked is deprecated: set fed.moderation.block_actor",
            DeprecationWarning,
            stacklevel=2,
        )
        self.moderation.block_actor = hook

    async def heard_from(self, authenticated: Authenticated) -> None:
        """A request verified by its sender's HTTP signature: the sender's host is up.

        Clears the host's unavailable mark in the delivery tracker (a store write only
        when it has one).  Never raises: a store problem is logged.
        """
        if authenticated.method != "http-signature":
            return  # a relay or a proof vouched: the actor's host did not talk to us
        host = inbox_host(authenticated.owner)
        if host is None:
            return
        try:
            await self.outbox.record_inbound(host)
        except Exception:
            logger.warning("could not record that %s is up", host, exc_info=True)
        await self._learn_inbox(authenticated.owner, host)

    async def _learn_inbox(self, actor: str, host: str) -> None:
        """Add a verified sender's server to :attr:`known_inboxes` (from the cache only).

        Its actor document was fetched (with its key) moments ago, so it is normally in
        the fetch cache; when it is not, nothing is fetched: the server is learnt later.
        Only an inbox on the actor's own host is recorded; a host learnt once in this
        process costs nothing more.
        """
        if host in self._learnt_hosts:
            return
        try:
            cached = await self.resolver.cache.get("doc", actor)
            if cached is None:
                return
            found = Recipient.from_actor(cached.value)
            inbox = found.shared_inbox or found.inbox
            if inbox and found.id == actor and inbox_host(inbox) == host:
                await self.known_inboxes.remember(inbox, shared=inbox == found.shared_inbox)
                if len(self._learnt_hosts) >= MEMO_SIZE:
                    self._learnt_hosts.clear()
                self._learnt_hosts.add(host)
        except Exception:
            logger.warning("could not record the inbox of %s", actor, exc_info=True)

    async def _delivery_failed(self, event: DeliveryFailureEvent) -> None:
        await _call_hook(self.on_delivery_failed, event)

    async def _gone(self, event: DeliveryFailureEvent) -> None:
        await _call_hook(self.on_gone, event)

    # -- runtime ---------------------------------------------------------------------

    async def setup(self) -> None:
        """Load (or create) the instance actor's keys and sign outgoing fetches with them."""
        if self._ready:
            return
        key_id, key = await self.signing_key(INSTANCE)
        self.resolver.auth = HttpxSigner(key, key_id)
        self._ready = True

    async def aclose(self) -> None:
        """Close the HTTP client if the Federation created it (stores and queues are yours)."""
        if self._owned_client:
            await self.client.aclose()

    async def _deliver_locally(self, activity: dict[str, Any], recipients: Sequence[str]) -> None:
        """Hand an activity we send to our own actors to our inbox handlers, without HTTP.

        Queued like a verified remote activity arriving in the shared inbox (method
        ``local``), and applied once per activity id like every inbox activity.
        """
        seen = seen_key(str(activity["id"]))
        if not await self.store.cas(seen, None, True, ttl=self.idempotency_ttl):
            return
        try:
            await self.queue.enqueue(
                {
                    "kind": "inbox",
                    "inbox": None,
                    "activity": activity,
                    "signer": None,
                    "method": "local",
                    "local_recipients": list(recipients),
                },
                ordering_key=f"inbox\n{single_id(activity.get('object')) or activity['id']}",
            )
        except BaseException:
            await self.store.delete(seen)
            raise

    async def handle(self, message: Message) -> None:
        """Handle one queued message: an inbox activity or a delivery step."""
        body = message.body
        if isinstance(body, dict) and body.get("kind") == "inbox":
            await self.inbox.handle(body)
        else:
            await self.outbox.handle(message)

    @contextlib.asynccontextmanager
    async def running(
        self, *, concurrency: int = 8, **worker_options: Any
    ) -> AsyncIterator[Worker]:
        """Run a queue worker for inbox handlers and deliveries while the block runs."""
        await self.setup()
        worker = Worker(self.queue, self.handle, concurrency=concurrency, **worker_options)
        async with anyio.create_task_group() as group:
            group.start_soon(worker.run)
            try:
                yield worker
            finally:
                await worker.stop(grace=5.0)

    def asgi(self, fallback: Any = None, *, run_worker: bool = True) -> Any:
        """The ASGI app serving federation routes; anything else goes to ``fallback``.

        With ``run_worker`` (the default) its lifespan runs a queue worker; a ``fallback``
        app's own lifespan runs around it (the host app starts first and stops last, and a
        failure on either side fails the startup with its message).  With
        ``run_worker=False`` the lifespan is the fallback's alone.
        """
        from activitypub_kit.server._asgi import FederationApp

        return FederationApp(self, fallback, run_worker=run_worker)


async def _call_hook(hook: FailureCallback | None, event: DeliveryFailureEvent) -> None:
    if hook is not None:
        result = hook(event)
        if inspect.isawaitable(result):
            await result


__all__ = ["INSTANCE", "ContextDataFactory", "FailureCallback", "Federation"]

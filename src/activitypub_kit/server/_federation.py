"""The :class:`Federation` object: configuration, registrations, and the runtime parts."""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import anyio

from activitypub_kit.delivery._known import KnownInboxes, StoreKnownInboxes
from activitypub_kit.delivery._options import DeliveryOptions
from activitypub_kit.delivery._outbox import DeliveryHooks, Outbox
from activitypub_kit.delivery._transport import HttpTransport
from activitypub_kit.errors import NoContextDataError, RouteError
from activitypub_kit.http import FetchCache, HttpClient, KeyResolver, Resolver
from activitypub_kit.models import ASModel
from activitypub_kit.server._asgi import FederationApp
from activitypub_kit.server._authenticate import Authenticator
from activitypub_kit.server._collections import CollectionRoute
from activitypub_kit.server._context import Context
from activitypub_kit.server._data import D
from activitypub_kit.server._documents import Authorize
from activitypub_kit.server._fanout import FailureCallback, Fanout
from activitypub_kit.server._inbox import Inbox
from activitypub_kit.server._keys import INSTANCE, KeyCache, KeyPair, key_pairs_for, stored_keys
from activitypub_kit.server._moderation import BlockHook, Moderation
from activitypub_kit.server._objects import DEFAULT_REFRESH_AFTER, ObjectStore
from activitypub_kit.server._parsing import DEFAULT_LIMITS, DocumentLimits, origin_of
from activitypub_kit.server._registry import (
    ActorDispatcher,
    KeyPairsDispatcher,
    NodeInfoDispatcher,
    ObjectDispatcher,
    Registry,
)
from activitypub_kit.server._routes import UrlTemplate
from activitypub_kit.signatures import DoubleKnock, HttpxSigner, PrivateKey
from activitypub_kit.storage import MemoryQueue, MemoryStore, Worker
from activitypub_kit.storage._base import KeyValueStore, Message, MessageQueue
from activitypub_kit.webfinger import NodeInfoSoftware

#: ``context_data_factory``: a plain zero-argument callable making one context's data.
ContextDataFactory = Callable[[], D]

#: Shortest ``idempotency_ttl``: 12 h of signature lifetime plus an hour of clock skew.
MIN_IDEMPOTENCY_TTL = 13 * 3600.0


class _NoData:
    """The default of ``context_data``: none given (``None`` is a value like any other)."""


_NO_DATA = _NoData()


class Federation(Registry[D], Fanout[D]):
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
        return FederationApp(self, fallback, run_worker=run_worker)


__all__ = ["INSTANCE", "ContextDataFactory", "FailureCallback", "Federation"]

"""The :class:`Federation` object: configuration, registrations, and the runtime parts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio

from activitypub_kit.delivery.outbox import DeliveryHooks, Outbox
from activitypub_kit.delivery.planning import Recipient
from activitypub_kit.delivery.transport import HttpTransport
from activitypub_kit.errors import RouteError
from activitypub_kit.http import HttpClient, KeyResolver, Resolver
from activitypub_kit.models import ASModel
from activitypub_kit.server.authenticate import Authenticator
from activitypub_kit.server.collections import CollectionRoute, Page, PageDispatcher
from activitypub_kit.server.context import Context
from activitypub_kit.server.inbox import Inbox, seen_key
from activitypub_kit.server.keys import KeyPair, key_pairs_for, stored_keys
from activitypub_kit.server.parsing import DEFAULT_LIMITS, DocumentLimits, origin_of, single_id
from activitypub_kit.server.routes import UrlTemplate
from activitypub_kit.signatures import DoubleKnock, HttpxSigner, PrivateKey
from activitypub_kit.storage import MemoryQueue, MemoryStore, Worker
from activitypub_kit.storage.base import JSONValue, KeyValueStore, Message, MessageQueue
from activitypub_kit.webfinger import NodeInfo, NodeInfoSoftware

F = TypeVar("F", bound=Callable[..., Any])

ActorDispatcher = Callable[[Context, str], Awaitable[ASModel | None]]
ObjectDispatcher = Callable[..., Awaitable[ASModel | None]]
KeyPairsDispatcher = Callable[[Context, str], Awaitable[Sequence[PrivateKey]]]
NodeInfoDispatcher = Callable[[Context], Awaitable[NodeInfo]]
BlockHook = Callable[[str], bool | Awaitable[bool]]

#: Shortest ``idempotency_ttl``: 12 h of signature lifetime plus an hour of clock skew.
MIN_IDEMPOTENCY_TTL = 13 * 3600.0

#: The ``key_ref`` of the instance actor's keys.
INSTANCE = "*instance*"


class Federation:
    """One federated application: origins, stores, HTTP client, policies and routes.

    ``origin`` is our canonical origin (``https://example.com``), or several (the first is
    canonical; the others are accepted as local).  ``store`` and ``queue`` default to the
    in-memory backends (fine for tests, not for production); ``client`` is the one outbound
    :class:`~activitypub_kit.http.HttpClient`.  ``authorized_fetch`` demands a signed GET for
    every actor, object and collection except the instance actor.  ``is_blocked`` is the
    domain-block policy hook, ``async (actor_id) -> bool`` (or a plain function).
    ``allow_local_handles`` (off by default; development and loopback tests only) serves
    WebFinger for origins on ``localhost`` or an IPv4 literal (``acct:alice@127.0.0.1:8080``),
    which production refuses as handles.

    Signed requests (inbox POSTs, authorized-fetch GETs) must be addressed to one of
    ``origin``: the signed ``Host`` / ``@authority`` / ``@target-uri`` of a request to
    another server is refused, so a delivery to someone else cannot be replayed here.
    Behind a reverse proxy that rewrites ``Host``, set ``trust_forwarded_host`` to read the
    public host from the last ``X-Forwarded-Host`` value instead (only when the proxy sets
    it: a client can send one too).  ``limits`` bounds every inbox document
    (:class:`~activitypub_kit.server.parsing.DocumentLimits`); ``idempotency_ttl`` is how long
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
        inbox_path: str = "/users/{handle}/inbox",
        shared_inbox_path: str = "/inbox",
        instance_actor_path: str = "/actor",
        max_body_size: int = 1024 * 1024,
        limits: DocumentLimits = DEFAULT_LIMITS,
        idempotency_ttl: float = 7 * 86400.0,
        software: NodeInfoSoftware | None = None,
        allow_local_handles: bool = False,
        trust_forwarded_host: bool = False,
    ) -> None:
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
        self.is_blocked = is_blocked
        self.max_body_size = max_body_size
        self.limits = limits
        if idempotency_ttl < MIN_IDEMPOTENCY_TTL:
            raise RouteError(
                f"idempotency_ttl must be at least {MIN_IDEMPOTENCY_TTL:.0f}s (the longest time"
                " a signature or proof is accepted), or a replay is applied again"
            )
        self.idempotency_ttl = idempotency_ttl
        self.trust_forwarded_host = trust_forwarded_host
        self.allow_local_handles = allow_local_handles
        self.software = software or NodeInfoSoftware(name="activitypub-kit", version="0")
        self.templates: dict[str, UrlTemplate] = {
            "inbox": UrlTemplate(inbox_path),
            "shared_inbox": UrlTemplate(shared_inbox_path),
            "instance_actor": UrlTemplate(instance_actor_path),
        }
        self.actor_dispatcher: ActorDispatcher | None = None
        self.key_pairs_dispatcher: KeyPairsDispatcher | None = None
        self.nodeinfo_dispatcher: NodeInfoDispatcher | None = None
        self.objects: dict[str, tuple[type[ASModel], ObjectDispatcher]] = {}
        self.collections: dict[str, CollectionRoute] = {}
        self.inbox = Inbox(self)
        self.resolver = Resolver(self.client, local_origins=self.origins)
        self.keys = KeyResolver(self.resolver)
        self.authenticator = Authenticator(
            self.keys, origins=self.origins, ld_signature_max_age=idempotency_ttl
        )
        self.outbox = Outbox(
            queue=self.queue,
            store=self.store,
            transport=HttpTransport(self.client, self.signing_key, knock=DoubleKnock(self.store)),
            resolver=self,
            is_local=self.is_local,
            hooks=DeliveryHooks(on_local=self._deliver_locally),
        )
        self._key_cache: dict[str, list[KeyPair]] = {}
        self._ready = False

    # -- registration ----------------------------------------------------------------

    def actor(self, template: str) -> Callable[[ActorDispatcher], ActorDispatcher]:
        """Register the actor dispatcher on ``template`` (must hold ``{handle}``).

        It returns the actor model, a ``Tombstone`` (served as 410 Gone) or ``None`` (404).
        The served document gets ``inbox``, ``endpoints.sharedInbox``, the registered
        collections and the keys (``publicKey``, ``assertionMethod``) added automatically.
        """
        parsed = UrlTemplate(template)
        if parsed.names != ("handle",):
            raise RouteError(f"actor template {template!r} must hold exactly {{handle}}")

        def register(fn: ActorDispatcher) -> ActorDispatcher:
            self.templates["actor"] = parsed
            self.actor_dispatcher = fn
            return fn

        return register

    def key_pairs(self, fn: KeyPairsDispatcher) -> KeyPairsDispatcher:
        """Register ``async (ctx, handle) -> [private keys]`` (RSA and/or Ed25519).

        Without it every actor gets an RSA and an Ed25519 key generated once and kept in the
        key-value store.
        """
        self.key_pairs_dispatcher = fn
        return fn

    def object(self, kind: type[ASModel], template: str) -> Callable[[F], F]:
        """Register ``async (ctx, **params) -> model | Tombstone | None`` for ``kind``."""
        parsed = UrlTemplate(template)

        def register(fn: F) -> F:
            self.templates[f"object:{kind.__name__}"] = parsed
            self.objects[kind.__name__] = (kind, fn)
            return fn

        return register

    def collection(
        self, name: str, template: str, *, ordered: bool = True
    ) -> Callable[[PageDispatcher], CollectionRoute]:
        """Register ``async (ctx, cursor, **params) -> Page | None`` as collection ``name``.

        The decorator returns the :class:`~activitypub_kit.server.collections.CollectionRoute`,
        whose ``.counter`` and ``.recipients`` decorators add a count and a one-shot listing.
        ``outbox``, ``followers``, ``following``, ``liked`` and ``featured`` appear in the
        actor document automatically.
        """
        parsed = UrlTemplate(template)

        def register(fn: PageDispatcher) -> CollectionRoute:
            route = CollectionRoute(name, parsed, fn, ordered=ordered)
            self.templates[f"collection:{name}"] = parsed
            self.collections[name] = route
            return route

        return register

    def outbox_collection(self, template: str) -> Callable[[PageDispatcher], CollectionRoute]:
        """Shorthand for ``collection("outbox", template)``."""
        return self.collection("outbox", template)

    def followers(self, template: str) -> Callable[[PageDispatcher], CollectionRoute]:
        """Shorthand for ``collection("followers", template)``."""
        return self.collection("followers", template)

    def following(self, template: str) -> Callable[[PageDispatcher], CollectionRoute]:
        """Shorthand for ``collection("following", template)``."""
        return self.collection("following", template)

    def liked(self, template: str) -> Callable[[PageDispatcher], CollectionRoute]:
        """Shorthand for ``collection("liked", template)``."""
        return self.collection("liked", template)

    def featured(self, template: str) -> Callable[[PageDispatcher], CollectionRoute]:
        """Shorthand for ``collection("featured", template)``."""
        return self.collection("featured", template)

    def nodeinfo(self, fn: NodeInfoDispatcher) -> NodeInfoDispatcher:
        """Register ``async (ctx) -> NodeInfo`` (default: software and protocols only)."""
        self.nodeinfo_dispatcher = fn
        return fn

    # -- URIs ------------------------------------------------------------------------

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

    def context(self, **kwargs: Any) -> Context:
        """A :class:`Context` for application code (publishing, lookups)."""
        return Context(self, **kwargs)

    # -- keys ------------------------------------------------------------------------

    async def key_pairs_of(self, handle: str) -> list[KeyPair]:
        """The key pairs of a local actor (or of the instance actor, ``INSTANCE``)."""
        cached = self._key_cache.get(handle)
        if cached is not None:
            return cached
        if handle == INSTANCE:
            uri = self.uri("instance_actor")
            keys: Sequence[PrivateKey] = await stored_keys(self.store, INSTANCE)
        else:
            uri = self.uri("actor", handle=handle)
            if self.key_pairs_dispatcher is not None:
                keys = await self.key_pairs_dispatcher(self.context(), handle)
            else:
                keys = await stored_keys(self.store, f"actor:{handle}")
        pairs = key_pairs_for(uri, keys)
        if len(self._key_cache) > 1024:
            self._key_cache.pop(next(iter(self._key_cache)))
        self._key_cache[handle] = pairs
        return pairs

    async def signing_key(self, key_ref: str) -> tuple[str, PrivateKey]:
        """The key that signs deliveries for ``key_ref`` (a handle): RSA first."""
        pairs = await self.key_pairs_of(key_ref)
        if not pairs:
            raise RouteError(f"actor {key_ref!r} has no key pair")
        chosen = next((p for p in pairs if p.is_rsa), pairs[0])
        return chosen.key_id, chosen.private_key

    # -- fan-out: the outbox's RecipientResolver --------------------------------------

    async def expand(self, audience: Mapping[str, JSONValue]) -> AsyncIterator[Recipient | str]:
        """Yield the followers of ``{"followers": handle}`` (the delivery worker calls this)."""
        handle = audience.get("followers")
        route = self.collections.get("followers")
        if not isinstance(handle, str) or route is None:
            return
        ctx = self.context()
        if route.lister is not None:
            async for member in route.lister(ctx, handle=handle):
                found = await self._as_recipient(member)
                if found is not None:
                    yield found
            return
        cursor: str | None = None
        while True:
            page: Page | None = await route.dispatcher(ctx, cursor, handle=handle)
            if page is None:
                return
            for member in page.items:
                found = await self._as_recipient(member)
                if found is not None:
                    yield found
            if page.next is None:
                return
            cursor = page.next

    async def _as_recipient(self, member: Any) -> Recipient | None:
        if isinstance(member, Recipient):
            return member
        if isinstance(member, ASModel):
            member = member.to_json(context=False)
        if isinstance(member, Mapping) and isinstance(member.get("inbox"), str):
            return Recipient.from_actor(member)
        member_id = member.get("id") if isinstance(member, Mapping) else member
        if not isinstance(member_id, str):
            return None
        if self.is_local(member_id):
            return Recipient(id=member_id)  # ours: delivered in-process, no fetch, no POST
        try:
            return Recipient.from_actor(await self.resolver.fetch_actor(member_id))
        except Exception:  # one unreachable follower must not stop the fan-out
            return None

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

        Served alone (uvicorn), its lifespan runs a worker when ``run_worker`` is true.
        """
        from activitypub_kit.server.asgi import FederationApp

        return FederationApp(self, fallback, run_worker=run_worker)


__all__ = ["Federation", "INSTANCE"]

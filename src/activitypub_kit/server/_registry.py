"""Registration on a :class:`~activitypub_kit.server.Federation`: dispatchers, routes, URIs.

:class:`Registry` holds the decorators an app registers its actor, key-pairs, object,
collection and NodeInfo dispatchers with, and the route lookups built on them
(:meth:`~Registry.uri`, :meth:`~Registry.is_local`, :meth:`~Registry.handle_of`).
``Federation`` inherits it; the state it fills (``templates``, ``objects``, ``collections``,
``authorizers``, the dispatcher slots) is set up by ``Federation.__init__``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload
from urllib.parse import urlsplit

from activitypub_kit.errors import RouteError
from activitypub_kit.models import ASModel
from activitypub_kit.server._collections import CollectionRoute, PageDispatcher
from activitypub_kit.server._context import Context
from activitypub_kit.server._data import D
from activitypub_kit.server._documents import Authorize
from activitypub_kit.server._parsing import origin_of
from activitypub_kit.server._routes import UrlTemplate, check_parameters
from activitypub_kit.signatures import PrivateKey
from activitypub_kit.webfinger import NodeInfo

if TYPE_CHECKING:
    from activitypub_kit.server._keys import KeyCache

F = TypeVar("F", bound=Callable[..., Any])

ActorDispatcher = Callable[[Context[D], str], Awaitable[ASModel | None]]
ObjectDispatcher = Callable[..., Awaitable[ASModel | None]]
KeyPairsDispatcher = Callable[[Context[D], str], Awaitable[Sequence[PrivateKey]]]
NodeInfoDispatcher = Callable[[Context[D]], Awaitable[NodeInfo]]

#: Paths the Federation answers itself; no registered template may match them.
_BUILT_IN = {
    "WebFinger": UrlTemplate("/.well-known/webfinger"),
    "NodeInfo discovery": UrlTemplate("/.well-known/nodeinfo"),
    "NodeInfo": UrlTemplate("/nodeinfo/2.1"),
}


class Registry(Generic[D]):
    """The registration half of :class:`~activitypub_kit.server.Federation` (its base class).

    Every method here is a public ``Federation`` method; see each for its contract.
    """

    origin: str
    origins: list[str]
    templates: dict[str, UrlTemplate]
    actor_dispatcher: ActorDispatcher[D] | None
    key_pairs_dispatcher: KeyPairsDispatcher[D] | None
    nodeinfo_dispatcher: NodeInfoDispatcher[D] | None
    objects: dict[str, tuple[type[ASModel], ObjectDispatcher]]
    collections: dict[str, CollectionRoute]
    authorizers: dict[str, Authorize]
    _key_cache: KeyCache

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


__all__ = [
    "Registry",
    "ActorDispatcher",
    "ObjectDispatcher",
    "KeyPairsDispatcher",
    "NodeInfoDispatcher",
]

"""WebFinger server side: answer ``/.well-known/webfinger`` for our accounts.

:class:`WebFingerServer` turns a query string into a status, headers and a JRD, framework
free (:meth:`WebFingerServer.respond`), or serves it as a small ASGI app
(:meth:`WebFingerServer.asgi`).  Statuses follow RFC 7033 and Mastodon: ``400`` for a
missing or malformed ``resource``, ``404`` for an unknown account, a foreign domain or an
unsupported scheme, ``410`` for a deleted account, ``200`` with
``application/jrd+json`` otherwise; ``rel`` parameters filter the links (an empty
``"links": []`` when none is left); every answer carries ``Access-Control-Allow-Origin: *``.
A plain ``http`` request to an ``https`` origin gets ``400`` and no JRD (RFC 7033 §4.2: clients
query over https only and never fall back to http) when the scheme the client used is known:
:func:`request_scheme` tells it from an ASGI scope.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs

from activitypub_kit.errors import InvalidHandleError
from activitypub_kit.webfinger._handles import parse_handle, validate_host
from activitypub_kit.webfinger._jrd import Jrd, JrdLink

PROFILE_PAGE_REL: Final = "http://webfinger.net/rel/profile-page"
SUBSCRIBE_REL: Final = "http://ostatus.org/schema/1.0/subscribe"
JRD_CONTENT_TYPE: Final = "application/jrd+json; charset=utf-8"
CORS_HEADERS: Final = {"Access-Control-Allow-Origin": "*"}


@dataclass(frozen=True)
class WebFingerAccount:
    """What WebFinger says about one of our accounts."""

    #: The user part of the handle.
    username: str
    #: The actor's id (the ``rel="self"`` link).
    actor_url: str
    #: HTML profile page (``http://webfinger.net/rel/profile-page``).
    profile_url: str | None = None
    #: Extra aliases (the actor URL and profile page are aliases already).
    aliases: Sequence[str] = ()
    #: Remote-follow template with ``{uri}`` (``http://ostatus.org/schema/1.0/subscribe``).
    subscribe_template: str | None = None
    #: Any further links.
    links: Sequence[JrdLink] = ()
    #: The account was deleted for good: answer ``410 Gone``.
    gone: bool = False


@dataclass(frozen=True)
class WebFingerResponse:
    """A status, headers and body to send."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


AccountLookup = Callable[[str], Awaitable[WebFingerAccount | None]]


def request_scheme(scope: Mapping[str, Any], *, trust_forwarded: bool = False) -> str | None:
    """The scheme the client used for an ASGI request, ``None`` when it is not known.

    With ``trust_forwarded`` (a reverse proxy of ours sets the header, so the last value is
    its own) the last ``X-Forwarded-Proto`` value, lower-cased, when the request has one.
    Otherwise ``https`` when the connection itself was TLS (the scope's ``scheme``).  A
    plain-http connection says nothing: it may be the hop from a TLS-terminating proxy that
    does not forward the scheme, so it gives ``None`` and WebFinger answers it rather than
    lock every client of such a deployment out.  (uvicorn's ``--proxy-headers`` sets the
    scope's scheme from a trusted proxy's header: ``https`` counts, ``http`` still does not.)
    """
    if trust_forwarded:
        values = [
            value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if bytes(name).lower() == b"x-forwarded-proto"
        ]
        forwarded = ",".join(values).rsplit(",", 1)[-1].strip().lower()
        if forwarded:
            return forwarded
    scheme = str(scope.get("scheme", "")).lower()
    return "https" if scheme == "https" else None


def _error(status: int, message: str) -> WebFingerResponse:
    body = json.dumps({"error": message}).encode()
    headers = {"Content-Type": "application/json", **CORS_HEADERS}
    return WebFingerResponse(status, headers, body)


class WebFingerServer:
    """Answer WebFinger queries for the accounts of ``domains`` (the first is canonical).

    ``lookup`` receives a username and returns the account, ``None`` if unknown;
    ``lookup_url`` (optional) does the same for an actor or profile URL used as resource.
    ``allow_port`` accepts ``user@host:port`` resources and ``allow_local`` domains that are
    ``localhost`` or an IPv4 literal (``acct:alice@127.0.0.1:8080``): development only.
    """

    def __init__(
        self,
        domains: str | Sequence[str],
        lookup: AccountLookup,
        *,
        lookup_url: AccountLookup | None = None,
        allow_port: bool = False,
        allow_local: bool = False,
    ) -> None:
        names = [domains] if isinstance(domains, str) else list(domains)
        if not names:
            raise ValueError("WebFingerServer needs at least one domain")
        self.allow_port = allow_port
        self.allow_local = allow_local
        self.domains = [
            validate_host(d, allow_port=allow_port, allow_local=allow_local) for d in names
        ]
        self.lookup = lookup
        self.lookup_url = lookup_url

    def jrd(self, account: WebFingerAccount, rels: Sequence[str] = ()) -> Jrd:
        """The JRD of ``account`` (links filtered to ``rels`` when given)."""
        aliases: list[str] = []
        for alias in (account.actor_url, account.profile_url, *account.aliases):
            if alias and alias not in aliases:
                aliases.append(alias)
        links = [JrdLink(rel="self", type="application/activity+json", href=account.actor_url)]
        if account.profile_url:
            links.append(JrdLink(rel=PROFILE_PAGE_REL, type="text/html", href=account.profile_url))
        if account.subscribe_template:
            links.append(JrdLink(rel=SUBSCRIBE_REL, template=account.subscribe_template))
        links.extend(account.links)
        if rels:
            links = [link for link in links if link.rel in rels]
        subject = f"acct:{account.username}@{self.domains[0]}"
        return Jrd(subject=subject, aliases=aliases, links=links)

    async def respond(
        self,
        query_string: str | bytes,
        *,
        scheme: str | None = None,
        origin_scheme: str = "https",
    ) -> WebFingerResponse:
        """Answer a WebFinger request given its raw query string.

        ``scheme`` is the scheme the client used (``None``: unknown, not checked;
        :func:`request_scheme` reads it from an ASGI scope, behind a TLS-terminating proxy
        from its ``X-Forwarded-Proto``) and ``origin_scheme`` our public one.  A
        plain ``http`` request to an ``https`` origin is answered ``400`` before any lookup,
        never with a JRD: WebFinger is served over https only (RFC 7033 §4, §4.2), and a
        redirect would loop forever behind a proxy that does not pass the scheme on.
        """
        if scheme is not None and scheme.lower() == "http" and origin_scheme.lower() == "https":
            return _error(400, "WebFinger is served over https only: query the https URL")
        if isinstance(query_string, bytes):
            query_string = query_string.decode("latin-1")
        params = parse_qs(query_string, keep_blank_values=True)
        resources = params.get("resource", [])
        if len(resources) != 1 or not resources[0].strip():
            return _error(400, "exactly one non-empty resource parameter is required")
        resource = resources[0]
        resource_scheme, sep, _rest = resource.partition(":")
        if (
            not sep
            or not resource_scheme.isascii()
            or not resource_scheme.replace("+", "").isalnum()
        ):
            return _error(400, "resource must be a URI (acct:user@host or an http(s) URL)")
        account: WebFingerAccount | None
        if resource_scheme.lower() == "acct":
            try:
                handle = parse_handle(
                    resource, allow_port=self.allow_port, allow_local=self.allow_local
                )
            except InvalidHandleError as exc:
                return _error(400, exc.message)
            if handle.host not in self.domains:
                return _error(404, f"{handle.host} is not served here")
            account = await self.lookup(handle.user)
        elif resource_scheme.lower() in ("http", "https") and self.lookup_url is not None:
            account = await self.lookup_url(resource)
        else:
            return _error(404, f"no such resource: {resource[:100]}")
        if account is None:
            return _error(404, f"no such resource: {resource[:100]}")
        if account.gone:
            return _error(410, f"{resource[:100]} was deleted")
        jrd = self.jrd(account, params.get("rel", []))
        body = json.dumps(jrd.to_json()).encode()
        return WebFingerResponse(200, {"Content-Type": JRD_CONTENT_TYPE, **CORS_HEADERS}, body)

    def asgi(
        self, *, origin_scheme: str = "https", trust_forwarded_proto: bool = False
    ) -> Callable[..., Awaitable[None]]:
        """An ASGI app answering WebFinger at whatever path it is mounted on.

        The request's scheme is :func:`request_scheme` (``trust_forwarded_proto``: read
        the last ``X-Forwarded-Proto``, behind a proxy of yours that sets it), checked
        against ``origin_scheme`` by :meth:`respond`.
        """

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            method = scope["method"]
            if method == "OPTIONS":
                response = WebFingerResponse(
                    204,
                    {**CORS_HEADERS, "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS"},
                )
            elif method in ("GET", "HEAD"):
                response = await self.respond(
                    scope.get("query_string", b""),
                    scheme=request_scheme(scope, trust_forwarded=trust_forwarded_proto),
                    origin_scheme=origin_scheme,
                )
            else:
                response = _error(405, "method not allowed")
            headers = [(k.lower().encode(), v.encode()) for k, v in response.headers.items()]
            headers.append((b"content-length", str(len(response.body)).encode()))
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            body = b"" if method == "HEAD" else response.body
            await send({"type": "http.response.body", "body": body})

        return app


__all__ = [
    "PROFILE_PAGE_REL",
    "SUBSCRIBE_REL",
    "WebFingerAccount",
    "WebFingerResponse",
    "WebFingerServer",
    "request_scheme",
]

"""WebFinger client: resolve a handle or actor URL to a verified actor and its handle.

Every request goes through :class:`~activitypub_kit.http.HttpClient` (SSRF guard, limits,
redirect rules).  The WebFinger URL is built only from a validated host name; on ``404``
the host-meta LRDD template is tried (old servers).  Resolution then checks the round trip
in both directions: the JRD's ``rel="self"`` link must name the actor document's ``id``,
and the handle derived from the actor (FEP-2c59 ``webfinger``, else
``preferredUsername@host``) must WebFinger back to the same actor.  A JRD whose subject
names another domain (split-domain setups) gets one more lookup on that subject, no more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import httpx
from pydantic import ValidationError as PydanticValidationError

from activitypub_kit.errors import (
    HttpStatusError,
    InvalidHandleError,
    InvalidResponseError,
    NoActorLinkError,
    ResourceGoneError,
    WebFingerMismatchError,
    WrongContentTypeError,
)
from activitypub_kit.http import HttpClient, Resolver, fetch_budget
from activitypub_kit.http._activitypub import check_status, media_type, parse_json_object
from activitypub_kit.http._urls import origin, shown
from activitypub_kit.webfinger._handles import Handle, parse_handle
from activitypub_kit.webfinger._hostmeta import lrdd_template
from activitypub_kit.webfinger._jrd import Jrd

#: ``Accept`` of WebFinger requests.
JRD_ACCEPT: Final = "application/jrd+json, application/json"
_JRD_TYPES: Final = frozenset({"application/jrd+json", "application/json"})
_HOST_META_ACCEPT: Final = "application/xrd+xml, application/xml, text/xml, application/json"


@dataclass(frozen=True)
class ResolvedActor:
    """An actor whose handle and document were verified against each other."""

    #: The canonical handle (the one that WebFingers back to the actor).
    handle: Handle
    #: The actor document (raw JSON, origin-checked).
    actor: dict[str, Any]

    @property
    def id(self) -> str:
        """The actor's id."""
        return str(self.actor["id"])


def _parse_jrd(response: httpx.Response) -> Jrd:
    where = shown(response.request.url)
    kind, _params = media_type(response.headers.get("content-type", ""))
    if kind not in _JRD_TYPES:
        raise WrongContentTypeError(
            f"WebFinger answer from {where} has content type {kind!r}, not application/jrd+json"
        )
    data = parse_json_object(response)
    try:
        return Jrd.model_validate(data)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(p) for p in first["loc"])
        raise InvalidResponseError(
            f"WebFinger answer from {where} is not a JRD: {location}: {first['msg']}"
        ) from exc


class WebFingerClient:
    """Look up JRDs and resolve handles or actor URLs to verified actors.

    ``scheme`` is ``https`` as RFC 7033 requires (``http`` for loopback tests);
    ``allow_port`` accepts ``user@host:port`` handles and ``allow_local`` hosts that are
    ``localhost`` or an IPv4 literal (development and loopback tests only).
    """

    def __init__(
        self,
        client: HttpClient,
        resolver: Resolver | None = None,
        *,
        scheme: str = "https",
        allow_port: bool = False,
        allow_local: bool = False,
    ) -> None:
        self.client = client
        self.resolver = resolver if resolver is not None else Resolver(client)
        self.scheme = scheme
        self.allow_port = allow_port
        self.allow_local = allow_local

    def parse(self, handle: str | Handle) -> Handle:
        """Validate ``handle`` with this client's port rule."""
        if isinstance(handle, Handle):
            return handle
        return parse_handle(handle, allow_port=self.allow_port, allow_local=self.allow_local)

    async def lookup(self, handle: str | Handle) -> Jrd:
        """GET the JRD of ``handle`` (``acct:`` resource), with the host-meta fallback.

        Raises :class:`~activitypub_kit.errors.ResourceGoneError` for ``410``,
        :class:`~activitypub_kit.errors.HttpStatusError` for other failures.
        """
        parsed = self.parse(handle)
        resource = quote(parsed.acct, safe="")
        url = f"{self.scheme}://{parsed.host}/.well-known/webfinger?resource={resource}"
        response = await self.client.get(url, headers={"Accept": JRD_ACCEPT})
        if response.status_code == 404:
            template = await self._host_meta_template(parsed)
            if template is not None and template != url.split("?")[0] + "?resource={uri}":
                response = await self.client.get(
                    template.replace("{uri}", resource), headers={"Accept": JRD_ACCEPT}
                )
        check_status(response)
        return _parse_jrd(response)

    async def _host_meta_template(self, handle: Handle) -> str | None:
        url = f"{self.scheme}://{handle.host}/.well-known/host-meta"
        response = await self.client.get(url, headers={"Accept": _HOST_META_ACCEPT})
        if response.status_code != 200:
            return None
        return lrdd_template(response.content, shown(response.request.url))

    async def resolve(self, text: str | Handle) -> ResolvedActor:
        """Resolve a handle (any of its three forms) or an actor URL; verify the round trip."""
        with fetch_budget(self.client.settings.fetch_budget):
            known: dict[Handle, Jrd] = {}
            if isinstance(text, str) and text.lower().startswith(("http://", "https://")):
                actor = await self.resolver.fetch_actor(text)
            else:
                handle = self.parse(text)
                jrd = await self.lookup(handle)
                known[handle] = jrd
                href = jrd.activitypub_self()
                if href is None:
                    raise NoActorLinkError(f"WebFinger for {handle} has no ActivityPub self link")
                actor = await self.resolver.fetch_actor(href)
                if actor["id"] != href:
                    raise WebFingerMismatchError(
                        f"WebFinger for {handle} points to {href}, but that actor's id is"
                        f" {actor['id']}"
                    )
            canonical = await self._verified_handle(actor, known)
            return ResolvedActor(canonical, actor)

    def _candidate(self, actor: dict[str, Any]) -> Handle:
        declared = actor.get("webfinger")
        if isinstance(declared, str):
            return self.parse(declared)
        username = actor.get("preferredUsername")
        if not isinstance(username, str):
            raise WebFingerMismatchError(f"actor {actor['id']} has no preferredUsername")
        _scheme, host, port = origin(str(actor["id"]))
        default = 443 if self.scheme == "https" else 80
        netloc = host if port == default or not self.allow_port else f"{host}:{port}"
        try:
            return self.parse(f"{username}@{netloc}")
        except InvalidHandleError as exc:
            raise WebFingerMismatchError(
                f"actor {actor['id']} gives no valid handle: {exc.message}"
            ) from exc

    async def _verified_handle(self, actor: dict[str, Any], known: dict[Handle, Jrd]) -> Handle:
        candidate = self._candidate(actor)
        for _hop in range(2):
            jrd = known.get(candidate)
            if jrd is None:
                try:
                    jrd = await self.lookup(candidate)
                except (HttpStatusError, ResourceGoneError) as exc:
                    raise WebFingerMismatchError(
                        f"actor {actor['id']} claims {candidate}, which does not resolve:"
                        f" {exc.message}"
                    ) from exc
                known[candidate] = jrd
            href = jrd.activitypub_self()
            if href != actor["id"]:
                raise WebFingerMismatchError(
                    f"{candidate} points to {href}, not to the actor {actor['id']}"
                )
            subject = self._subject(jrd)
            if subject is None or subject.same_as(candidate):
                return candidate
            candidate = subject
        raise WebFingerMismatchError(
            f"WebFinger subjects for {actor['id']} keep pointing elsewhere ({candidate})"
        )

    def _subject(self, jrd: Jrd) -> Handle | None:
        if jrd.subject is None or not jrd.subject.lower().startswith("acct:"):
            return None
        try:
            return self.parse(jrd.subject)
        except InvalidHandleError as exc:
            raise WebFingerMismatchError(f"WebFinger subject is invalid: {exc.message}") from exc


__all__ = ["JRD_ACCEPT", "ResolvedActor", "WebFingerClient"]

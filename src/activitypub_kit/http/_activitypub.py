"""Fetching ActivityPub documents: the Accept header, the content-type rule, JSON parsing.

A fetched document is only accepted with the content type ActivityPub servers use:
``application/activity+json`` (any parameters), or ``application/ld+json`` whose
``profile`` parameter lists the ActivityStreams URI.  This is exactly Mastodon's rule
(its fix for CVE-2024-25623: an uploaded ``.json`` served as ``application/json`` became an
actor).  We are no more lenient: ``application/json`` and bare ``application/ld+json`` are
refused, since servers that federate with Mastodon already send a type it accepts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import httpx

from activitypub_kit.errors import (
    HttpStatusError,
    InvalidResponseError,
    ResourceGoneError,
    WrongContentTypeError,
)
from activitypub_kit.http._client import USE_CLIENT_AUTH, HttpClient, _UseDefault
from activitypub_kit.http._urls import shown

AS_PROFILE: Final = "https://www.w3.org/ns/activitystreams"
#: The ``Accept`` header of every ActivityPub fetch.
ACCEPT: Final = f'application/activity+json, application/ld+json; profile="{AS_PROFILE}"'
#: The content type we serve and send.
ACTIVITY_JSON: Final = "application/activity+json"


def media_type(content_type: str) -> tuple[str, dict[str, str]]:
    """Split a ``Content-Type`` value into its lower-case media type and parameters."""
    head, *rest = content_type.split(";")
    params: dict[str, str] = {}
    for part in rest:
        name, sep, value = part.partition("=")
        if sep:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            params[name.strip().lower()] = value
    return head.strip().lower(), params


def is_activitypub_content_type(content_type: str) -> bool:
    """Whether ``content_type`` is one an ActivityPub document may be served with."""
    kind, params = media_type(content_type)
    if kind == ACTIVITY_JSON:
        return True
    if kind == "application/ld+json":
        return AS_PROFILE in params.get("profile", "").split()
    return False


def check_status(response: httpx.Response) -> None:
    """Raise :class:`HttpStatusError` (:class:`ResourceGoneError` for 410) unless 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    where = f"{response.request.method} {shown(response.request.url)}"
    reason = response.reason_phrase
    message = f"{where} answered {status}{' ' + reason if reason else ''}"
    if status == 410:
        raise ResourceGoneError(message, status_code=status)
    raise HttpStatusError(message, status_code=status)


def parse_json_object(response: httpx.Response) -> dict[str, Any]:
    """Parse the body as a JSON object; raise :class:`InvalidResponseError` otherwise."""
    where = shown(response.request.url)
    try:
        value = json.loads(response.content)
    except (ValueError, RecursionError) as exc:
        raise InvalidResponseError(f"response from {where} is not valid JSON: {exc}"[:300]) from exc
    if not isinstance(value, dict):
        raise InvalidResponseError(f"response from {where} is JSON but not an object")
    return value


@dataclass(frozen=True)
class FetchedDocument:
    """An ActivityPub document as fetched: where we asked, where it came from, what it is."""

    #: The URL requested.
    url: str
    #: The URL of the last redirect hop: the origin that vouches for the document.
    final_url: str
    #: The parsed JSON object.
    document: dict[str, Any]


async def fetch_activitypub(
    client: HttpClient,
    url: str,
    *,
    auth: httpx.Auth | _UseDefault | None = USE_CLIENT_AUTH,
) -> FetchedDocument:
    """GET ``url`` as ActivityPub: Accept header, 2xx, content type, a JSON object.

    ``auth`` signs the request (authorized fetch); by default the client's own auth is
    used.  Origin rules on the ``id`` are the resolver's job
    (:class:`~activitypub_kit.http.Resolver`).
    """
    response = await client.get(url, headers={"Accept": ACCEPT}, auth=auth)
    check_status(response)
    content_type = response.headers.get("content-type", "")
    if not is_activitypub_content_type(content_type):
        raise WrongContentTypeError(
            f"{shown(response.request.url)} answered with content type {content_type!r},"
            f" not {ACTIVITY_JSON} or application/ld+json with the ActivityStreams profile"
        )
    document = parse_json_object(response)
    return FetchedDocument(url=url, final_url=str(response.request.url), document=document)


__all__ = [
    "ACCEPT",
    "ACTIVITY_JSON",
    "AS_PROFILE",
    "FetchedDocument",
    "check_status",
    "fetch_activitypub",
    "is_activitypub_content_type",
    "media_type",
    "parse_json_object",
]

"""URL rules of the outbound client: scheme, credentials, IP literals, origins.

Checked before any connection is opened.  A host that is a name is checked later, when it
is resolved (see :mod:`activitypub_kit.http._dns`); a host that is an IP literal never
reaches a resolver, so it is checked here.
"""

from __future__ import annotations

import httpx

from activitypub_kit._origin import Origin, origin_of
from activitypub_kit._origin import origin_text as _origin_text
from activitypub_kit.errors import SchemeRefusedError, UrlRefusedError
from activitypub_kit.http._addresses import AddressPolicy, parse_address


def looks_like_ip(host: str) -> bool:
    """Whether a transport would treat ``host`` as an address rather than a name.

    This mirrors the test aiohttp applies before it skips name resolution, so that every
    host that bypasses the resolver is checked here.
    """
    return ":" in host or host.replace(".", "").isdigit()


def parse_url(url: str | httpx.URL) -> httpx.URL:
    """Parse ``url``; raise :class:`UrlRefusedError` if it is not a URL."""
    if isinstance(url, httpx.URL):
        return url
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise UrlRefusedError(f"refused {url!r}: not a valid URL ({exc})") from exc


def shown(url: httpx.URL) -> str:
    """``url`` as text for an error message, without any credentials or fragment."""
    return str(url.copy_with(username=None, password=None, fragment=None))


def check_url(url: str | httpx.URL, *, schemes: frozenset[str], policy: AddressPolicy) -> httpx.URL:
    """Apply the URL rules and return the parsed URL (fragment removed).

    Refuses a scheme outside ``schemes``, credentials in the authority, a missing host,
    an IP literal that is not in canonical form, and an IP literal the ``policy`` refuses.
    """
    parsed = parse_url(url)
    scheme = parsed.scheme
    if scheme not in schemes:
        allowed = " or ".join(sorted(schemes))
        raise SchemeRefusedError(f"refused {str(url)[:200]!r}: scheme {scheme!r} is not {allowed}")
    if parsed.userinfo:
        raise UrlRefusedError(f"refused {shown(parsed)}: credentials in the URL are not allowed")
    host = parsed.raw_host.decode("ascii", "replace")
    if not host:
        raise UrlRefusedError(f"refused {str(url)[:200]!r}: no host")
    if looks_like_ip(host):
        try:
            address = parse_address(host)
        except ValueError as exc:
            raise UrlRefusedError(
                f"refused {shown(parsed)}: host {host!r} is not a canonical IP address"
            ) from exc
        policy.check(host, address)
    if parsed.fragment:
        parsed = parsed.copy_with(fragment=None)
    return parsed


def origin(url: str | httpx.URL) -> Origin:
    """The origin of ``url``: scheme, ASCII lower-case host, port (default ports filled in).

    The same reading as :func:`activitypub_kit._origin.origin_of`, for a URL that must
    have one.

    :raises UrlRefusedError: when ``url`` is not an http(s) URL with a host and valid port.
    """
    found = origin_of(parse_url(url))
    if found is None:
        raise UrlRefusedError(f"refused {str(url)[:200]!r}: not an http(s) URL with a host")
    return found


def same_origin(a: str | httpx.URL, b: str | httpx.URL) -> bool:
    """Whether ``a`` and ``b`` share scheme, host and port."""
    return origin(a) == origin(b)


def origin_text(url: str | httpx.URL) -> str:
    """The origin of ``url`` as ``scheme://host[:port]`` (for messages)."""
    return _origin_text(origin(url))


__all__ = [
    "check_url",
    "looks_like_ip",
    "origin",
    "origin_of",
    "origin_text",
    "parse_url",
    "same_origin",
    "shown",
]

"""The origin of a URL: the one implementation every layer uses.

An origin is ``(scheme, host, port)`` of an http(s) URL, as the HTTP client would connect:
the scheme lower-case, the host in its ASCII form (an internationalised name as its IDNA
``xn--`` spelling, upper case folded, IPv6 without brackets) and the port filled in when it
is the scheme's default.  So ``https://Bücher.example``, ``https://xn--bcher-kva.example:443/``
and ``HTTPS://XN--BCHER-KVA.EXAMPLE`` are one origin.  Anything else - another scheme, no
host, a port out of range, text that is not a URL - has no origin (``None``): two such
values are never "the same origin".

Origin checks are what FEP-fe34 (fetched documents), the inbox (activity and object ids on
the actor's origin), HTTP signatures (the signed request addressed to us) and object proofs
(the key on the document's origin) rest on, so they must all read a URL the same way.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

import httpx

#: ``(scheme, host, port)``.
Origin = tuple[str, str, int]

#: The port a scheme means when a URL gives none.
DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def origin_of(url: object) -> Origin | None:
    """The origin of an http(s) URL (text or ``httpx.URL``); ``None`` for anything else."""
    if isinstance(url, str):
        return _origin_of_text(url)
    if isinstance(url, httpx.URL):
        return _origin_of_url(url)
    return None


@lru_cache(maxsize=4096)
def _origin_of_text(url: str) -> Origin | None:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    return _origin_of_url(parsed)


def _origin_of_url(parsed: httpx.URL) -> Origin | None:
    scheme = parsed.scheme
    default = DEFAULT_PORTS.get(scheme)
    if default is None:
        return None
    host = parsed.raw_host.decode("ascii", "replace").lower()
    if not host:
        return None
    port = parsed.port or default
    if not 0 < port < 65536:
        return None
    return scheme, host, port


def origin_text(found: Origin) -> str:
    """``scheme://host[:port]`` of an origin (the port only when not the default)."""
    scheme, host, port = found
    if ":" in host:
        host = f"[{host}]"
    return (
        f"{scheme}://{host}" if port == DEFAULT_PORTS.get(scheme) else f"{scheme}://{host}:{port}"
    )


__all__ = ["DEFAULT_PORTS", "Origin", "origin_of", "origin_text"]

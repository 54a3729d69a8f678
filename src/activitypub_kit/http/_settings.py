"""The limits and rules of the outbound HTTP client, in one immutable object."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version

from activitypub_kit.http._addresses import AddressPolicy

try:
    _VERSION = version("activitypub-kit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    _VERSION = "0"

#: The ``User-Agent`` sent unless the settings name another.
DEFAULT_USER_AGENT = f"activitypub_kit/{_VERSION}"

#: Networks that :meth:`HttpSettings.for_local_testing` allows: loopback only.
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class HttpSettings:
    """Every limit of :class:`~activitypub_kit.http.HttpClient`, with safe defaults.

    The defaults follow what large fediverse servers enforce: 5 s to connect, 10 s per
    read, 30 s for the whole exchange including redirects, 1 MiB of body after
    decompression, at most 5 redirects, ``http``/``https`` only, and no private, loopback
    or otherwise special address unless ``allowed_networks`` lists it.
    """

    #: Seconds to open a connection (TCP and TLS).
    connect_timeout: float = 5.0
    #: Seconds to wait for each read from the socket.
    read_timeout: float = 10.0
    #: Seconds for the whole exchange: every redirect hop and the body.
    total_timeout: float = 30.0
    #: Largest response body accepted, in bytes, counted after decompression.
    max_body_size: int = 1024 * 1024
    #: Most redirects followed for one request (GET/HEAD only).
    max_redirects: int = 5
    #: URL schemes that may be requested.
    schemes: frozenset[str] = frozenset({"https", "http"})
    #: Special networks that may be reached anyway (empty: none).  Tests and local
    #: development set this to loopback; production leaves it empty.
    allowed_networks: tuple[str, ...] = ()
    #: Requests one chain of fetches (an inbound activity, a lookup) may make.
    fetch_budget: int = 20
    #: Sent as ``User-Agent``.
    user_agent: str = DEFAULT_USER_AGENT
    #: Connections kept open at most (all hosts together).
    max_connections: int = 100
    #: Connections per host at most (0: no per-host limit).
    max_connections_per_host: int = 0
    #: Seconds a checked DNS answer is reused by the connection pool.
    dns_cache_ttl: float = 10.0
    #: TLS: verify certificates (``True``), or use this SSL context.
    verify: bool | ssl.SSLContext = field(default=True, compare=False)

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"HttpSettings.{name} must be positive")
        if self.max_body_size <= 0 or self.max_redirects < 0 or self.fetch_budget <= 0:
            raise ValueError("HttpSettings limits must be positive")
        unknown = set(self.schemes) - {"http", "https"}
        if unknown:
            raise ValueError(f"HttpSettings.schemes may hold only http and https, not {unknown}")
        self.address_policy  # noqa: B018 - validates allowed_networks early

    @cached_property
    def address_policy(self) -> AddressPolicy:
        """The SSRF address rule these settings describe."""
        return AddressPolicy.allowing(self.allowed_networks)

    @classmethod
    def for_local_testing(cls, **changes: object) -> HttpSettings:
        """Settings that may reach loopback (``127.0.0.0/8``, ``::1``): tests and dev only."""
        changes.setdefault("allowed_networks", LOOPBACK_NETWORKS)
        return cls(**changes)  # type: ignore[arg-type]


__all__ = ["DEFAULT_USER_AGENT", "LOOPBACK_NETWORKS", "HttpSettings"]

"""The HTTP edge of delivery: sign one POST per inbox and send it through the HttpClient.

:class:`HttpTransport` implements :class:`Transport`.  For every inbox it

- picks the signature scheme for the host: draft-cavage by default (what Mastodon verifies),
  or whatever :class:`~activitypub_kit.signatures.DoubleKnock` remembers for the host; on a
  400/401 it signs once more with the other scheme and remembers the one that worked;
- sends ``Digest`` and ``Content-Digest`` made from the body's SHA-256, which the outbox
  computed once per activity (the body is never re-hashed or re-serialised per inbox);
- sends ``Content-Type: application/activity+json`` and the client's ``User-Agent``;
- goes through the one :class:`~activitypub_kit.http.HttpClient`, so the SSRF guard,
  timeouts and connection reuse per host are those of the HTTP layer;
- reports ``Retry-After`` in :attr:`DeliveryResult.retry_after` and every network failure as
  ``DeliveryResult(status=None, error=...)``: it never raises for the network.

Private keys come from a :class:`SigningKeyResolver` (your key store) and are cached here as
loaded key objects; queue messages only ever carry the key's name (``key_ref``).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import anyio

from activitypub_kit._cache import BoundedCache
from activitypub_kit.delivery._observe import logger
from activitypub_kit.delivery._planning import inbox_host
from activitypub_kit.delivery._retry import parse_retry_after
from activitypub_kit.errors import FetchError, StorageError, UrlRefusedError
from activitypub_kit.http._activitypub import ACTIVITY_JSON
from activitypub_kit.http._client import HttpClient
from activitypub_kit.signatures import _algorithms as algorithms
from activitypub_kit.signatures._algorithms import SigningKey, key_kind
from activitypub_kit.signatures._cavage import sign_cavage
from activitypub_kit.signatures._clock import http_date
from activitypub_kit.signatures._dispatch import SignatureScheme
from activitypub_kit.signatures._knock import DoubleKnock
from activitypub_kit.signatures._message import HttpRequest
from activitypub_kit.signatures._rfc9421 import sign_rfc9421
from activitypub_kit.storage._memory import MemoryStore

_SCHEMES = frozenset(s.value for s in SignatureScheme)
#: Key kind -> (``algorithm`` parameter, algorithm used) for the direct draft-cavage path.
_DIRECT_CAVAGE = {"rsa": ("rsa-sha256", "rsa-sha256"), "ed25519": ("hs2019", "ed25519")}
_COVERED = "(request-target) host date digest content-type"

#: The media type of a delivered activity.
ACTIVITY_CONTENT_TYPE = ACTIVITY_JSON


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one POST to an inbox gave: a status, or an error that prevented one."""

    status: int | None
    retry_after: float | None = None
    error: str | None = None
    #: The failure cannot heal by retrying (e.g. the inbox URL is refused by the SSRF guard).
    permanent: bool = False
    #: The signature scheme of the last request made (``None`` if none was signed).
    scheme: SignatureScheme | None = None
    #: POSTs made (2 when the other scheme was tried after a 400/401).
    requests: int = 1


class Transport(Protocol):
    """Signs and POSTs a serialised activity to one inbox (the HTTP edge of delivery)."""

    async def deliver(
        self, inbox: str, body: bytes, *, body_sha256: bytes, key_ref: str
    ) -> DeliveryResult:
        """POST ``body`` to ``inbox`` signed with the key named ``key_ref``.

        Network failures are reported as ``DeliveryResult(status=None, error=...)``, not
        raised.
        """
        ...


class SigningKeyResolver(Protocol):
    """Your key store: ``await resolve(key_ref)`` gives ``(key_id, private_key)``.

    ``key_ref`` is whatever names a signing key in your application (often the key id
    itself, ``https://example.com/users/alice#main-key``); ``key_id`` is the URL placed in
    the signature.  Raise any exception for an unknown key: the delivery is retried.
    """

    async def __call__(self, key_ref: str) -> tuple[str, SigningKey]:
        """Load the key named ``key_ref``."""
        ...


class HttpTransport:
    """The stock :class:`Transport`: signed POSTs through one :class:`HttpClient`.

    - ``client``: the shared outbound client (its settings give timeouts, limits and the
      ``User-Agent``);
    - ``keys``: a :class:`SigningKeyResolver`; loaded keys are kept ``key_cache_ttl``
      seconds (at most ``key_cache_size`` of them), so rotating a key takes effect within
      that time;
    - ``knock``: the per-host scheme memory (default: in this process only, preferring
      draft-cavage); pass ``DoubleKnock(store)`` to share it between workers;
    - ``scheme_cache_ttl``: how long a host's remembered scheme is reused in-process before
      asking the store again.
    """

    def __init__(
        self,
        client: HttpClient,
        keys: SigningKeyResolver,
        *,
        knock: DoubleKnock | None = None,
        user_agent: str | None = None,
        key_cache_ttl: float = 300.0,
        key_cache_size: int = 1024,
        scheme_cache_ttl: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.keys = keys
        self.knock = knock or DoubleKnock(MemoryStore())
        self.user_agent = user_agent
        self.key_cache_ttl = key_cache_ttl
        self.key_cache_size = key_cache_size
        self.scheme_cache_ttl = scheme_cache_ttl
        self.clock = clock
        self._keys: BoundedCache[str, tuple[str, SigningKey]] = BoundedCache(
            key_cache_size, ttl=key_cache_ttl
        )
        self._schemes: dict[str, SignatureScheme] = {}
        self._schemes_until = 0.0
        self._refreshing = anyio.Lock()
        self._digests: BoundedCache[bytes, tuple[str, str]] = BoundedCache(256)
        self._hosts: BoundedCache[str, str] = BoundedCache(65536)
        self._request_targets: BoundedCache[str, tuple[str, str]] = BoundedCache(65536)
        self._date: tuple[int, str] = (0, "")

    # -- keys, schemes, digests (cached) ---------------------------------------------

    async def signing_key(self, key_ref: str) -> tuple[str, SigningKey]:
        """``(key_id, key)`` for ``key_ref``, from the cache or the resolver."""
        cached = self._keys.get(key_ref)
        if cached is not None:
            return cached
        key_id, key = await self.keys(key_ref)
        self._keys.set(key_ref, (key_id, key), ttl=self.key_cache_ttl)
        return key_id, key

    def forget_key(self, key_ref: str) -> None:
        """Drop a cached key (after a rotation), so the next delivery loads it again."""
        self._keys.pop(key_ref)

    async def _scheme(self, host: str) -> SignatureScheme:
        """The scheme for ``host``: what the knock store remembers, else its preference.

        The remembered schemes are read as one listing, refreshed every
        ``scheme_cache_ttl`` seconds, rather than one store read per host.
        """
        if time.monotonic() >= self._schemes_until:
            async with self._refreshing:  # one listing at a time, not one per waiting POST
                if time.monotonic() >= self._schemes_until:
                    await self._refresh_schemes()
        return self._schemes.get(host.lower(), self.knock.prefer)

    async def _refresh_schemes(self) -> None:
        remembered: dict[str, SignatureScheme] = {}
        try:
            async for key, value in self.knock.store.list(self.knock.prefix):
                if isinstance(value, str) and value in _SCHEMES:
                    remembered[key[-1]] = SignatureScheme(value)
        except StorageError as exc:  # keep signing with what we knew; look again soon
            logger.warning("could not read remembered signature schemes: %s", exc)
            self._schemes_until = time.monotonic() + min(5.0, self.scheme_cache_ttl)
            return
        self._schemes = remembered
        self._schemes_until = time.monotonic() + self.scheme_cache_ttl

    def _digest_headers(self, body_sha256: bytes) -> tuple[str, str]:
        cached = self._digests.get(body_sha256)
        if cached is None:
            encoded = base64.b64encode(body_sha256).decode("ascii")
            cached = (f"SHA-256={encoded}", f"sha-256=:{encoded}:")
            self._digests.set(body_sha256, cached)
        return cached

    def _http_date(self, now: float) -> str:
        second = int(now)
        if self._date[0] != second:
            self._date = (second, http_date(second))
        return self._date[1]

    # -- signing and sending ---------------------------------------------------------

    def signed_headers(
        self,
        inbox: str,
        body: bytes,
        body_sha256: bytes,
        key_id: str,
        key: SigningKey,
        scheme: SignatureScheme,
    ) -> list[tuple[str, str]]:
        """The headers of one signed POST of ``body`` to ``inbox`` (pure; no I/O).

        Draft-cavage with an RSA or Ed25519 key takes a direct path: the signing string of
        this one fixed shape (``(request-target) host date digest content-type``, what
        :func:`~activitypub_kit.signatures.sign_cavage` covers for a POST) is written out
        and signed, which skips building and copying request objects per inbox; the tests
        check it gives byte-for-byte what ``sign_cavage`` gives.  Anything else goes
        through the general signers.
        """
        now = self.clock()
        digest, content_digest = self._digest_headers(body_sha256)
        date = self._http_date(now)
        headers = [
            ("Content-Type", ACTIVITY_CONTENT_TYPE),
            ("Date", date),
            ("Digest", digest),
            ("Content-Digest", content_digest),
        ]
        algorithm = _DIRECT_CAVAGE.get(key_kind(key)) if scheme is SignatureScheme.CAVAGE else None
        if algorithm is not None and '"' not in key_id and "\n" not in key_id:
            target, authority = self._request_target(inbox)
            text = (
                f"(request-target): post {target}\nhost: {authority}\ndate: {date}"
                f"\ndigest: {digest}\ncontent-type: {ACTIVITY_CONTENT_TYPE}"
            )
            raw = algorithms.sign(algorithm[1], key, text.encode())
            headers.append((
                "Signature",
                f'keyId="{key_id}",algorithm="{algorithm[0]}",headers="{_COVERED}",'
                f'signature="{base64.b64encode(raw).decode("ascii")}"',
            ))  # fmt: skip
        else:
            request = HttpRequest("POST", inbox, headers, body)
            if scheme is SignatureScheme.CAVAGE:
                signed = sign_cavage(request, key, key_id, now=now)
            else:
                signed = sign_rfc9421(request, key, key_id, now=now)  # type: ignore[assignment]
            headers = [(k, v) for k, v in signed.headers.items() if k.lower() != "host"]
        if self.user_agent is not None:
            headers.append(("User-Agent", self.user_agent))
        return headers

    def _request_target(self, inbox: str) -> tuple[str, str]:
        """``(request-target, authority)`` of an inbox URL, as the signature code derives them."""
        cached = self._request_targets.get(inbox)
        if cached is None:
            request = HttpRequest("POST", inbox)
            cached = (request.target, request.authority)
            self._request_targets.set(inbox, cached)
        return cached

    async def _post(
        self, inbox: str, body: bytes, headers: list[tuple[str, str]]
    ) -> tuple[int, float | None]:
        response = await self.client.post(inbox, body, headers=headers, auth=None)
        retry_after = None
        if response.status_code in (429, 503):
            retry_after = parse_retry_after(response.headers.get("retry-after"))
        return response.status_code, retry_after

    async def deliver(
        self, inbox: str, body: bytes, *, body_sha256: bytes, key_ref: str
    ) -> DeliveryResult:
        """Sign and POST ``body`` to ``inbox``; see the module docstring."""
        host = self._hosts.get(inbox)
        if host is None:
            host = inbox_host(inbox) or inbox
            self._hosts.set(inbox, host)
        scheme = await self._scheme(host)
        key_id, key = await self.signing_key(key_ref)
        requests = 0
        try:
            headers = self.signed_headers(inbox, body, body_sha256, key_id, key, scheme)
            requests += 1
            status, retry_after = await self._post(inbox, body, headers)
            if self.knock.should_fall_back(status):
                scheme = scheme.other
                headers = self.signed_headers(inbox, body, body_sha256, key_id, key, scheme)
                requests += 1
                status, retry_after = await self._post(inbox, body, headers)
                await self._learn(host, scheme, status)
        except UrlRefusedError as exc:
            return DeliveryResult(None, error=str(exc), permanent=True, requests=requests)
        except FetchError as exc:
            return DeliveryResult(None, error=str(exc), scheme=scheme, requests=requests)
        return DeliveryResult(status, retry_after, scheme=scheme, requests=requests)

    async def _learn(self, host: str, scheme: SignatureScheme, status: int) -> None:
        """After a fallback: remember the scheme that worked, forget one that did not."""
        try:
            await self._remember(host, scheme, status)
        except StorageError as exc:  # the POST's outcome stands; only the memory is lost
            logger.warning("could not remember the signature scheme of %s: %s", host, exc)

    async def _remember(self, host: str, scheme: SignatureScheme, status: int) -> None:
        if 200 <= status < 300:
            await self.knock.remember(host, scheme)
            self._schemes[host.lower()] = scheme
        elif self.knock.should_fall_back(status):
            await self.knock.forget(host)
            self._schemes.pop(host.lower(), None)


__all__ = [
    "ACTIVITY_CONTENT_TYPE",
    "DeliveryResult",
    "Transport",
    "SigningKeyResolver",
    "HttpTransport",
]

"""A signing transport for the outbox: draft-cavage signed POSTs through the HttpClient.

The delivery part's :class:`~activitypub_kit.delivery.outbox.Transport` protocol asks for
``deliver(inbox, body, body_sha256=..., key_ref=...)``; this one resolves ``key_ref`` to a key
with a *signing key resolver* ``async (key_ref) -> (key_id, private_key)`` (the Federation
provides one from its key-pair dispatcher), signs with
:class:`~activitypub_kit.signatures.HttpxSigner` and posts through the guarded
:class:`~activitypub_kit.http.HttpClient`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from activitypub_kit.delivery.outbox import DeliveryResult
from activitypub_kit.errors import FetchError
from activitypub_kit.http import ACTIVITY_JSON, HttpClient
from activitypub_kit.signatures import HttpxSigner, PrivateKey, SignatureScheme

SigningKeyResolver = Callable[[str], Awaitable[tuple[str, PrivateKey]]]


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class SignedTransport:
    """POST activities signed with the sender's key (see the module docstring)."""

    def __init__(
        self,
        client: HttpClient,
        keys: SigningKeyResolver,
        *,
        scheme: SignatureScheme = SignatureScheme.CAVAGE,
    ) -> None:
        self.client = client
        self.keys = keys
        self.scheme = scheme

    async def deliver(
        self, inbox: str, body: bytes, *, body_sha256: bytes, key_ref: str
    ) -> DeliveryResult:
        """Sign and POST ``body`` to ``inbox``; network failures become a result."""
        key_id, key = await self.keys(key_ref)
        signer = HttpxSigner(key, key_id, scheme=self.scheme)
        try:
            response = await self.client.post(
                inbox, body, headers={"Content-Type": ACTIVITY_JSON}, auth=signer
            )
        except FetchError as error:
            return DeliveryResult(status=None, error=str(error))
        return DeliveryResult(
            status=response.status_code,
            retry_after=_retry_after(response.headers.get("retry-after")),
        )


__all__ = ["SignedTransport", "SigningKeyResolver"]

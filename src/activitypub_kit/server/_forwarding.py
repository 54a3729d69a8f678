"""Inbox forwarding: pass a remote activity on exactly as its author signed it.

A reply to one of our posts reaches our server, but the followers of our author (who see
the post) are not among the reply's recipients: the replying server does not know them.
So we pass the reply on to them ("inbox forwarding", ActivityPub §7.1.2, done by
Mastodon).  The receivers must be able to trust the copy without trusting us, so the body
goes out **byte for byte as we received it**, with its LD signature (or FEP-8b32 proof) by
the author intact; our HTTP signature only says which server delivered it.  A receiver —
our own inbox included (see ``docs/security.md``, "The inbox trust model") — sees an HTTP
signer that is not the actor and authenticates the activity by that LD signature or proof.

:func:`should_forward` decides (Mastodon's rules); :meth:`Context.forward
<activitypub_kit.server.Context.forward>` (this module's :func:`forward`) queues it:

- the body is ``ctx.raw_activity``, which only an inbox handler of an activity carrying an
  LD signature or a proof holds (see :mod:`activitypub_kit.server._inbox`);
- the audience is resolved and planned when ``forward`` is called (followers listings are
  read then, in the handler's worker, not later at fan-out): that is what lets it leave out
  every inbox on the activity's origin host (never back to where it came from), our own
  actors (the activity was handled here already) and every inbox this activity was already
  forwarded to, remembered per activity for the Federation's idempotency TTL — so
  forwarding it again (a retried handler, or a second local author with some of the same
  followers) delivers nothing twice, and a second audience still gets it;
- the rest goes through the :class:`~activitypub_kit.delivery.Outbox` like any delivery
  (durable, retried, ordered with other activities about the same object, moderation
  applied), under a delivery id of its own, ``forward:<digest>:<activity id>``, which is
  also what delivery hooks report.

Crash safety: the inboxes are remembered only once the delivery is queued; a handler that
dies in between is retried, plans the same inboxes, and its fan-out is de-duplicated by
the queue (same delivery id).  Two concurrent forwards of one activity may both reach an
inbox; receivers de-duplicate by activity id.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from activitypub_kit.delivery._messages import MAX_RECIPIENTS_PER_TARGET, inbox_digest
from activitypub_kit.delivery._planning import InboxTarget, Recipient, Unresolved, plan_delivery
from activitypub_kit.errors import ActivityPubError, ForwardingError
from activitypub_kit.http._urls import origin
from activitypub_kit.models import ASModel
from activitypub_kit.models._helpers import PUBLIC_IRIS, as_list, id_of, type_names
from activitypub_kit.storage._base import JSONValue, Key

if TYPE_CHECKING:
    from activitypub_kit.server._context import Audience, Context

logger = logging.getLogger("activitypub_kit.server._forwarding")

#: Activity types :func:`should_forward` passes on (as Mastodon: replies and their deletion).
FORWARDED_TYPES = frozenset({"Create", "Delete"})
#: How many times marking inboxes as forwarded-to is retried against concurrent writers.
_MARK_ATTEMPTS = 16


@dataclass(frozen=True, slots=True)
class Forwarded:
    """What one :meth:`Context.forward <activitypub_kit.server.Context.forward>` did."""

    #: The id of the forwarded activity.
    activity: str
    #: The outbox delivery id queued now, ``None`` when no inbox was left to reach.
    delivery: str | None
    #: Inboxes the activity was queued for now.
    inboxes: tuple[str, ...]
    #: Inboxes left out: this activity was forwarded to them before.
    already: tuple[str, ...]
    #: Inboxes left out: on the activity's origin host.
    origin: tuple[str, ...]


def forwarded_key(activity_id: str) -> Key:
    """Where the inboxes an activity was forwarded to are remembered (digests)."""
    return ("server", "forwarded", activity_id)


def _received(ctx: Context[Any]) -> tuple[bytes, dict[str, Any]]:
    raw = ctx.raw_activity
    if raw is None:
        where = "an inbox handler" if ctx.method is not None else "this context"
        raise ForwardingError(
            f"{where} holds no received bytes to forward (only inbox handlers of activities"
            " with an LD signature or a proof do)"
        )
    document = json.loads(raw)
    assert isinstance(document, dict)  # the inbox checked it
    return raw, document


def _host_port(uri: str | None) -> tuple[str, int] | None:
    if not uri:
        return None
    try:
        found = origin(uri)
    except ActivityPubError:
        return None
    return found[1], found[2]


async def forward(
    ctx: Context[Any],
    activity: ASModel | Mapping[str, Any] | str,
    *,
    to: Audience | Sequence[Audience],
    sender: str,
) -> Forwarded:
    """Queue the received bytes of ``activity`` for ``to``, signed by ``sender`` (a handle).

    See the module docstring; this is :meth:`Context.forward
    <activitypub_kit.server.Context.forward>`.
    """
    raw, document = _received(ctx)
    wanted = activity if isinstance(activity, str) else id_of(activity)
    activity_id = document.get("id")
    if not isinstance(activity_id, str) or wanted != activity_id:
        raise ForwardingError(
            f"{wanted!r} is not the activity this handler received ({activity_id!r}):"
            " only that one can be forwarded"
        )
    if "bto" in document or "bcc" in document:
        raise ForwardingError(f"{activity_id} names blind recipients: it is not forwarded")
    actor = id_of(document.get("actor"))
    home = _host_port(actor)
    fed = ctx.federation
    entries = [to] if isinstance(to, Recipient | str | ASModel | Mapping) else list(to)
    recipients: list[Recipient | str] = []
    for entry in await ctx._recipients(entries):
        if isinstance(entry, Recipient):
            recipients.append(entry)
            continue
        resolver = fed.outbox.resolver
        if resolver is None:
            raise ForwardingError(f"no RecipientResolver to expand audience {dict(entry)}")
        recipients.extend(
            [m async for m in resolver.expand(entry) if not isinstance(m, Unresolved)]
        )
    plan = plan_delivery(recipients, sender=actor, is_local=fed.is_local)
    at_origin = [t for t in plan.targets if _host_port(t.inbox) == home]
    candidates = [t for t in plan.targets if _host_port(t.inbox) != home]
    key = forwarded_key(activity_id)
    done = await fed.store.get(key)
    done_digests = set(done) if isinstance(done, list) else set()
    fresh = [t for t in candidates if inbox_digest(t.inbox) not in done_digests]
    already = tuple(t.inbox for t in candidates if inbox_digest(t.inbox) in done_digests)
    origin_inboxes = tuple(t.inbox for t in at_origin)
    if not fresh:
        return Forwarded(activity_id, None, (), already, origin_inboxes)
    digests = sorted(inbox_digest(t.inbox) for t in fresh)
    tag = hashlib.sha256("\n".join([sender, *digests]).encode()).hexdigest()[:24]
    delivery = f"forward:{tag}:{activity_id}"
    await fed.outbox.send(
        {"id": delivery, "object": id_of(document.get("object")) or activity_id},
        key_ref=sender,
        to=[r for t in fresh for r in _as_recipients(t)],
        sender=actor,
        body=raw.decode("utf-8"),
    )
    await _remember(ctx, key, digests)
    logger.info("activity forwarded", extra={"activity": activity_id, "inboxes": len(fresh)})
    return Forwarded(activity_id, delivery, tuple(t.inbox for t in fresh), already, origin_inboxes)


def _as_recipients(target: InboxTarget) -> list[Recipient]:
    """The recipients that plan back into ``target`` at fan-out (ids capped, as in messages)."""
    shared = target.inbox if target.shared else None
    return [
        Recipient(id=rid, inbox=target.inbox, shared_inbox=shared)
        for rid in target.recipients[:MAX_RECIPIENTS_PER_TARGET]
    ]


async def _remember(ctx: Context[Any], key: Key, digests: list[str]) -> None:
    fed = ctx.federation
    for _ in range(_MARK_ATTEMPTS):
        current = await fed.store.get(key)
        known = list(current) if isinstance(current, list) else []
        merged: list[JSONValue] = [*sorted({*map(str, known), *digests})]
        if await fed.store.cas(key, current, merged, ttl=fed.idempotency_ttl):
            return
    logger.warning("could not remember forwarded inboxes", extra={"key": list(key)})


async def should_forward(
    ctx: Context[Any], activity: ASModel, *, in_reply_to: str | None = None
) -> str | None:
    """The local handle whose followers should get ``activity`` forwarded, else ``None``.

    The rules, Mastodon's (``forward_for_reply`` of its ``Create`` and ``Delete``
    handlers), in our words:

    - the activity is a ``Create`` (or a ``Delete``) that this inbox handler received with
      its bytes, and those carry an LD ``signature`` or a ``proof``: something the
      followers' servers can check without trusting us (Mastodon requires the LD
      signature; a proof is checked by the receivers' clocks, within about an hour);
    - for a ``Create``: its object is public or unlisted (the public collection is in the
      object's ``to`` or ``cc``; followers-only and direct replies are never passed on);
    - the object is a reply (``inReplyTo``) to an object on our origin whose author
      (``attributedTo``, looked up through our own dispatchers, no HTTP) is one of our
      actors — that author's handle is the answer.  A ``Delete`` names only the deleted
      reply's id: pass ``in_reply_to`` from your stored copy of it (only for a reply you
      forwarded) to forward its deletion the same way.

    Then forward it to that author's followers, signed by the author, as Mastodon does:
    ``await ctx.forward(activity, to=ctx.followers_of(handle), sender=handle)``, which
    leaves out the origin host of the activity (Mastodon: the sender's own inbox).  The
    inbox already applies an activity once, so "the first time the server has seen it"
    (ActivityPub) holds.  ActivityPub §7.1.2 also asks that the activity be addressed to a
    collection of ours; Mastodon does not, and neither do we (a public reply is meant for
    anyone reading the thread).
    """
    if ctx.raw_activity is None:
        return None
    kinds = set(type_names(activity))
    if not kinds & FORWARDED_TYPES:
        return None
    _, document = _received(ctx)
    if document.get("id") != id_of(activity):
        return None
    if not isinstance(document.get("signature"), dict) and "proof" not in document:
        return None
    if "Create" in kinds:
        obj = getattr(activity, "object", None)
        if not isinstance(obj, ASModel):
            return None
        fields = obj.to_json(context=False)
        audience = {id_of(v) for name in ("to", "cc") for v in as_list(fields.get(name))}
        if not audience & PUBLIC_IRIS:
            return None
        in_reply_to = id_of(fields.get("inReplyTo"))
    if not in_reply_to or not ctx.is_local(in_reply_to):
        return None
    try:
        replied = await ctx.lookup(in_reply_to)
    except ActivityPubError:
        return None
    for author in as_list(replied.to_json(context=False).get("attributedTo")):
        handle = ctx.parse_actor_uri(id_of(author) or "")
        if handle is not None:
            return handle
    return None


__all__ = ["FORWARDED_TYPES", "Forwarded", "forward", "forwarded_key", "should_forward"]

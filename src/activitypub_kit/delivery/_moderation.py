"""The block policy applied to a planned delivery: which targets, and which recipients, stay.

Planning is pure; moderation asks the application's predicates, which may be ``async``
(a database of blocked domains and actors).  A target whose host is blocked is dropped
whole; otherwise recipients that are blocked are removed from it, and a target left
without recipients is dropped.  No request is made for what is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from activitypub_kit.delivery._planning import InboxTarget, Predicate, SkipReason, ask, inbox_host


@dataclass(frozen=True, slots=True)
class Moderated:
    """What the block policy leaves of a plan, and what it refused (per inbox)."""

    targets: list[InboxTarget]
    #: ``(target, refused recipient ids)``: the whole target when its host is blocked.
    refused: list[tuple[InboxTarget, tuple[str, ...]]]


async def moderate(
    targets: Sequence[InboxTarget],
    *,
    host_blocked: Predicate | None,
    actor_blocked: Predicate | None,
) -> Moderated:
    """Ask ``host_blocked(host[:port])`` of each target, ``actor_blocked(id)`` of each recipient.

    Each distinct host is asked once.
    """
    if host_blocked is None and actor_blocked is None:
        return Moderated(list(targets), [])
    hosts: dict[str, bool] = {}
    kept: list[InboxTarget] = []
    refused: list[tuple[InboxTarget, tuple[str, ...]]] = []
    for target in targets:
        blocked = hosts.get(target.host)
        if blocked is None:
            blocked = host_blocked is not None and await ask(host_blocked, target.host)
            hosts[target.host] = blocked
        if blocked:
            refused.append((target, target.recipients))
            continue
        if actor_blocked is None:
            kept.append(target)
            continue
        out = tuple([r for r in target.recipients if await ask(actor_blocked, r)])
        if not out:
            kept.append(target)
            continue
        refused.append((target, out))
        dropped = set(out)
        remaining = tuple(r for r in target.recipients if r not in dropped)
        if remaining:
            kept.append(replace(target, recipients=remaining))
    return Moderated(kept, refused)


async def blocked_skips(
    skipped: Sequence[tuple[str, SkipReason]],
    *,
    host_blocked: Predicate | None,
    actor_blocked: Predicate | None,
) -> list[tuple[str, SkipReason]]:
    """Mark as ``BLOCKED`` the recipients without a usable inbox that the policy refuses.

    (A recipient the application could not look up because its host is blocked has no
    inbox; it is reported as blocked, not as an invalid inbox.)
    """
    if host_blocked is None and actor_blocked is None:
        return list(skipped)
    out: list[tuple[str, SkipReason]] = []
    for rid, why in skipped:
        if why in (SkipReason.NO_INBOX, SkipReason.BAD_URL):
            host = inbox_host(rid)
            if (
                host is not None and host_blocked is not None and await ask(host_blocked, host)
            ) or (actor_blocked is not None and await ask(actor_blocked, rid)):
                why = SkipReason.BLOCKED
        out.append((rid, why))
    return out


__all__ = ["Moderated", "blocked_skips", "moderate"]

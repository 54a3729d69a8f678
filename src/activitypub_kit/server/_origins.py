"""Step 5 of the inbox pipeline: origin rules (FEP-fe34), after the actor is authenticated.

The authenticated actor vouches only for ids on its own origin:

* the activity's ``id`` must be on the actor's origin (else 403);
* ``Create`` / ``Update``: the object must be on the actor's origin and, when it says who it
  is attributed to, attributed to the actor (an actor updating itself is the actor);
* ``Delete``: the object must be on the actor's origin; unless the actor deletes itself, the
  object is fetched again from its origin and the ``Delete`` is dropped (202, no effect) when
  the object is still there — which is what a forged ``Delete`` of a same-origin neighbour's
  object looks like;
* ``Undo``: the undone activity must be on the actor's origin and, if embedded, the actor's;
* everywhere: an embedded object whose ``id`` is on another origin is replaced by its id,
  for the handler to look up from its own origin.

Types are compared through :func:`~activitypub_kit.models.type_names`, so ``as:Create`` and
the full ActivityStreams IRI meet the same rules as ``Create``.
"""

from __future__ import annotations

from typing import Any

from activitypub_kit.errors import FetchError, ForbiddenActivityError, HttpStatusError
from activitypub_kit.http import Resolver
from activitypub_kit.models._helpers import as_list, single_id, type_names
from activitypub_kit.server._parsing import origin_of


class Dropped(Exception):  # noqa: N818 - a decision, not an error
    """The activity is answered 202 but has no effect; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def apply_origin_rules(
    document: dict[str, Any], actor: str, resolver: Resolver
) -> dict[str, Any]:
    """Check ``document`` against the rules above; return the document to hand on.

    :raises ForbiddenActivityError: when a rule is broken.
    :raises Dropped: when the activity is to be accepted without effect.
    """
    home = origin_of(actor)
    if origin_of(document["id"]) != home:
        raise ForbiddenActivityError(f"activity {document['id']} is not on the actor's origin")
    kinds = set(type_names(document))
    obj = document.get("object")
    object_id = single_id(obj)
    if kinds & {"Create", "Update", "Delete", "Undo"}:
        if object_id is None:
            raise ForbiddenActivityError("the activity's object must be one object with an id")
        if origin_of(object_id) != home:
            raise ForbiddenActivityError(f"object {object_id} is not on the actor's origin")
    if kinds & {"Create", "Update"} and isinstance(obj, dict) and object_id != actor:
        owners = _owners(obj.get("attributedTo")) or _owners(obj.get("actor"))
        if owners and actor not in owners:
            raise ForbiddenActivityError(
                f"object {object_id} is attributed to {owners[0]}, not to the actor"
            )
    undone_actor = obj.get("actor") if isinstance(obj, dict) else None
    if "Undo" in kinds and undone_actor is not None and single_id(undone_actor) != actor:
        raise ForbiddenActivityError("an actor can only undo its own activities")
    if "Delete" in kinds and object_id is not None and object_id != actor:
        await _check_deleted(object_id, resolver)
    return strip_foreign(document, home)


def _owners(value: Any) -> list[str]:
    """The ids :func:`single_id` reads in each entry of ``value`` (one entry or a list).

    A nested list is not an entry with an id (as before the rules read ids this way).
    """
    return [
        found
        for item in as_list(value)
        if not isinstance(item, list) and (found := single_id(item)) is not None
    ]


def strip_foreign(document: dict[str, Any], home: Any) -> dict[str, Any]:
    """Replace every embedded object whose ``id`` is not on ``home`` by that ``id``.

    The same rule as :func:`~activitypub_kit.http.strip_foreign_embeds`, with a cached
    origin parser (this runs on every inbox request).  ``@context`` is left alone.
    """

    def walk(value: Any, top: bool) -> Any:
        if isinstance(value, list):
            return [walk(item, False) for item in value]
        if not isinstance(value, dict):
            return value
        inner = value.get("id")
        if not top and isinstance(inner, str) and origin_of(inner) != home:
            return inner
        return {k: (v if k == "@context" else walk(v, False)) for k, v in value.items()}

    result: dict[str, Any] = walk(document, True)
    return result


async def _check_deleted(object_id: str, resolver: Resolver) -> None:
    try:
        current = await resolver.fetch(object_id, refresh=True)
    except HttpStatusError as error:
        if error.status_code in (404, 410):
            return
        raise Dropped(f"cannot confirm the deletion of {object_id}: {error}") from None
    except FetchError as error:
        raise Dropped(f"cannot confirm the deletion of {object_id}: {error}") from None
    if "Tombstone" not in type_names(current):
        raise Dropped(f"object {object_id} still exists at its origin")


__all__ = ["Dropped", "apply_origin_rules"]

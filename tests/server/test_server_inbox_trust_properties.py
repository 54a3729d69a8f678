"""Property: the activity a handler receives is the activity that was authenticated.

Hypothesis builds activities signed by eve with embedded ``@context`` objects (harmless
ones as Lemmy and Mastodon send, and hostile ones that alias ``@id`` or redefine terms),
JSON-LD keywords as properties, type names in all three ActivityStreams spellings, at any
depth.  Whatever the inbox accepts, the handler must see eve as the actor and the ids that
were checked; and a JSON-LD processor reading the same accepted bytes must agree on the
actor, the activity id and the object id.  Runs the pipeline in-process (``receive`` then
``handle``, as the worker does) against eve's real key server on loopback.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hostile import inbox_in_a_portal
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from activitypub_kit.models import Activity, id_of
from activitypub_kit.models._jsonld import normalise
from activitypub_kit.signatures import HttpRequest, sign_cavage

AS = "https://www.w3.org/ns/activitystreams"
AS_NS = AS + "#"
VICTIM = "https://victim.test/users/vic"


@pytest.fixture(scope="module")
def harness():
    with inbox_in_a_portal() as (portal, eve, fed):
        seen: list[Activity] = []

        @fed.inbox.on(Activity)
        async def record(ctx, activity):
            seen.append(activity)

        yield portal, eve, fed, seen


HARMLESS = [
    AS,
    [AS, "https://w3id.org/security/v1"],
    [AS, {"toot": "http://joinmastodon.org/ns#", "Emoji": "toot:Emoji"}],
    {"Hashtag": "as:Hashtag", "sensitive": "as:sensitive"},
    {"@language": "en"},
]
HOSTILE = [
    {"xid": "@id"},
    {"xid": "@id", "id": "as:url"},
    {"kind": "@type"},
    {"actor": "as:summary"},
    {"id": {"@id": "as:url"}},
    {"@vocab": "https://evil.test/#"},
    {"by": {"@id": "as:attributedTo", "@context": {"id": "as:url"}}},
]


def spelled(name: str) -> st.SearchStrategy[Any]:
    return st.sampled_from([name, "as:" + name, AS_NS + name, [name], ["as:" + name]])


@st.composite
def embedded(draw: st.DrawFn, base_id: str, kind: str) -> dict[str, Any]:
    """An object ``{"id": base_id}`` with, maybe, a context and identity-bending keys."""
    obj: dict[str, Any] = {"id": base_id, "type": draw(spelled(kind))}
    if draw(st.booleans()):
        obj["@context"] = draw(st.sampled_from(HARMLESS + HOSTILE))
    for key in draw(st.lists(st.sampled_from(["xid", "kind", "by", "@id", "@type"]), max_size=2)):
        obj[key] = draw(st.sampled_from([VICTIM, VICTIM + "/notes/1", "Tombstone"]))
    if draw(st.booleans()):
        obj["tag"] = [draw(embedded_leaf())]
    return obj


@st.composite
def embedded_leaf(draw: st.DrawFn) -> dict[str, Any]:
    leaf: dict[str, Any] = {"type": "Mention", "href": VICTIM}
    if draw(st.booleans()):
        leaf["@context"] = draw(st.sampled_from(HARMLESS + HOSTILE))
        leaf["xid"] = VICTIM
    return leaf


@st.composite
def activities(draw: st.DrawFn, eve_id: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["Like", "Create", "Update", "Announce", "Follow", "Undo"]))
    n = draw(st.integers(0, 10**9))
    actor: Any = eve_id
    if draw(st.booleans()):
        actor = draw(embedded(eve_id, "Person"))
    inner_kind = {"Undo": "Follow", "Announce": "Note"}.get(kind, "Note")
    obj: Any = f"{eve_id}/notes/{n}"
    if draw(st.booleans()):
        obj = draw(embedded(f"{eve_id}/notes/{n}", inner_kind))
        if inner_kind == "Follow":
            obj["actor"] = eve_id
    document: dict[str, Any] = {
        "@context": draw(st.sampled_from([*HARMLESS[:3], *HOSTILE[:2]])),
        "id": f"{eve_id}/activities/{n}",
        "type": draw(spelled(kind)),
        "actor": actor,
        "object": obj,
    }
    return document


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_the_handler_sees_what_was_authenticated(harness, data):
    portal, eve, fed, seen = harness
    document = data.draw(activities(eve.id))
    body = json.dumps(document).encode()
    request = HttpRequest(
        "POST", "http://a.test:1/inbox", [("Content-Type", "application/activity+json")], body
    )
    request = sign_cavage(request, eve.rsa, eve.key_id, now=time.time())
    answer = portal.call(fed.inbox.receive, request, None)
    event(f"status {answer.status}")
    assert answer.status in (202, 400, 403), answer
    if answer.body.get("status") != "accepted":
        return
    [message] = portal.call(lambda: fed.queue.receive(lease=30))
    seen.clear()
    portal.call(fed.inbox.handle, message.body)
    portal.call(fed.queue.ack, message)
    [handled] = seen
    # The handler's reading: eve, and the ids the pipeline checked.
    assert id_of(handled.actor) == eve.id
    assert handled.id == document["id"]
    assert id_of(handled.object) == id_of(document["object"])
    # A JSON-LD processor's reading of the accepted bytes agrees.
    as_jsonld = normalise(json.loads(body))
    assert id_of(as_jsonld["actor"]) == eve.id
    assert as_jsonld["id"] == document["id"]
    assert id_of(as_jsonld["object"]) == id_of(document["object"])

"""Property: whatever JSON a signed sender posts, the inbox answers 202/400/401/403 — never
an exception, never a 5xx — and queues only what it answered ``accepted``.

Runs the pipeline in-process (``Inbox.receive``) against a real key server on loopback,
inside one event loop kept by a blocking portal so hypothesis can drive it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hostile import inbox_in_a_portal
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from activitypub_kit.signatures import HttpRequest, sign_cavage

AS = "https://www.w3.org/ns/activitystreams"


@pytest.fixture(scope="module")
def harness():
    with inbox_in_a_portal() as found:
        yield found


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
keys = st.sampled_from(
    [
        "id",
        "type",
        "actor",
        "object",
        "to",
        "cc",
        "@context",
        "attributedTo",
        "proof",
        "signature",
        "content",
        "inReplyTo",
    ]
)


def documents(eve_id: str) -> st.SearchStrategy[dict[str, Any]]:
    plausible = st.fixed_dictionaries(
        {
            "@context": st.just(AS),
            "id": st.sampled_from([f"{eve_id}/a/1", "https://other.test/a/1", "nope", 5]),
            "type": st.sampled_from(
                ["Like", "Create", "Update", "Delete", "Undo", "Follow", ["Like"]]
            ),
            "actor": st.sampled_from(
                [eve_id, "https://other.test/u", [eve_id], {"id": eve_id}, None]
            ),
            "object": st.sampled_from([eve_id, f"{eve_id}/n/1", "https://other.test/n/1"])
            | st.fixed_dictionaries(
                {
                    "id": st.sampled_from([f"{eve_id}/n/2", "https://other.test/n/2"]),
                    "type": st.just("Note"),
                }
            )
            | json_value,
        }
    )
    return st.builds(
        lambda base, extra: {**base, **extra},
        plausible,
        st.dictionaries(keys, json_value, max_size=3),
    )


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_signed_garbage_never_breaks_the_inbox(harness, data):
    portal, eve, fed = harness
    document = data.draw(documents(eve.id))
    body = json.dumps(document).encode()
    request = HttpRequest(
        "POST",
        "http://a.test:1/users/alice/inbox",
        [("Content-Type", "application/activity+json")],
        body,
    )
    request = sign_cavage(request, eve.rsa, eve.key_id, now=time.time())
    before = portal.call(fed.queue.stats).depth
    answer = portal.call(fed.inbox.receive, request, "alice")
    after = portal.call(fed.queue.stats).depth
    event(f"status {answer.status}")
    assert answer.status in (202, 400, 401, 403), answer
    assert ("error" in answer.body) == (answer.status != 202)
    assert after - before == (1 if answer.body.get("status") == "accepted" else 0)

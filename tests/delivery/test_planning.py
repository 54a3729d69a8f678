from hypothesis import given
from hypothesis import strategies as st

from activitypub_kit import PUBLIC_IRIS
from activitypub_kit.delivery._planning import (
    Recipient,
    SkipReason,
    inbox_host,
    plan_delivery,
    strip_hidden_recipients,
)


def follower(host: str, n: int, *, shared: bool = True) -> Recipient:
    return Recipient(
        id=f"https://{host}/users/u{n}",
        inbox=f"https://{host}/users/u{n}/inbox",
        shared_inbox=f"https://{host}/inbox" if shared else None,
    )


def test_ten_thousand_followers_on_a_thousand_hosts_make_a_thousand_posts():
    recipients = [follower(f"h{h}.example", n) for h in range(1000) for n in range(10)]
    plan = plan_delivery(recipients)
    assert len(plan.targets) == 1000
    assert all(len(t.recipients) == 10 and t.shared for t in plan.targets)
    assert {t.host for t in plan.targets} == {f"h{h}.example" for h in range(1000)}


def test_personal_inbox_used_when_no_shared_inbox_or_when_not_preferred():
    a = follower("a.example", 1, shared=False)
    b = follower("b.example", 2)
    plan = plan_delivery([a, b], prefer_shared_inbox=False)
    assert plan.inboxes == [a.inbox, b.inbox]
    assert not any(t.shared for t in plan.targets)
    assert plan_delivery([a, b]).inboxes == [a.inbox, "https://b.example/inbox"]


def test_public_local_sender_blocked_and_unusable_recipients_are_skipped():
    me = "https://me.example/users/me"
    local = Recipient(id="https://me.example/users/bob", inbox="https://me.example/users/bob/inbox")
    recipients = [
        *PUBLIC_IRIS,
        Recipient(id=me, inbox="https://me.example/users/me/inbox"),
        local,
        local,
        Recipient(id="https://nobox.example/u"),
        Recipient(id="https://bad.example/u", inbox="ftp://bad.example/inbox"),
        Recipient(id="https://spoof.example/u", inbox="https://user@evil.example/inbox"),
        follower("blocked.example", 1),
        follower("ok.example", 1),
    ]
    plan = plan_delivery(
        recipients,
        sender=me,
        is_local=lambda url: url.startswith("https://me.example/"),
        is_blocked=lambda host: host == "blocked.example",
    )
    assert plan.inboxes == ["https://ok.example/inbox"]
    assert plan.local == [local]
    reasons = [reason for _, reason in plan.skipped]
    assert reasons.count(SkipReason.PUBLIC) == 3
    assert SkipReason.SENDER in reasons
    assert SkipReason.NO_INBOX in reasons
    assert reasons.count(SkipReason.BAD_URL) == 2
    assert SkipReason.BLOCKED in reasons


def test_explicit_inbox_strings_and_duplicates():
    plan = plan_delivery(
        ["https://x.example/inbox", "https://x.example/inbox", follower("x.example", 3)]
    )
    assert plan.inboxes == ["https://x.example/inbox"]
    assert plan.targets[0].recipients == ("https://x.example/inbox", "https://x.example/users/u3")


def test_recipient_from_actor_document():
    actor = {
        "id": "https://m.example/users/a",
        "type": "Person",
        "inbox": "https://m.example/users/a/inbox",
        "endpoints": {"sharedInbox": "https://m.example/inbox"},
    }
    assert Recipient.from_actor(actor) == Recipient(
        "https://m.example/users/a", "https://m.example/users/a/inbox", "https://m.example/inbox"
    )
    odd = {"id": "https://m.example/users/b", "inbox": ["x"], "endpoints": "https://m.example/e"}
    assert Recipient.from_actor(odd) == Recipient("https://m.example/users/b", None, None)


def test_inbox_host_normalises_and_refuses():
    assert inbox_host("https://EXAMPLE.com:8443/inbox") == "example.com:8443"
    assert inbox_host("http://[::1]:80/inbox") == "[::1]:80"
    assert inbox_host("https://example.com:99999/") is None
    assert inbox_host("mailto:a@example.com") is None
    assert inbox_host("/relative/inbox") is None


def test_bto_and_bcc_are_stripped_from_activity_and_object():
    activity = {
        "type": "Create",
        "bcc": ["https://s.example/u"],
        "object": {"type": "Note", "bto": ["https://t.example/u"], "content": "x"},
    }
    body = strip_hidden_recipients(activity)
    assert "bcc" not in body
    assert "bto" not in body["object"]
    assert body["object"]["content"] == "x"
    assert "bcc" in activity  # the input is not modified


hosts = st.sampled_from([f"h{i}.example" for i in range(8)])


@given(st.lists(st.tuples(hosts, st.integers(0, 5), st.booleans()), max_size=60))
def test_plan_reaches_every_recipient_exactly_once(entries):
    recipients = [follower(h, n, shared=s) for h, n, s in entries]
    plan = plan_delivery(recipients)
    reached = [r for t in plan.targets for r in t.recipients]
    assert sorted(reached) == sorted({r.id for r in recipients})
    assert len(plan.inboxes) == len(set(plan.inboxes))
    for target in plan.targets:
        assert all(r.split("/")[2] == target.host for r in target.recipients)

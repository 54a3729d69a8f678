"""Strict handle parsing: the injection list must fail before any network I/O."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitypub_kit.errors import InvalidHandleError
from activitypub_kit.webfinger import Handle, parse_handle

INJECTIONS = [
    "user@localhost:1234/secret?",  # CVE-2025-25194
    "hacker@localh.st:1234/secret.txt?something=1#",
    "a@evil.test/../x",
    "a@127.0.0.1",
    "a@[::1]",
    "a@evil.test:22",
    "a@evil.test@victim.test",  # @ smuggling
    "a@b@c.test",
    "@a@b.test@c.test",
    "user:pw@evil.test",  # userinfo
    "a@user:pw@evil.test",
    "a@evil.test#frag",
    "a@evil.test?x=1",
    "a@evil.test\\@victim.test",
    "a @evil.test",  # whitespace
    "a@evil.test ",
    " a@evil.test",
    "a@evil.\ttest",
    "a@evil.test\n",
    "a@evil.test\r\nHost: x",
    "a\x00@evil.test",
    "a@evil%2etest",
    "a%40b@evil.test",
    "a/b@evil.test",
    "a@",
    "@evil.test",
    "a",
    "",
    "acct:",
    "a@localhost",  # not a fully qualified name
    "a@-evil.test",
    "a@evil..test",
    "a@evil_test.test",
    "a@" + "x" * 64 + ".test",
    "a@1.2.3.4",
    "a@2130706433",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_injections_are_refused(text: str) -> None:
    with pytest.raises(InvalidHandleError) as caught:
        parse_handle(text)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alice@example.com", Handle("alice", "example.com")),
        ("@alice@example.com", Handle("alice", "example.com")),
        ("acct:alice@example.com", Handle("alice", "example.com")),
        ("ACCT:Alice@EXAMPLE.com", Handle("Alice", "example.com")),
        ("a@EVIL.test.", Handle("a", "evil.test")),  # H-29: normalised, accepted
        ("bob.smith_2~x@sub.example.co.uk", Handle("bob.smith_2~x", "sub.example.co.uk")),
        ("user@bücher.example", Handle("user", "xn--bcher-kva.example")),
    ],
)
def test_valid_handles_are_normalised(text: str, expected: Handle) -> None:
    assert parse_handle(text) == expected


def test_port_only_when_allowed() -> None:
    assert parse_handle("a@a.test:8080", allow_port=True) == Handle("a", "a.test:8080")
    for bad in ("a@a.test:0", "a@a.test:99999", "a@a.test:08", "a@a.test:x", "a@a.test:80/x"):
        with pytest.raises(InvalidHandleError):
            parse_handle(bad, allow_port=True)


def test_acct_and_str() -> None:
    handle = parse_handle("@alice@example.com")
    assert str(handle) == "alice@example.com"
    assert handle.acct == "acct:alice@example.com"


_label = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)


@given(
    user=st.from_regex(r"[A-Za-z0-9._~-]{1,20}", fullmatch=True),
    labels=st.lists(_label, min_size=2, max_size=4),
)
def test_round_trip_of_valid_handles(user: str, labels: list[str]) -> None:
    host = ".".join(labels)
    for form in (f"{user}@{host}", f"@{user}@{host}", f"acct:{user}@{host}"):
        handle = parse_handle(form)
        assert handle == Handle(user, host)
        assert parse_handle(str(handle)) == handle


@given(st.text(max_size=60))
def test_any_text_parses_to_a_clean_handle_or_a_typed_error(text: str) -> None:
    try:
        handle = parse_handle(text)
    except InvalidHandleError:
        return
    # Whatever passes cannot carry a URL part or whitespace into the request we build.
    for forbidden in "/?#@:[]\\% \t\r\n":
        assert forbidden not in handle.host
    assert handle.host == handle.host.lower()


def test_local_hosts_only_when_allowed() -> None:
    """``allow_local`` (development) accepts localhost and IPv4 literals, nothing looser."""
    for text in ("a@127.0.0.1", "a@localhost", "a@127.0.0.1:8080", "a@LOCALHOST:8080"):
        with pytest.raises(InvalidHandleError):
            parse_handle(text, allow_port=True)  # off by default
    assert parse_handle("a@127.0.0.1", allow_local=True) == Handle("a", "127.0.0.1")
    assert parse_handle("a@LocalHost", allow_local=True) == Handle("a", "localhost")
    assert parse_handle("acct:a@127.0.0.1:8080", allow_port=True, allow_local=True) == Handle(
        "a", "127.0.0.1:8080"
    )
    assert parse_handle("a@localhost.", allow_local=True) == Handle("a", "localhost")
    assert parse_handle("a@example.com", allow_local=True) == Handle("a", "example.com")
    for bad in (
        "a@127.0.0.1:8080",  # the port still needs allow_port
        "a@2130706433",
        "a@127.1",
        "a@127.000.0.1",
        "a@[::1]",
        "user@localhost:1234/secret?",
        "a@127.0.0.1@evil.test",
        "a@intranet",
    ):
        with pytest.raises(InvalidHandleError):
            parse_handle(bad, allow_local=True)

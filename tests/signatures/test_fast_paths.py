"""Property tests pinning each verification fast path to the general code it shortcuts.

Every shortcut may decline (and hand over to the general code); when it answers, it must
answer exactly what the general code answers, errors included.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from activitypub_kit.errors import SignatureError
from activitypub_kit.signatures.urls import _parse_fast as fast_url
from activitypub_kit.signatures.urls import _parse_general as general_url
from activitypub_kit.signatures.urls import parse_url


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except SignatureError as exc:
        return type(exc)


url_pieces = st.sampled_from(
    ["http", "https", "HTTPS", "ftp", "://", ":", "//", "/", "?", "#", "@", "[", "]", "::1",
     "a", "B", "host.example", "h-1", "_", ".", "80", "443", "8443", "0", "65535", "65536",
     "99999", "%20", "~", " ", "\t", "\n", "\\", '"', "=", "&", "é", "x/y", ";"]
)  # fmt: skip


urls = st.one_of(
    st.lists(url_pieces, max_size=12).map("".join),
    st.tuples(st.sampled_from(["https://", "http://"]), st.lists(url_pieces, max_size=10)).map(
        lambda t: t[0] + "".join(t[1])
    ),
)


@given(urls)
@example("https://inbox.example/users/bob/inbox")
@example("https://Inbox.Example:443/a?b=c")
@example("http://h.example:080/?")
@example("https://h.example")
@example("https://h.example?q")
@example("https://h.example:99999/")
@example("https://h.example!x/")
@example("https://user@h.example/")
def test_fast_url_split_matches_urlsplit(url: str) -> None:
    fast = fast_url(url)
    if fast is not None:
        assert fast == general_url(url)
    assert _outcome(parse_url, url) == _outcome(general_url, url)


@pytest.mark.parametrize(
    "url", ["https://inbox.example/users/bob/inbox", "https://h.example:8443/p?q=1&r"]
)
def test_fast_url_split_takes_the_common_shape(url: str) -> None:
    assert fast_url(url) is not None

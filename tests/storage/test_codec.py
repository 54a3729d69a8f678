"""Key encoding and value encoding shared by every backend (property tests)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitypub_kit.errors import MessageTooLargeError, SerializationError
from activitypub_kit.storage._codec import decode, encode, key_from_text, key_text

keys = st.lists(st.text(max_size=12), min_size=0, max_size=5).map(tuple)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(keys)
def test_key_text_round_trips_and_is_ascii_below_del(key: tuple[str, ...]) -> None:
    text = key_text(key)
    assert key_from_text(text) == key
    assert all(ord(ch) < 0x7F for ch in text)


@given(keys, keys)
def test_string_prefix_is_tuple_prefix(prefix: tuple[str, ...], key: tuple[str, ...]) -> None:
    is_tuple_prefix = key[: len(prefix)] == prefix
    assert key_text(key).startswith(key_text(prefix)) == is_tuple_prefix
    # ...and the range scan [text, text + DEL) finds exactly the same keys.
    low = key_text(prefix)
    assert (low <= key_text(key) < low + "\x7f") == is_tuple_prefix


@given(json_values)
def test_values_round_trip(value: object) -> None:
    assert decode(encode(value, limit=10**6)) == value  # type: ignore[arg-type]


def test_errors_say_what_was_wrong() -> None:
    with pytest.raises(SerializationError, match=r"message body is not JSON-serialisable: .*set"):
        encode({"a": {1}}, limit=100, what="message body")  # type: ignore[dict-item]
    with pytest.raises(SerializationError, match="Out of range float"):
        encode([float("nan")], limit=100)
    with pytest.raises(MessageTooLargeError, match="value is 12 bytes encoded as JSON; the"):
        encode("0123456789", limit=11)

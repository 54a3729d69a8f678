from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitypub_kit.errors import MalformedSignatureError
from activitypub_kit.signatures import parse_http_date


@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)))
def test_every_fixdate_parses_to_its_instant_repeatedly(moment):
    moment = moment.replace(microsecond=0, tzinfo=UTC)
    text = format_datetime(moment, usegmt=True)
    expected = int(moment.timestamp())
    assert parse_http_date(text) == expected
    assert parse_http_date(text) == expected  # a remembered value is the same value


def test_neighbouring_dates_are_not_confused():
    base = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    texts = [format_datetime(base + timedelta(seconds=n), usegmt=True) for n in range(600)]
    for _ in range(2):
        assert [parse_http_date(t) - parse_http_date(texts[0]) for t in texts] == list(range(600))


def test_garbage_is_refused_every_time():
    for _ in range(2):
        with pytest.raises(MalformedSignatureError, match="not an HTTP date"):
            parse_http_date("yesterday at noon")

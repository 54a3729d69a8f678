import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitypub_kit.delivery._retry import (
    DeliverySchedule,
    Outcome,
    classify_status,
    parse_retry_after,
)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (202, Outcome.DELIVERED),
        (400, Outcome.PERMANENT),
        (401, Outcome.RETRY),
        (403, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        (408, Outcome.RETRY),
        (410, Outcome.GONE),
        (422, Outcome.PERMANENT),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (501, Outcome.PERMANENT),
        (502, Outcome.RETRY),
        (503, Outcome.RETRY),
        (301, Outcome.RETRY),
    ],
)
def test_status_classification_follows_mastodon(status, outcome):
    assert classify_status(status) is outcome


def test_retry_after_seconds_and_dates():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now=now) == pytest.approx(90.0)
    earlier = format_datetime(now - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-5") is None


def test_default_schedule_spans_about_two_days_then_stops():
    policy = DeliverySchedule(jitter=0.0)
    elapsed, attempt = 0.0, 1
    while policy.should_retry(attempt, elapsed):
        elapsed += policy.delay(attempt)
        attempt += 1
    assert 2 * 24 * 3600 <= elapsed < 3 * 24 * 3600
    assert 14 <= attempt <= 18


def test_retry_after_is_honoured_but_bounded():
    policy = DeliverySchedule(jitter=0.0)
    assert policy.delay(1, retry_after=600) == 600
    assert policy.delay(1, retry_after=0) == policy.delay(1)
    assert policy.delay(1, retry_after=365 * 86400) == policy.max_retry_after


def test_attempt_must_be_positive():
    with pytest.raises(ValueError, match="starts at 1"):
        DeliverySchedule().delay(0)


@given(st.integers(1, 30), st.integers(0, 2**32))
def test_jitter_stays_within_its_band(attempt, seed):
    policy = DeliverySchedule()
    low = attempt**4 + policy.base
    value = policy.delay(attempt, rng=random.Random(seed))
    assert low <= value <= low + policy.jitter * attempt**4


def test_the_old_name_is_a_deprecated_alias_for_one_release():
    from activitypub_kit import delivery
    from activitypub_kit.delivery import _retry as retry

    assert retry.RetryPolicy is DeliverySchedule
    assert delivery.RetryPolicy is DeliverySchedule
    assert delivery.DeliverySchedule is DeliverySchedule

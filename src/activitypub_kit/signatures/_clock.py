"""Time checks shared by the signature schemes: HTTP dates, proof dateTimes, the window."""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from datetime import date
from email.utils import formatdate, parsedate_tz
from functools import lru_cache

from activitypub_kit._cache import BoundedCache
from activitypub_kit.errors import ClockSkewError, MalformedSignatureError, ProofError

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def http_date(timestamp: float | None = None) -> str:
    """An IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``) for ``timestamp`` (default: now)."""
    return formatdate(time.time() if timestamp is None else timestamp, usegmt=True)


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# IMF-fixdate with a four-digit year from 1000 on (email.utils reads years below 100 as
# 19xx/20xx, so those go to the general parser).
_IMF_FIXDATE = re.compile(
    r"[A-Z][a-z]{2}, ([0-9]{2} [A-Z][a-z]{2} [1-9][0-9]{3}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)
# "Sun, 06 Nov 1994 " -> days since the epoch: every request of a day shares its entry.
_DAYS: BoundedCache[str, int] = BoundedCache(64)


def _parse_fixdate(value: str) -> int | None:
    # A day already seen: its "Sun, 06 Nov 1994 " prefix was checked, check the rest.
    day = _DAYS.get(value[:17])
    if day is not None and len(value) == 29 and value[25:] == " GMT":
        clock = value[17:25]
        digits = clock[:2] + clock[3:5] + clock[6:]
        if clock[2] == ":" and clock[5] == ":" and digits.isdigit() and digits.isascii():
            hms = int(digits)
            return day * 86400 + hms // 10000 * 3600 + hms // 100 % 100 * 60 + hms % 100
    match = _IMF_FIXDATE.fullmatch(value)
    if match is None:
        return None
    day_text, hour, minute, second = match.groups()
    month = _MONTHS.get(day_text[3:6])
    if month is None:
        return None
    try:
        day = date(int(day_text[7:]), month, int(day_text[:2])).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None  # no such day: the general parser decides
    _DAYS.set(value[:17], day)
    return day * 86400 + int(hour) * 3600 + int(minute) * 60 + int(second)


def _parse_general(value: str) -> int:
    parsed = parsedate_tz(value)
    if parsed is None:
        raise MalformedSignatureError(f"Date {value!r} is not an HTTP date")
    offset = parsed[9] or 0
    return calendar.timegm((*parsed[:6], 0, 0, 0)) - offset


def parse_http_date(value: str) -> int:
    """Parse an HTTP date (IMF-fixdate, or the obsolete RFC 850 / asctime forms) to seconds.

    :raises MalformedSignatureError: when ``value`` is not an HTTP date.
    """
    return _parse_recent(value)


# Whole Date values already parsed.  A busy inbox sees the same one-second-resolution Date
# from many senders at once, so recent values repeat across different requests.
@lru_cache(maxsize=256)
def _parse_recent(value: str) -> int:
    fixdate = _parse_fixdate(value)
    return _parse_general(value) if fixdate is None else fixdate


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """How old or how far in the future a signature may be.

    A signature made at ``created`` (its ``Date`` header, ``created`` parameter or proof
    ``created``) is accepted while ``now - max_age <= created <= now + max_future``.

    A signed ``expires`` replaces ``max_age``, within bounds (Mastodon's rule): the
    signature is accepted until ``expires``, but never past ``created + max_lifetime``
    (12 hours), plus ``max_future`` of clock-skew allowance either way.  An ``expires``
    before ``created`` is refused.  With no known ``created``, an ``expires`` more than
    ``max_lifetime + max_future`` ahead of ``now`` is refused: a signature cannot vouch for
    itself for longer than the lifetime.  (A ``max_age`` above ``max_lifetime`` therefore
    accepts a signature without ``expires`` for longer than one with it.)
    """

    #: Seconds a signature stays acceptable without a signed ``expires`` (default: 1 hour).
    max_age: float = 3600.0
    #: Seconds of clock skew allowed into the future (default: 5 minutes).
    max_future: float = 300.0
    #: Longest life a signed ``expires`` can give a signature, counted from ``created``
    #: (default: 12 hours, Mastodon's ``EXPIRATION_WINDOW_LIMIT``).
    max_lifetime: float = 43200.0

    def allows(self, *, created: float | None, expires: float | None, now: float) -> bool:
        """Whether the times fall inside the window (:meth:`check` says why not)."""
        return _refusal(self, created, expires, now, "created") is None

    def check(self, *, created: float | None, expires: float | None, now: float, what: str) -> None:
        """Raise :class:`ClockSkewError` when the times fall outside the window.

        ``what`` names the time source in the message (``Date header``, ``created``).
        The error's ``skew`` is the offending time minus ``now`` (for an ``expires``
        before ``created``: ``expires - created``).
        """
        refusal = _refusal(self, created, expires, now, what)
        if refusal is not None:
            raise refusal


def _refusal(
    window: TimeWindow, created: float | None, expires: float | None, now: float, what: str
) -> ClockSkewError | None:
    # The one copy of the window rule: None when the times are acceptable.
    if created is not None:
        ahead = created - now
        if ahead > window.max_future:
            limit = f"at most {window.max_future:.0f}s allowed"
            return ClockSkewError(f"{what} is {ahead:.0f}s in the future ({limit})", skew=ahead)
    if expires is None:
        if created is not None:
            age = now - created
            if age > window.max_age:
                limit = f"at most {window.max_age:.0f}s allowed"
                return ClockSkewError(f"{what} is {age:.0f}s old ({limit})", skew=-age)
        return None
    late = now - expires
    if late > window.max_future:
        return ClockSkewError(
            f"signature expired {late:.0f}s ago (expires={expires:.0f})", skew=-late
        )
    if created is None:
        ahead = expires - now
        if ahead > window.max_lifetime + window.max_future:
            return ClockSkewError(
                f"signature expires {ahead:.0f}s from now, beyond the "
                f"{window.max_lifetime:.0f}s lifetime limit (no created time)",
                skew=ahead,
            )
        return None
    lifetime = expires - created
    if lifetime < 0:
        return ClockSkewError(
            f"signature expires before it was made ({what} {created:.0f}, expires {expires:.0f})",
            skew=lifetime,
        )
    if lifetime > window.max_lifetime:
        late = now - (created + window.max_lifetime)
        if late > window.max_future:
            return ClockSkewError(
                f"signature lifetime {lifetime:.0f}s exceeds the "
                f"{window.max_lifetime:.0f}s limit, which ran out {late:.0f}s ago",
                skew=-late,
            )
    return None


#: The default window: Mastodon-compatible, one hour old to five minutes ahead, and a
#: signed ``expires`` good for at most twelve hours after ``created``.
DEFAULT_WINDOW = TimeWindow()

# XML Schema dateTime with a four-digit year: 2024-01-01T00:00:00Z, fraction and offset
# optional.
_XSD_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)


def _parse_xsd_datetime(value: str) -> float | None:
    # Seconds since the epoch, or None when value is not a dateTime we accept.  Without a
    # timezone the time is read as UTC.
    match = _XSD_DATETIME.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    h, m, s = int(hour), int(minute), int(second)
    frac = float("0" + fraction[:10]) if fraction else 0.0
    # 24:00:00 is the midnight ending the day (XML Schema 1.1); no leap seconds.
    if m > 59 or s > 59 or h > 24 or (h == 24 and (m or s or frac)):
        return None
    offset = 0
    if zone and zone != "Z":
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zm > 59 or zh * 60 + zm > 14 * 60:
            return None
        offset = (zh * 3600 + zm * 60) * (-1 if zone[0] == "-" else 1)
    try:
        days = date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    return days * 86400 + h * 3600 + m * 60 + s + frac - offset


def check_created(
    created: str | None,
    *,
    now: float,
    window: TimeWindow = DEFAULT_WINDOW,
    expires: str | None = None,
    what: str = "proof",
) -> None:
    """Check a proof's or LD signature's ``created`` (and optional ``expires``) (pure).

    Both are XML Schema dateTime strings (``2024-01-01T00:00:00Z``; fractional seconds and
    ``+hh:mm``/``-hh:mm`` offsets accepted; no timezone is read as UTC).  ``created`` is
    required; the times must pass :meth:`TimeWindow.check` at ``now`` (so an ``expires``
    gives at most ``window.max_lifetime`` of life).  ``what`` names the signed thing in
    messages (``proof``, ``LD signature``).

    :raises ProofError: when ``created`` is missing, or ``created``/``expires`` is not a
        dateTime string.
    :raises ClockSkewError: when the times fall outside ``window``.
    """
    if created is None:
        raise ProofError(f"{what} has no created time")
    created_at = _xsd_time(created, what, "created")
    expires_at = None if expires is None else _xsd_time(expires, what, "expires")
    window.check(created=created_at, expires=expires_at, now=now, what=f"{what} created")


def _xsd_time(value: object, what: str, name: str) -> float:
    if not isinstance(value, str):
        raise ProofError(f"{what} {name} is not a string")
    seconds = _parse_xsd_datetime(value)
    if seconds is None:
        raise ProofError(f"{what} {name} {value[:64]!r} is not an XML Schema dateTime")
    return seconds


__all__ = ["http_date", "parse_http_date", "TimeWindow", "DEFAULT_WINDOW", "check_created"]

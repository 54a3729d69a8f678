"""Time checks shared by the signature schemes: HTTP dates and the accepted window."""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from datetime import date
from email.utils import formatdate, parsedate_tz

from activitypub_kit.errors import ClockSkewError, MalformedSignatureError

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
_DAYS: dict[str, int] = {}


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
    if len(_DAYS) >= 64:
        _DAYS.clear()
    _DAYS[value[:17]] = day
    return day * 86400 + int(hour) * 3600 + int(minute) * 60 + int(second)


def _parse_general(value: str) -> int:
    parsed = parsedate_tz(value)
    if parsed is None:
        raise MalformedSignatureError(f"Date {value!r} is not an HTTP date")
    offset = parsed[9] or 0
    return calendar.timegm((*parsed[:6], 0, 0, 0)) - offset


# Whole Date values already parsed.  A busy inbox sees the same one-second-resolution Date
# from many senders at once, so recent values repeat across different requests.
_RECENT: dict[str, int] = {}


def parse_http_date(value: str) -> int:
    """Parse an HTTP date (IMF-fixdate, or the obsolete RFC 850 / asctime forms) to seconds.

    :raises MalformedSignatureError: when ``value`` is not an HTTP date.
    """
    seconds = _RECENT.get(value)
    if seconds is not None:
        return seconds
    fixdate = _parse_fixdate(value)
    seconds = _parse_general(value) if fixdate is None else fixdate
    if len(_RECENT) >= 256:
        _RECENT.clear()
    _RECENT[value] = seconds
    return seconds


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """How old or how far in the future a signature may be.

    A signature made at ``created`` (its ``Date`` header or ``created`` parameter) is
    accepted while ``now - max_age <= created <= now + max_future``.  When it carries a
    signed ``expires``, that replaces ``max_age``: it is accepted until ``expires`` (plus
    ``max_future`` of clock-skew allowance), however old it is.
    """

    #: Seconds a signature stays acceptable without a signed ``expires`` (default: 1 hour).
    max_age: float = 3600.0
    #: Seconds of clock skew allowed into the future (default: 5 minutes).
    max_future: float = 300.0

    def allows(self, *, created: float | None, expires: float | None, now: float) -> bool:
        """Whether the times fall inside the window (:meth:`check` says why not)."""
        if created is not None and created - now > self.max_future:
            return False
        if expires is not None:
            return now - expires <= self.max_future
        return created is None or now - created <= self.max_age

    def check(self, *, created: float | None, expires: float | None, now: float, what: str) -> None:
        """Raise :class:`ClockSkewError` when the times fall outside the window.

        ``what`` names the time source in the message (``Date header``, ``created``).
        """
        if created is not None:
            ahead = created - now
            if ahead > self.max_future:
                limit = f"at most {self.max_future:.0f}s allowed"
                raise ClockSkewError(f"{what} is {ahead:.0f}s in the future ({limit})", skew=ahead)
        if expires is not None:
            late = now - expires
            if late > self.max_future:
                raise ClockSkewError(
                    f"signature expired {late:.0f}s ago (expires={expires:.0f})", skew=-late
                )
            return
        if created is not None:
            age = now - created
            if age > self.max_age:
                raise ClockSkewError(
                    f"{what} is {age:.0f}s old (at most {self.max_age:.0f}s allowed)", skew=-age
                )


#: The default window: Mastodon-compatible, one hour old to five minutes ahead.
DEFAULT_WINDOW = TimeWindow()

__all__ = ["http_date", "parse_http_date", "TimeWindow", "DEFAULT_WINDOW"]

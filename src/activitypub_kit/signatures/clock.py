"""Time checks shared by the signature schemes: HTTP dates and the accepted window."""

from __future__ import annotations

import calendar
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


def parse_http_date(value: str) -> int:
    """Parse an HTTP date (IMF-fixdate, or the obsolete RFC 850 / asctime forms) to seconds.

    :raises MalformedSignatureError: when ``value`` is not an HTTP date.
    """
    # Fast path: "Sun, 06 Nov 1994 08:49:37 GMT" (29 characters).
    if len(value) == 29 and value[25:] == " GMT" and value[3:5] == ", ":
        month = _MONTHS.get(value[8:11])
        if month is not None:
            try:
                hour, minute, second = value[17:25].split(":")
                day = date(int(value[12:16]), month, int(value[5:7])).toordinal() - _EPOCH_ORDINAL
                return day * 86400 + int(hour) * 3600 + int(minute) * 60 + int(second)
            except ValueError:
                pass
    parsed = parsedate_tz(value)
    if parsed is None:
        raise MalformedSignatureError(f"Date {value!r} is not an HTTP date")
    offset = parsed[9] or 0
    return calendar.timegm((*parsed[:6], 0, 0, 0)) - offset


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

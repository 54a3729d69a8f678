"""Strict parsing of fediverse handles (``@user@host``, ``user@host``, ``acct:user@host``).

A handle's host ends up in a URL we request, so it is validated as a bare DNS name before
anything is built from it: no port (unless explicitly allowed for development), no path,
query or fragment, no second ``@``, no whitespace or control character, no userinfo, no IP
literal (unless explicitly allowed for development: ``allow_local`` accepts ``localhost`` and
IPv4 literals such as ``127.0.0.1``).  Unicode hosts are converted to their IDNA (``xn--``)
form, upper case is folded and one trailing dot is dropped.  This closes the
handle-injection SSRF of activitypub-federation-rust (CVE-2025-25194:
``user@localh.st:1234/secret?``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final

import idna

from activitypub_kit.errors import InvalidHandleError

#: The user part: RFC 3986 unreserved characters only.
_USER: Final = re.compile(r"[A-Za-z0-9._~-]{1,255}")
_LABEL: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_FORBIDDEN_HOST_CHARS: Final = frozenset("/?#[]\\@%&=+,;!$'()*\"<>^`{|}")


@dataclass(frozen=True, order=True)
class Handle:
    """A validated ``user@host`` (host in lower-case ASCII, a port only if allowed)."""

    user: str
    host: str

    def __str__(self) -> str:
        return f"{self.user}@{self.host}"

    @property
    def acct(self) -> str:
        """The ``acct:`` URI of the handle (RFC 7565)."""
        return f"acct:{self.user}@{self.host}"

    def same_as(self, other: Handle) -> bool:
        """Compare case-insensitively, as WebFinger subjects are compared."""
        return self.user.lower() == other.user.lower() and self.host == other.host


def _refuse(text: str, why: str) -> InvalidHandleError:
    return InvalidHandleError(f"invalid handle {text[:100]!r}: {why}")


def validate_host(
    host: str,
    *,
    allow_port: bool = False,
    allow_local: bool = False,
    original: str | None = None,
) -> str:
    """Return ``host`` as a normalised DNS name (``name`` or ``name:port``) or raise.

    Raises :class:`~activitypub_kit.errors.InvalidHandleError` for anything that is not a
    plain host name.  ``allow_local`` (development and loopback tests only) also accepts
    ``localhost`` and IPv4 literals.
    """
    shown = original if original is not None else host
    if not host:
        raise _refuse(shown, "the host is empty")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in host):
        raise _refuse(shown, "the host contains whitespace or control characters")
    bad = sorted(set(host) & _FORBIDDEN_HOST_CHARS)
    if bad:
        raise _refuse(shown, f"the host contains {''.join(bad)!r} (path, query or userinfo)")
    name, port = host, ""
    if ":" in host:
        if not allow_port:
            raise _refuse(shown, "a port is not allowed in a handle")
        name, _, port = host.rpartition(":")
        if not port.isdigit() or not 0 < int(port) < 65536 or port.startswith("0"):
            raise _refuse(shown, f"{port!r} is not a port number")
    if name.endswith(".") and not name.endswith(".."):
        name = name[:-1]
    if allow_local and (name.lower() == "localhost" or _is_ipv4(name)):
        local = name.lower() if name.lower() == "localhost" else str(ipaddress.IPv4Address(name))
        return f"{local}:{port}" if port else local
    try:
        ascii_name = idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise _refuse(shown, f"the host is not a valid domain name ({exc})") from exc
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise _refuse(shown, "the host is not a valid domain name")
    if len(labels) < 2:
        raise _refuse(shown, "the host must be a fully qualified domain name")
    if labels[-1].isdigit():
        raise _refuse(shown, "the host is an IP address, not a domain name")
    return f"{ascii_name}:{port}" if port else ascii_name


def _is_ipv4(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def parse_handle(text: str, *, allow_port: bool = False, allow_local: bool = False) -> Handle:
    """Parse ``@user@host``, ``user@host`` or ``acct:user@host`` into a :class:`Handle`.

    ``allow_port`` and ``allow_local`` relax the host rules for development (see
    :func:`validate_host`).  Raises :class:`~activitypub_kit.errors.InvalidHandleError`
    with the reason.
    """
    if not isinstance(text, str):
        raise InvalidHandleError(f"invalid handle {text!r}: not a string")
    if len(text) > 600:
        raise _refuse(text, "it is too long")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise _refuse(text, "it contains whitespace or control characters")
    rest = text
    if rest[:5].lower() == "acct:":
        rest = rest[5:]
    elif rest.startswith("@"):
        rest = rest[1:]
    if rest.count("@") != 1:
        raise _refuse(text, "it must have exactly one '@' between user and host")
    user, host = rest.split("@")
    if not _USER.fullmatch(user):
        raise _refuse(text, f"the user part {user[:60]!r} has characters outside [A-Za-z0-9._~-]")
    host = validate_host(host, allow_port=allow_port, allow_local=allow_local, original=text)
    return Handle(user, host)


__all__ = ["Handle", "parse_handle", "validate_host"]

"""Which IP addresses an outbound request may connect to (the SSRF guard's address rule).

Pure functions, no I/O.  An address is refused when it is not a globally reachable unicast
address: loopback, private, link-local, shared (CGNAT), multicast, reserved, documentation,
benchmarking, unspecified, or an IPv6 form that embeds a refused IPv4 address (IPv4-mapped,
NAT64, 6to4, Teredo).  An explicit allow-list (off by default) lets tests and local
development reach loopback.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from activitypub_kit.errors import AddressRefusedError

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

_V4 = IPv4Network
_V6 = IPv6Network

#: IPv4 ranges that are never fetched from, most specific first, with the name we report.
_IPV4_REFUSED: tuple[tuple[IPv4Network, str], ...] = (
    (_V4("255.255.255.255/32"), "the broadcast address"),
    (_V4("0.0.0.0/8"), "an unspecified ('this network') address"),
    (_V4("10.0.0.0/8"), "a private address"),
    (_V4("100.64.0.0/10"), "a shared (CGNAT) address"),
    (_V4("127.0.0.0/8"), "a loopback address"),
    (_V4("169.254.0.0/16"), "a link-local address"),
    (_V4("172.16.0.0/12"), "a private address"),
    (_V4("192.0.0.0/24"), "an IETF protocol assignment"),
    (_V4("192.0.2.0/24"), "a documentation address"),
    (_V4("192.88.99.0/24"), "a reserved (6to4 relay) address"),
    (_V4("192.168.0.0/16"), "a private address"),
    (_V4("198.18.0.0/15"), "a benchmarking address"),
    (_V4("198.51.100.0/24"), "a documentation address"),
    (_V4("203.0.113.0/24"), "a documentation address"),
    (_V4("224.0.0.0/4"), "a multicast address"),
    (_V4("240.0.0.0/4"), "a reserved address"),
)

#: IPv6 ranges refused outright (the embedding forms are handled separately).
_IPV6_REFUSED: tuple[tuple[IPv6Network, str], ...] = (
    (_V6("::/128"), "the unspecified address"),
    (_V6("::1/128"), "the loopback address"),
    (_V6("64:ff9b:1::/48"), "a local-use NAT64 address"),
    (_V6("100::/64"), "a discard-only address"),
    (_V6("2001:db8::/32"), "a documentation address"),
    (_V6("3fff::/20"), "a documentation address"),
    (_V6("fc00::/7"), "a unique-local (private) address"),
    (_V6("fe80::/10"), "a link-local address"),
    (_V6("fec0::/10"), "a site-local address"),
    (_V6("ff00::/8"), "a multicast address"),
)

_MAPPED = _V6("::ffff:0:0/96")
_NAT64 = _V6("64:ff9b::/96")
_TEREDO = _V6("2001::/32")
_SIXTOFOUR = _V6("2002::/16")
_IETF_V6 = _V6("2001::/23")
_GLOBAL_UNICAST = _V6("2000::/3")


def refusal_reason(address: IPAddress) -> str | None:
    """Say why ``address`` must not be connected to, or ``None`` if it is public.

    The reason names the range, e.g. ``"a private address (10.0.0.0/8)"``.
    """
    if isinstance(address, IPv4Address):
        for network, name in _IPV4_REFUSED:
            if address in network:
                return f"{name} ({network})"
        return None
    for network6, name in _IPV6_REFUSED:
        if address in network6:
            return f"{name} ({network6})"
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        form, inner = embedded
        for ipv4 in inner:
            reason = refusal_reason(ipv4)
            if reason is not None:
                return f"the {form} form of {ipv4}, {reason}"
        return None
    if address in _IETF_V6:
        return f"an IETF protocol assignment ({_IETF_V6})"
    if address not in _GLOBAL_UNICAST:
        return f"not a global unicast address (outside {_GLOBAL_UNICAST})"
    return None


def _embedded_ipv4(address: IPv6Address) -> tuple[str, tuple[IPv4Address, ...]] | None:
    """The IPv4 address(es) an IPv6 transition form carries, with the form's name."""
    if address in _MAPPED:
        return "IPv4-mapped", (IPv4Address(int(address) & 0xFFFFFFFF),)
    if address in _NAT64:
        return "NAT64", (IPv4Address(int(address) & 0xFFFFFFFF),)
    if address in _SIXTOFOUR:
        return "6to4", (IPv4Address((int(address) >> 80) & 0xFFFFFFFF),)
    if address in _TEREDO:
        # Teredo carries the server address in bits 32-63 and the client address,
        # bit-inverted, in the last 32 bits; both are reachable through it.
        server = IPv4Address((int(address) >> 64) & 0xFFFFFFFF)
        client = IPv4Address(~int(address) & 0xFFFFFFFF)
        return "Teredo", (server, client)
    return None


def parse_address(text: str) -> IPAddress:
    """Parse an IP literal (IPv6 may carry brackets or a zone); raise ``ValueError``."""
    return ipaddress.ip_address(text.strip("[]"))


@dataclass(frozen=True)
class AddressPolicy:
    """The address rule of the SSRF guard, with an explicit allow-list.

    ``allow`` lists networks that are allowed even though they are special (for tests and
    local development, e.g. ``["127.0.0.0/8", "::1/128"]``).  It is empty by default, and
    it is the only way to reach such an address.
    """

    allow: tuple[IPNetwork, ...] = ()

    @classmethod
    def allowing(cls, networks: Iterable[str | IPNetwork]) -> AddressPolicy:
        """Build a policy whose allow-list holds ``networks`` (CIDR strings or networks)."""
        return cls(tuple(ipaddress.ip_network(n) for n in networks))

    def reason(self, address: IPAddress) -> str | None:
        """Why ``address`` is refused under this policy, or ``None`` if it is allowed."""
        for network in self.allow:
            if address.version == network.version and address in network:
                return None
        return refusal_reason(address)

    def check(self, host: str, address: IPAddress) -> None:
        """Raise :class:`~activitypub_kit.errors.AddressRefusedError` unless allowed."""
        reason = self.reason(address)
        if reason is not None:
            raise AddressRefusedError(host, str(address), reason)


__all__ = ["AddressPolicy", "IPAddress", "IPNetwork", "parse_address", "refusal_reason"]

"""Name resolution for the outbound client, with the SSRF check built in.

The client never lets its transport look a name up by itself: the :class:`GuardedResolver`
asks a :class:`DnsResolver` once, refuses the whole answer if any address is refused, and
hands the transport exactly the addresses it checked, so the connection goes to a checked
address (no second lookup that a rebinding DNS server could answer differently).

The :class:`DnsResolver` is injectable: tests use :class:`StaticResolver` to give any name
any answer without sending a packet.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from aiohttp.abc import AbstractResolver, ResolveResult

from activitypub_kit.errors import ConnectionFailedError
from activitypub_kit.http._addresses import AddressPolicy, IPAddress, parse_address


@runtime_checkable
class DnsResolver(Protocol):
    """Resolves a host name to the IP addresses it names."""

    async def resolve(self, host: str) -> list[IPAddress]:
        """Return every address of ``host``; raise :class:`ConnectionFailedError` if none."""
        ...


class SystemResolver:
    """Resolves through the operating system (``getaddrinfo``), without blocking the loop."""

    async def resolve(self, host: str) -> list[IPAddress]:
        """Return the addresses ``getaddrinfo`` gives for ``host`` (TCP, any family)."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise ConnectionFailedError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
        addresses: list[IPAddress] = []
        for _family, _type, _proto, _canon, sockaddr in infos:
            address = parse_address(str(sockaddr[0]))
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise ConnectionFailedError(f"cannot resolve {host}: no addresses")
        return addresses


class StaticResolver:
    """A resolver with fixed answers, for tests and pinned deployments.

    ``answers`` maps a host name (case-insensitive) to its addresses.  A name that is not
    in the map fails to resolve; nothing is ever sent on the network.
    """

    def __init__(self, answers: Mapping[str, Iterable[str | IPAddress]]) -> None:
        self._answers = {
            host.lower().rstrip("."): [parse_address(str(a)) for a in addresses]
            for host, addresses in answers.items()
        }
        #: Every name asked for, in order (lets tests assert what was looked up).
        self.queries: list[str] = []

    async def resolve(self, host: str) -> list[IPAddress]:
        """Return the configured addresses of ``host``."""
        self.queries.append(host)
        addresses = self._answers.get(host.lower().rstrip("."))
        if not addresses:
            raise ConnectionFailedError(f"cannot resolve {host}: no such name")
        return list(addresses)


class GuardedResolver(AbstractResolver):
    """The aiohttp resolver of our transport: look up once, check every address, pin.

    If any address of the answer is refused the whole name is refused (a name that mixes
    public and private answers is an attack, not a misconfiguration).
    """

    def __init__(self, resolver: DnsResolver, policy: AddressPolicy) -> None:
        self._resolver = resolver
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve ``host``, refuse it if any address is refused, return the checked ones."""
        addresses = await self._resolver.resolve(host)
        for address in addresses:
            self._policy.check(host, address)
        if family == socket.AF_INET:
            addresses = [a for a in addresses if a.version == 4]
        elif family == socket.AF_INET6:
            addresses = [a for a in addresses if a.version == 6]
        return [
            {
                "hostname": host,
                "host": str(address),
                "port": port,
                "family": socket.AF_INET if address.version == 4 else socket.AF_INET6,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        """Nothing to release."""


__all__ = ["DnsResolver", "GuardedResolver", "StaticResolver", "SystemResolver"]

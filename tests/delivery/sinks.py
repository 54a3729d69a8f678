"""Many inbox servers in one process: one listening socket per "host" on 127.0.0.x:port.

:class:`SinkFarm` binds ``count`` sockets spread over loopback addresses (127.0.0.1,
127.0.0.2, ...), each one a distinct host for the delivery code (``127.0.0.7:40123``).  A
small HTTP/1.1 server (keep-alive, Content-Length bodies) answers every request as the
farm's ``behaviour`` decides: a status (with headers), a hang (no answer: the client's read
timeout fires), or a reset (RST).  Every complete POST is checked: signature (either
scheme, with our verification code and the sender's public key), ``Digest`` and
``Content-Digest`` against the body; the results are kept per host.

Run as a script it serves a farm for the benchmark in another process::

    python tests/delivery/sinks.py --hosts 1000 [--verify-every 50]

prints one JSON line ``{"hosts": [...]}`` when listening, then answers ``stats`` lines on
stdin with a JSON line of counters, and exits when stdin closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from activitypub_kit.signatures import (
    HttpRequest,
    parse_signature,
    verify_content_digest,
    verify_legacy_digest,
    verify_signature,
)

#: What a host does with one request: ("status", code, headers) / ("hang",) / ("reset",).
Action = tuple[Any, ...]
#: Decides the action from the host, how many requests it has received (1 = first) and
#: what it just received.
Behaviour = Callable[[str, int, "Received"], Action]

ACCEPTED: Action = ("status", 202, {})


@dataclass
class Received:
    """One complete POST a sink read, and the status it answered (``None``: no answer)."""

    activity: str | None
    scheme: str | None
    verified: bool
    answered: int | None


@dataclass
class SinkFarm:
    """The servers, their behaviour and what they received."""

    public_key: Any = None
    behaviour: Behaviour = lambda host, n, received: ACCEPTED
    verify_every: int = 1
    received: dict[str, list[Received]] = field(default_factory=lambda: defaultdict(list))
    connections: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    servers: list[asyncio.base_events.Server] = field(default_factory=list)
    total: int = 0
    #: Called after each request is handled (tests wait on conditions through it).
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    paused: asyncio.Event | None = None
    held: set[asyncio.Future[None]] = field(default_factory=set)

    async def start(self, count: int, *, per_address: int = 25) -> list[str]:
        """Listen on ``count`` sockets; return their hosts (``127.0.0.x:port``)."""
        loop = asyncio.get_running_loop()
        hosts = []
        for index in range(count):
            address = f"127.0.0.{1 + index // per_address}"
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, 0))
            host = f"{address}:{sock.getsockname()[1]}"
            server = await loop.create_server(
                lambda host=host: _Sink(self, host), sock=sock, backlog=256
            )
            self.servers.append(server)
            hosts.append(host)
        return hosts

    async def stop(self) -> None:
        """Close every listening socket and wait for them."""
        for server in self.servers:
            server.close()
        for server in self.servers:
            await server.wait_closed()
        self.servers.clear()

    def delivered(self, host: str, activity: str) -> int:
        """How many verified copies of ``activity`` ``host`` accepted (answered 2xx)."""
        return sum(
            1
            for r in self.received[host]
            if r.activity == activity and r.answered is not None and 200 <= r.answered < 300
        )

    def check(self, host: str, method: str, path: str, headers: list[tuple[str, str]],
              body: bytes) -> tuple[str | None, str | None, bool]:  # fmt: skip
        """Verify one request; return (activity id, scheme, verified)."""
        if path == "/raw":  # the benchmark's unsigned baseline
            return None, None, False
        sampled = self.public_key is not None and self.total % self.verify_every == 0
        if self.verify_every > 1 and not sampled:
            return None, None, False  # benchmark mode: only the sample is parsed
        activity = None
        try:
            activity = json.loads(body).get("id")
        except ValueError:
            self.problems.append(f"{host}: body is not JSON")
        request = HttpRequest(method, f"http://{host}{path}", headers, body)
        if not sampled:
            return activity, None, False
        try:
            parsed = parse_signature(request)
            result = verify_signature(request, parsed, self.public_key, now=time.time())
            verify_legacy_digest(request.headers.get("digest"), body)
            verify_content_digest(request.headers.get("content-digest"), body)
        except Exception as exc:  # recorded, asserted on by the tests
            self.problems.append(f"{host}: {type(exc).__name__}: {exc}")
            return activity, None, False
        return activity, result.scheme.value, True


class _Sink(asyncio.Protocol):
    def __init__(self, farm: SinkFarm, host: str) -> None:
        self.farm = farm
        self.host = host
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.farm.connections[self.host] += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.transport is None:
            return
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
        length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
        if len(self.buffer) < end + 4 + length:
            return
        body = self.buffer[end + 4 : end + 4 + length]
        self.buffer = self.buffer[end + 4 + length :]
        farm = self.farm
        farm.total += 1
        activity, scheme, verified = farm.check(self.host, method, path, headers, body)  # type: ignore[arg-type]
        seen = farm.received[self.host]
        received = Received(activity, scheme, verified, None)
        seen.append(received)
        action = farm.behaviour(self.host, len(seen), received)
        if farm.paused is not None and not farm.paused.is_set():
            self.busy = True
            task = asyncio.ensure_future(self._later(action, received))
            farm.held.add(task)
            task.add_done_callback(farm.held.discard)
        else:
            self._act(action, received)
        farm.changed.set()

    async def _later(self, action: Action, received: Received) -> None:
        assert self.farm.paused is not None
        await self.farm.paused.wait()
        self._act(action, received)

    def _act(self, action: Action, received: Received) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return  # the client went away: nothing was answered
        if action[0] == "hang":
            self.busy = True  # never answer; the client gives up and closes
            return
        if action[0] == "reset":
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.close()
            return
        _, status, extra = action
        head = f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
        transport.write(head.encode() + b"\r\n")
        received.answered = status
        self.busy = False
        if self.buffer:
            self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


@contextlib.asynccontextmanager
async def running(*workers: Any) -> AsyncIterator[None]:
    """Run queue workers in the background for the duration of an ``async with`` block."""
    import anyio

    async with anyio.create_task_group() as group:
        for worker in workers:
            group.start_soon(worker.run)
        try:
            yield
        finally:
            for worker in workers:
                await worker.stop(grace=5)


async def _serve(count: int, verify_every: int, key: Any) -> None:
    farm = SinkFarm(public_key=key, verify_every=verify_every)
    hosts = await farm.start(count)
    print(json.dumps({"hosts": hosts}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip() == b"stats":
            accepted = sum(len(v) for v in farm.received.values())
            verified = sum(1 for v in farm.received.values() for r in v if r.verified)
            print(json.dumps({
                "posts": accepted, "hosts_reached": len(farm.received),
                "verified": verified, "problems": farm.problems[:5],
                "connections": sum(farm.connections.values()),
            }), flush=True)  # fmt: skip
    await farm.stop()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--verify-every", type=int, default=50)
    parser.add_argument("--public-key", default=None)
    args = parser.parse_args()
    public_key = None
    if args.public_key:
        from pathlib import Path

        from activitypub_kit.signatures import load_public_key_pem

        public_key = load_public_key_pem(Path(args.public_key).read_bytes())
    asyncio.run(_serve(args.hosts, args.verify_every, public_key))

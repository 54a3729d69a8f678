"""POSTs per second through activitypub_kit's HttpClient, httpx's own pool and raw aiohttp.

A loopback sink (a minimal HTTP/1.1 server in a separate process, so it does not compete
for the client's event loop) answers every POST with ``202 Accepted``.  Each client posts a
small activity at concurrency 1, 16 and 64; rounds are interleaved and the median of each
cell is reported, which keeps the comparison fair on a shared, noisy machine.  Besides raw
aiohttp (default settings: no read timeout), aiohttp with our 5/10/30 s timeouts is shown,
since the per-read timer is a measurable part of the difference.

    python benchmarks/http_client.py            # table
    python benchmarks/http_client.py --json     # one JSON object
    python benchmarks/http_client.py --seconds 2 --rounds 5
"""

from __future__ import annotations

import sys

# benchmarks/queue.py shares its name with the stdlib module ``queue``: running a script
# from this folder would import that file wherever a library imports ``queue``.
if sys.path and sys.path[0] and __file__.startswith(sys.path[0]):
    sys.path.pop(0)

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx

from activitypub_kit.http import HttpClient, HttpSettings, StaticResolver

SINK = r"""
import asyncio

class Sink(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at)
                length = int(head[at + 15 : stop if stop >= 0 else len(head)])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(
                b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nServer: sink\r\n\r\n"
            )

async def main():
    server = await asyncio.get_running_loop().create_server(Sink, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Future()

asyncio.run(main())
"""

ACTIVITY = json.dumps(
    {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://kit.example/activities/1",
        "type": "Create",
        "actor": "https://kit.example/users/alice",
        "object": {"type": "Note", "content": "hello " * 40},
    }
).encode()
HEADERS = {"Content-Type": "application/activity+json"}
CONCURRENCY = (1, 16, 64)

Post = Callable[[], Awaitable[None]]


async def rate(post: Post, concurrency: int, seconds: float) -> float:
    """Requests per second with ``concurrency`` workers posting for ``seconds``."""
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await post()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


async def ours(url: str, concurrency: int, seconds: float) -> float:
    resolver = StaticResolver({"sink.test": ["127.0.0.1"]})
    async with HttpClient(HttpSettings.for_local_testing(), resolver=resolver) as client:

        async def post() -> None:
            response = await client.post(url, ACTIVITY, headers=HEADERS)
            assert response.status_code == 202

        await post()
        return await rate(post, concurrency, seconds)


async def httpx_pool(url: str, concurrency: int, seconds: float) -> float:
    async with httpx.AsyncClient() as client:

        async def post() -> None:
            response = await client.post(
                url.replace("sink.test", "127.0.0.1"), content=ACTIVITY, headers=HEADERS
            )
            assert response.status_code == 202

        await post()
        return await rate(post, concurrency, seconds)


async def raw_aiohttp(url: str, concurrency: int, seconds: float) -> float:
    async with aiohttp.ClientSession() as session:
        target = url.replace("sink.test", "127.0.0.1")

        async def post() -> None:
            async with session.post(target, data=ACTIVITY, headers=HEADERS) as response:
                await response.read()
                assert response.status == 202

        await post()
        return await rate(post, concurrency, seconds)


async def aiohttp_with_timeouts(url: str, concurrency: int, seconds: float) -> float:
    """Raw aiohttp with the same 5/10/30 s timeouts as our client (read timer included)."""
    timeout = aiohttp.ClientTimeout(total=30, sock_connect=5, sock_read=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        target = url.replace("sink.test", "127.0.0.1")

        async def post() -> None:
            async with session.post(target, data=ACTIVITY, headers=HEADERS) as response:
                await response.read()
                assert response.status == 202

        await post()
        return await rate(post, concurrency, seconds)


CLIENTS = {
    "activitypub_kit": ours,
    "httpx": httpx_pool,
    "aiohttp": raw_aiohttp,
    "aiohttp_timeouts": aiohttp_with_timeouts,
}


async def measure(
    port: int, seconds: float, rounds: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Median POSTs/s per client and concurrency, and median per-round ratios.

    Within a round the three clients run back to back at one concurrency, so each ratio
    compares runs made under the same machine load; the median over rounds damps noise.
    """
    url = f"http://sink.test:{port}/inbox"
    samples: dict[str, list[float]] = {}
    paired: dict[str, list[float]] = {}
    for _ in range(rounds):
        for concurrency in CONCURRENCY:
            got = {name: await run(url, concurrency, seconds) for name, run in CLIENTS.items()}
            for name, value in got.items():
                samples.setdefault(f"{name}_c{concurrency}", []).append(value)
            mine = got["activitypub_kit"]
            paired.setdefault(f"vs_aiohttp_c{concurrency}", []).append(mine / got["aiohttp"])
            paired.setdefault(f"vs_httpx_c{concurrency}", []).append(mine / got["httpx"])
            paired.setdefault(f"vs_aiohttp_timeouts_c{concurrency}", []).append(
                mine / got["aiohttp_timeouts"]
            )
    figures = {key: round(statistics.median(v), 1) for key, v in samples.items()}
    ratios = {key: round(statistics.median(v), 3) for key, v in paired.items()}
    return figures, ratios


def pin(sink_pid: int) -> None:
    """Keep the client and the sink on different cores, when there are two to spare.

    Without this the scheduler moves both processes around, and on a shared machine the
    spread between runs swamps the differences being measured.
    """
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) >= 2:
        os.sched_setaffinity(0, {cores[0]})
        os.sched_setaffinity(sink_pid, {cores[1]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=0.6, help="per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    args = parser.parse_args()
    sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE)
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline())
        pin(sink.pid)
        figures, result = asyncio.run(measure(port, args.seconds, args.rounds))
    finally:
        sink.kill()
        sink.wait()
    if args.json:
        print(json.dumps({"benchmark": "http_client", "figures": figures, "ratios": result}))
        return
    print("POSTs/s to a loopback sink (medians of interleaved rounds; ratios paired per round)")
    columns = ("conc", "ours", "httpx", "aiohttp", "aiohttp+t", "/aiohttp", "/aiohttp+t", "/httpx")
    widths = (5, 8, 7, 8, 10, 9, 11, 7)
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for c in CONCURRENCY:
        row = (
            c,
            f"{figures[f'activitypub_kit_c{c}']:.0f}",
            f"{figures[f'httpx_c{c}']:.0f}",
            f"{figures[f'aiohttp_c{c}']:.0f}",
            f"{figures[f'aiohttp_timeouts_c{c}']:.0f}",
            f"{result[f'vs_aiohttp_c{c}']:.2f}",
            f"{result[f'vs_aiohttp_timeouts_c{c}']:.2f}",
            f"{result[f'vs_httpx_c{c}']:.1f}",
        )
        print(" ".join(f"{v:>{w}}" for v, w in zip(row, widths, strict=True)))
    print("aiohttp+t = raw aiohttp with the same 5/10/30 s connect/read/total timeouts")


if __name__ == "__main__":
    main()

"""Inbox throughput: signed activities accepted per second by one server process.

    python benchmarks/inbox.py            # table
    python benchmarks/inbox.py --json     # {"benchmark": "inbox", "figures": ..., "ratios": ...}

A Federation app runs in its own process (uvicorn, one event loop, pinned to one core) and
receives pre-signed ``Like`` activities (draft-cavage, RSA-2048, each with its own id) over
loopback HTTP from this process (pinned to the other core): every request is read, parsed,
verified (signature, key owner, origin rules, domain hook, idempotency), enqueued, and
answered 202.  The sender's key is fetched once from a loopback key server and then cached,
as it would be for a busy peer.  Measured with the in-memory queue and with SQLite (a
durable enqueue per request).

Baselines in the same run: the raw RSA-2048 PKCS#1 v1.5 verify rate of ``cryptography`` on
one core (the floor of the signature check), and a bare ASGI app under the same uvicorn that
reads the body and answers 202 (the HTTP floor).
"""

from __future__ import annotations

import sys

# benchmarks/queue.py shadows the stdlib module ``queue``: drop this folder from the path.
if sys.path and sys.path[0] and __file__.startswith(sys.path[0]):
    sys.path.pop(0)

import argparse
import asyncio
import json
import os
import socket
import subprocess
import tempfile
import time
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from activitypub_kit.signatures import (
    HttpRequest,
    generate_rsa_key,
    public_key_entry,
    sign_cavage,
)

AS = "https://www.w3.org/ns/activitystreams"
COUNT = 1500
CONCURRENCY = 16

SERVER = r"""
import socket, sys, asyncio
import uvicorn
from activitypub_kit.http import HttpClient, HttpSettings, StaticResolver
from activitypub_kit.models import Person
from activitypub_kit.server import Federation
from activitypub_kit.storage import SqliteQueue, SqliteStore, SqliteDatabase

mode, path = sys.argv[1], sys.argv[2]
sock = socket.socket()
# Accepted sockets inherit TCP_NODELAY; uvicorn does not set it on sockets it is given.
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
sock.bind(("127.0.0.1", 0)); sock.listen(1024)
port = sock.getsockname()[1]

async def raw(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 202,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"status":"accepted"}'})

if mode == "raw":
    app = raw
else:
    client = HttpClient(HttpSettings.for_local_testing(),
                        resolver=StaticResolver({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]}))
    options = {}
    if mode == "sqlite":
        db = SqliteDatabase(path)
        options = {"queue": SqliteQueue(db), "store": SqliteStore(db)}
    fed = Federation(f"http://a.test:{port}", client=client, **options)

    @fed.actor("/users/{handle}")
    async def actor(ctx, handle):
        return Person(id=ctx.actor_uri(handle)) if handle == "alice" else None

    app = fed.asgi(run_worker=False)

print(port, flush=True)
config = uvicorn.Config(app, lifespan="off", log_level="error", access_log=False)
uvicorn.Server(config).run(sockets=[sock])
"""


def pin(server_pid: int) -> None:
    """Client and server on different cores, when there are two."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) >= 2:
        os.sched_setaffinity(0, {cores[0]})
        os.sched_setaffinity(server_pid, {cores[1]})


def rsa_verify_rate(key: Any, seconds: float) -> float:
    data = b"(request-target): post /users/alice/inbox\nhost: a.test\ndate: x\ndigest: y"
    signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    public = key.public_key()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        count += 200
    return count / (time.perf_counter() - start)


def presign(key: Any, key_id: str, actor: str, port: int, count: int, tag: str) -> list[tuple]:
    url = f"http://a.test:{port}/users/alice/inbox"
    prepared = []
    for n in range(count):
        body = json.dumps(
            {
                "@context": AS,
                "id": f"{actor}/likes/{tag}-{n}",
                "type": "Like",
                "actor": actor,
                "object": f"http://a.test:{port}/notes/1",
            }
        ).encode()
        request = HttpRequest("POST", url, [("Content-Type", "application/activity+json")], body)
        signed = sign_cavage(request, key, key_id)
        prepared.append((body, dict(signed.headers.items())))
    return prepared


async def fire(port: int, prepared: list[tuple]) -> tuple[float, dict[int, int]]:
    statuses: dict[int, int] = {}
    url = f"http://127.0.0.1:{port}/users/alice/inbox"
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        body, headers = prepared[0]  # warm-up: fetches and caches the sender's key
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
        queue = list(prepared[1:])
        start = time.perf_counter()

        async def worker() -> None:
            while queue:
                body, headers = queue.pop()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - start
    return (len(prepared) - 1) / elapsed, statuses


def start_server(mode: str, path: str) -> tuple[subprocess.Popen[bytes], int]:
    process = subprocess.Popen([sys.executable, "-c", SERVER, mode, path], stdout=subprocess.PIPE)
    assert process.stdout is not None
    port = int(process.stdout.readline())
    pin(process.pid)
    return process, port


async def key_server(key: Any) -> tuple[web.AppRunner, str, str]:
    holder: dict[str, Any] = {}

    async def actor(request: web.Request) -> web.Response:
        return web.json_response(holder["doc"], content_type="application/activity+json")

    app = web.Application()
    app.router.add_get("/users/sender", actor)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    actor_id = f"http://b.test:{sock.getsockname()[1]}/users/sender"
    holder["doc"] = {
        "@context": [AS, "https://w3id.org/security/v1"],
        "id": actor_id,
        "type": "Person",
        "inbox": actor_id + "/inbox",
        "publicKey": public_key_entry(key, key_id=actor_id + "#main-key", owner=actor_id),
    }
    return runner, actor_id, actor_id + "#main-key"


async def measure(count: int, seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    key = generate_rsa_key()
    runner, actor_id, key_id = await key_server(key)
    figures: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            for mode in ("raw", "memory", "sqlite"):
                process, port = start_server(mode, os.path.join(folder, f"{mode}.sqlite"))
                try:
                    prepared = presign(key, key_id, actor_id, port, count, mode)
                    rate, statuses = await fire(port, prepared)
                finally:
                    process.kill()
                    process.wait()
                if statuses != {202: count - 1}:
                    raise SystemExit(f"{mode}: unexpected statuses {statuses}")
                figures[f"{mode}_per_s"] = round(rate, 1)
    finally:
        await runner.cleanup()
    figures["rsa_verify_per_s"] = round(rsa_verify_rate(key, seconds), 1)
    ratios = {
        "memory_vs_rsa_verify": round(figures["memory_per_s"] / figures["rsa_verify_per_s"], 3),
        "memory_vs_raw_http": round(figures["memory_per_s"] / figures["raw_per_s"], 3),
        "sqlite_vs_memory": round(figures["sqlite_per_s"] / figures["memory_per_s"], 3),
    }
    renamed = {
        "accepted_per_s_memory_queue": figures["memory_per_s"],
        "accepted_per_s_sqlite_queue": figures["sqlite_per_s"],
        "raw_http_202_per_s": figures["raw_per_s"],
        "rsa_verify_per_s": figures["rsa_verify_per_s"],
    }
    return renamed, ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--count", type=int, default=COUNT, help="activities per measurement")
    parser.add_argument("--seconds", type=float, default=1.0, help="of RSA verify baseline")
    args = parser.parse_args()
    figures, ratios = asyncio.run(measure(args.count, args.seconds))
    if args.json:
        print(json.dumps({"benchmark": "inbox", "figures": figures, "ratios": ratios}))
        return
    print(f"Signed activities accepted per second ({args.count} POSTs, {CONCURRENCY} in flight)")
    for name, value in figures.items():
        print(f"  {name:<30} {value:>10.1f}")
    print("Ratios")
    for name, value in ratios.items():
        print(f"  {name:<30} {value:>10.3f}")


if __name__ == "__main__":
    main()

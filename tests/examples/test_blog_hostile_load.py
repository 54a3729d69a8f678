"""The running blog (its documented ``serve`` command, another process) stays responsive
while hostile bodies are refused: a GET of the actor keeps answering within 100 ms while
other connections post bodies built to cost CPU before authentication (many inline
contexts, many values, deep nesting) and an ``RsaSignature2017`` over a blank-node graph
that is factorial work for URDNA2015, signed with a real key the blog can fetch.
"""

from __future__ import annotations

import base64
import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from activitypub_kit.signatures import generate_rsa_key, public_key_entry
from activitypub_kit.testing import wait_until
from loopback import LoopbackServer

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
AS = "https://www.w3.org/ns/activitystreams"
AP = {"Accept": "application/activity+json"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Eve:
    """A real actor with a real RSA key, served on loopback (the blog fetches her key)."""

    def __init__(self, server: LoopbackServer) -> None:
        self.id = server.url("/users/eve")
        self.key_id = self.id + "#main-key"
        key = generate_rsa_key()
        server.json(
            "/users/eve",
            {
                "@context": [AS, "https://w3id.org/security/v1"],
                "id": self.id,
                "type": "Person",
                "inbox": self.id + "/inbox",
                "publicKey": public_key_entry(key, key_id=self.key_id, owner=self.id),
            },
        )


def hostile_bodies(inbox: str, eve: Eve) -> list[bytes]:
    base = {"@context": AS, "type": "Like", "actor": eve.id, "object": inbox}
    contexts = [{"@context": {f"t{i}": f"https://x.test/{i}"}, "n": i} for i in range(10_000)]
    values = list(range(100_000))
    deep: Any = {}
    for _ in range(40):
        deep = {"a": [deep, {"b": deep}]} if len(json.dumps(deep)) < 200_000 else {"a": deep}
    # Seven blank nodes that all reference each other: URDNA2015 has to try permutations.
    labels = [f"_:b{i}" for i in range(7)]
    graph = [
        {"@id": label, "https://x.test/p": [{"@id": other} for other in labels if other != label]}
        for label in labels
    ]
    ld_bomb = {
        "@context": [AS, "https://w3id.org/security/v1"],
        "id": eve.id + "/bomb",
        "type": "Like",
        "actor": eve.id,
        "object": inbox,
        "https://x.test/graph": graph,
        "signature": {
            "type": "RsaSignature2017",
            "creator": eve.key_id,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "signatureValue": base64.b64encode(bytes(256)).decode(),  # RSA-2048 length
        },
    }
    # No label at all, signed with eve's real key by name: two id-less notes holding the
    # same nine tags make URDNA2015's blank-node hashing factorial.
    note = {"type": "Note", "content": "x", "tag": [{"type": "Hashtag", "name": "#a"}] * 9}
    alike = {**ld_bomb, "id": eve.id + "/alike", "object": [note, note]}
    del alike["https://x.test/graph"]
    return [
        json.dumps(alike).encode(),
        json.dumps({**base, "id": eve.id + "/c", "attachment": contexts}).encode(),
        json.dumps({**base, "id": eve.id + "/v", "content": values}).encode(),
        json.dumps({**base, "id": eve.id + "/d", "content": deep}).encode(),
        json.dumps(ld_bomb).encode(),
    ]


def write_bodies(folder: Path, bodies: list[bytes]) -> list[str]:
    paths = [folder / f"hostile-{index}.json" for index in range(len(bodies))]
    for path, body in zip(paths, bodies, strict=True):
        path.write_bytes(body)
    return [str(path) for path in paths]


async def test_a_get_stays_fast_while_hostile_bodies_are_refused(tmp_path):
    port = _free_port()
    origin = f"http://127.0.0.1:{port}"
    keys = await LoopbackServer("127.0.0.1").start()
    eve = Eve(keys)
    command = [sys.executable, "-m", "examples.blog", "serve", "--bind", f"127.0.0.1:{port}"]
    command += ["--origin", origin, "--data", str(tmp_path / "data"), "--allow-private-network"]
    process = await anyio.open_process(command, cwd=ROOT)
    try:
        async with httpx.AsyncClient(timeout=60) as http:

            async def answering() -> bool:
                if process.returncode is not None:
                    raise AssertionError(f"serve exited with {process.returncode}")
                try:
                    await http.get(origin + "/users/author", headers=AP)
                except httpx.TransportError:
                    return False
                return True

            await wait_until(answering, within=60, message="the blog answering")
            inbox = origin + "/users/author/inbox"
            bodies = hostile_bodies(inbox, eve)
            statuses: list[int] = []
            reasons: list[str] = []
            latencies: list[float] = []
            done = anyio.Event()

            # The attacker is another process (not the client whose latency we read): one
            # thread per hostile body, each posting it three times.
            script = (
                "import json, sys, threading, urllib.request, urllib.error\n"
                "lock = threading.Lock()\n"
                "def say(*answer):\n"
                "    with lock:\n"
                "        print(json.dumps(answer), flush=True)\n"
                "def attack(path, rounds):\n"
                "    data = open(path, 'rb').read()\n"
                "    for _ in range(rounds):\n"
                "        request = urllib.request.Request(sys.argv[1], data=data, headers="
                "{'Content-Type': 'application/activity+json'})\n"
                "        try:\n"
                "            urllib.request.urlopen(request)\n"
                "            say(200, '')\n"
                "        except urllib.error.HTTPError as error:\n"
                "            reason = json.loads(error.read())['error']\n"
                "            say(error.code, reason)\n"
                "rounds = int(sys.argv[2])\n"
                "threads = [threading.Thread(target=attack, args=(p, rounds))"
                " for p in sys.argv[3:]]\n"
                "for t in threads: t.start()\n"
                "for t in threads: t.join()\n"
            )
            paths = write_bodies(tmp_path, bodies)

            async def attack(rounds: int, *files: str) -> None:
                run = await anyio.run_process(
                    [sys.executable, "-c", script, inbox, str(rounds), *files]
                )
                for line in run.stdout.decode().splitlines():
                    code, reason = json.loads(line)
                    statuses.append(code)
                    reasons.append(reason)

            # Once before measuring: the blog starts its JSON-LD worker process on first need
            # (about a second of CPU, once per server process; not a request's cost).
            await attack(1, paths[0])

            async def probe() -> None:
                while not done.is_set():
                    started = time.perf_counter()
                    response = await http.get(origin + "/users/author", headers=AP)
                    latencies.append(time.perf_counter() - started)
                    assert response.status_code == 200
                    await anyio.sleep(0.005)

            async with anyio.create_task_group() as group:
                group.start_soon(probe)
                await attack(3, *paths)
                done.set()
            assert set(statuses) == {400, 401}, statuses
            assert len(statuses) == 1 + 3 * len(bodies)
            assert all(reasons), reasons  # each refusal says why
            # The LD bomb reached the bounded canonicalisation and was stopped there.
            assert any("permutations" in r or "longer than" in r for r in reasons), reasons
            assert len(latencies) >= 5
            # A responsiveness bound (no request may hold the server's event loop), not a
            # speed figure: 100 ms is ten times what one refused body costs here.
            assert max(latencies) < 0.1, sorted(latencies)[-5:]
    finally:
        process.terminate()
        with anyio.move_on_after(10):
            await process.wait()
        if process.returncode is None:
            process.kill()
        await process.aclose()
        await keys.stop()

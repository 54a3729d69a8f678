"""Drive the Fedify peer process (``fedify_peer.mjs``) from the tests.

:class:`FedifyPeer` starts the process, reads the port it announces, and talks to its
``/_test/*`` control endpoints over loopback; :meth:`FedifyPeer.wait_for` polls its state
until a condition holds (a deadline, not a sleep).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import httpx

from activitypub_kit.testing import wait_until

State = dict[str, Any]


class FedifyPeer:
    """A running Fedify application with one actor, ``bob``."""

    def __init__(self, process: anyio.abc.Process, origin: str, log: Path) -> None:
        self.process = process
        self.origin = origin
        self.log = log
        self.http = httpx.AsyncClient(base_url=origin, timeout=30.0)

    @classmethod
    async def start(
        cls, command: list[str], *, cwd: Path, env: dict[str, str], log: Path
    ) -> FedifyPeer:
        """Run ``command`` and wait (20 s at most) for its ``{"port": N}`` line."""
        errors = log.open("wb")
        process = await anyio.open_process(command, cwd=cwd, env=env, stderr=errors)
        errors.close()
        assert process.stdout is not None
        line = b""
        try:
            with anyio.fail_after(20):
                while not line.endswith(b"\n"):
                    line += await process.stdout.receive()
        except (TimeoutError, anyio.EndOfStream):
            process.kill()
            await process.aclose()
            raise AssertionError(f"the Fedify peer did not start: {_tail(log)}") from None
        announced = json.loads(line)
        return cls(process, announced["origin"], log)

    async def stop(self) -> None:
        """Kill the process and close the control client."""
        await self.http.aclose()
        if self.process.returncode is None:
            self.process.kill()
        await self.process.aclose()

    @property
    def actor(self) -> str:
        """The id of the peer's actor, ``bob``."""
        return f"{self.origin}/users/bob"

    @property
    def handle(self) -> str:
        """``bob@127.0.0.1:PORT``."""
        return f"bob@{self.origin.split('://', 1)[1]}"

    def uri(self, path: str) -> str:
        """An absolute URI on the peer."""
        return self.origin + path

    async def _call(self, path: str, payload: dict[str, Any]) -> Any:
        response = await self.http.post(path, json=payload)
        if response.status_code != 200:
            raise AssertionError(
                f"Fedify {path} answered {response.status_code}: {response.text[:2000]}"
                f"\n--- peer log ---\n{_tail(self.log)}"
            )
        return response.json()

    async def state(self) -> State:
        """What the peer received: ``received`` activities, inbox ``requests``, ``followers``."""
        response = await self.http.get("/_test/state")
        response.raise_for_status()
        found: State = response.json()
        return found

    async def lookup(self, identifier: str) -> dict[str, Any]:
        """Fedify's ``lookupObject`` of a handle (through WebFinger) or a URL."""
        found: dict[str, Any] = await self._call("/_test/lookup", {"id": identifier})
        return found

    async def send(self, activity: dict[str, Any], to: str) -> str:
        """Have Fedify sign and deliver ``activity`` (as bob) to the actor ``to``."""
        answer = await self._call("/_test/send", {"activity": activity, "to": to})
        return str(answer["id"])

    async def as_sent(self, activity: dict[str, Any]) -> bytes:
        """The exact body Fedify POSTs for ``activity`` (it adds a proof and an LD signature)."""
        answer = await self._call("/_test/as-sent", {"activity": activity})
        return str(answer["body"]).encode()

    async def ld_signed(self, activity: dict[str, Any]) -> bytes:
        """``activity`` with only an LD signature (``RsaSignature2017``) by bob."""
        answer = await self._call("/_test/ld-sign", {"activity": activity})
        return str(answer["body"]).encode()

    async def delete_account(self, to: str) -> str:
        """Bob's account is deleted (his actor and key answer 410); Fedify tells ``to``."""
        answer = await self._call("/_test/gone", {"to": to})
        return str(answer["id"])

    async def wait_for(self, condition: Callable[[State], bool], what: str) -> State:
        """Poll the peer's state until ``condition`` holds (20 s deadline); return the state."""
        seen: State = {}

        async def holds() -> bool:
            nonlocal seen
            seen = await self.state()
            return condition(seen)

        try:
            await wait_until(holds, within=20.0, interval=0.05, message=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; peer state: {json.dumps(seen)[:3000]}") from None
        return seen

    async def received(self, kind: str, **where: Any) -> dict[str, Any]:
        """Wait until the peer's inbox listeners saw a ``kind`` activity matching ``where``."""
        state = await self.wait_for(
            lambda s: any(_matches(a, kind, where) for a in s["received"]),
            f"Fedify receiving a {kind} {where}",
        )
        return next(a for a in state["received"] if _matches(a, kind, where))


class InboxRequests:
    """ASGI wrapper that notes, for every POST, the signature scheme it carried and our answer."""

    def __init__(self, app: Any) -> None:
        self.app = app
        #: ``(path, scheme, status)`` per POST, scheme ``rfc9421``, ``draft-cavage`` or ``none``.
        self.seen: list[tuple[str, str, int]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        names = {name.lower() for name, _value in scope["headers"]}
        if b"signature-input" in names:
            scheme = "rfc9421"
        elif b"signature" in names:
            scheme = "draft-cavage"
        else:
            scheme = "none"

        async def noting(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.seen.append((scope["path"], scheme, message["status"]))
            await send(message)

        await self.app(scope, receive, noting)


def _tail(log: Path) -> str:
    """The end of the peer's stderr, for failure messages."""
    return log.read_text(errors="replace")[-2000:]


def _matches(activity: dict[str, Any], kind: str, where: dict[str, Any]) -> bool:
    return activity.get("type") == kind and all(activity.get(k) == v for k, v in where.items())


__all__ = ["FedifyPeer", "InboxRequests"]

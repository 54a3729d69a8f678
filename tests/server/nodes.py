"""Federation nodes on loopback (uvicorn) for tests: the ``start_node`` fixture and keys."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
from social import Node

from activitypub_kit.http import HttpClient, HttpSettings
from activitypub_kit.signatures import PrivateKey, generate_ed25519_key, generate_rsa_key
from loopback import resolver_with

__all__ = ["keys_for", "start_node"]

_RSA_POOL: list[Any] = []
_ASSIGNED: dict[str, list[PrivateKey]] = {}


def keys_for(name: str) -> list[PrivateKey]:
    """An RSA and an Ed25519 key per actor, RSA keys drawn from a pool made once per run."""
    found = _ASSIGNED.get(name)
    if found is None:
        index = len(_ASSIGNED)
        while len(_RSA_POOL) <= index:
            _RSA_POOL.append(generate_rsa_key())
        found = _ASSIGNED[name] = [_RSA_POOL[index], generate_ed25519_key()]
    return found


StartNode = Callable[..., Awaitable[Node]]


@pytest.fixture
async def start_node() -> AsyncIterator[StartNode]:
    """Start Federation nodes (``start_node("a.test", users=...)``); all stop after the test."""
    nodes: list[Node] = []
    clients: list[HttpClient] = []
    async with anyio.create_task_group() as group:

        async def start(
            host: str,
            *,
            users: dict[str, str] | None = None,
            app: Any = None,
            worker: bool = True,
            **options: Any,
        ) -> Node:
            http = HttpClient(HttpSettings.for_local_testing(), resolver=resolver_with())
            clients.append(http)
            node = Node(host, http, keys_for, **options)
            node.state.users.update(users or {})
            await node.serve(group, app(node) if app is not None else None)
            if worker:
                await group.start(_run_worker, node)
            nodes.append(node)
            return node

        try:
            yield start
        finally:
            for node in nodes:
                await node.stop()
            group.cancel_scope.cancel()
    for http in clients:
        await http.aclose()


async def _run_worker(node: Node, *, task_status: Any) -> None:
    async with node.fed.running(concurrency=4, poll_wait=0.2):
        task_status.started()
        await anyio.sleep_forever()

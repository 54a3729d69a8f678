"""Fixtures: Federation nodes on loopback (uvicorn), loopback servers, a loopback client."""

from nodes import start_node

from loopback import anyio_backend, client, start_server

__all__ = ["anyio_backend", "client", "start_node", "start_server"]

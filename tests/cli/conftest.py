"""Fixtures: loopback servers and a client allowed to reach them (see tests/loopback.py)."""

from loopback import anyio_backend, client, start_server

__all__ = ["anyio_backend", "client", "start_server"]

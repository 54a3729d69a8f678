"""Fixtures for the examples: the Federation nodes and loopback helpers of tests/server."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from nodes import start_node

from loopback import anyio_backend, client, start_server

__all__ = ["anyio_backend", "client", "start_node", "start_server"]

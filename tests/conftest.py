"""Fixtures shared by the whole suite: the external corpus and the real services."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# The exported conformance suites use plain asserts: let pytest explain their failures.
# This must run before any test module imports activitypub_kit.testing.
pytest.register_assert_rewrite("activitypub_kit.testing")

ROOT = Path(__file__).resolve().parent.parent


def services_required() -> bool:
    """True when absent services or corpus must fail the run instead of skipping (CI)."""
    return os.environ.get("ACTIVITYPUB_KIT_REQUIRE_SERVICES") == "1"


def absent(reason: str) -> None:
    """Skip the current test because something it needs is absent, or fail under CI."""
    if services_required():
        pytest.fail(f"{reason} (ACTIVITYPUB_KIT_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(reason)


def corpus_path() -> Path:
    """Where the shared external corpus lives (``ACTIVITYPUB_KIT_CORPUS``)."""
    configured = os.environ.get("ACTIVITYPUB_KIT_CORPUS")
    return Path(configured) if configured else ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The external test corpus; skips (or fails under CI) when it is absent."""
    path = corpus_path()
    if not (path / "README.md").is_file():
        absent(f"external corpus not found at {path}; set ACTIVITYPUB_KIT_CORPUS")
    return path


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the real PostgreSQL server (``ACTIVITYPUB_KIT_POSTGRES_URL``)."""
    url = os.environ.get("ACTIVITYPUB_KIT_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
    if not _reachable(url, 5432):
        absent(f"PostgreSQL is not reachable at {url}; set ACTIVITYPUB_KIT_POSTGRES_URL")
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis server (``ACTIVITYPUB_KIT_REDIS_URL``)."""
    url = os.environ.get("ACTIVITYPUB_KIT_REDIS_URL", "redis://127.0.0.1:6379/0")
    if not _reachable(url, 6379):
        absent(f"Redis is not reachable at {url}; set ACTIVITYPUB_KIT_REDIS_URL")
    return url

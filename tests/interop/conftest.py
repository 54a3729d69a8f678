"""Fixtures for interop with a real Fedify server: the Node.js install and the peer process.

The first run installs Node.js 22 (npm package ``node@22``) and Fedify into
``tests/interop/.node/`` (git-ignored; ``ACTIVITYPUB_KIT_INTEROP_CACHE`` moves it); later
runs reuse it.  Without npm, or when the install fails, the tests skip with the reason,
except under ``ACTIVITYPUB_KIT_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from fedify import FedifyPeer
from nodes import start_node

from loopback import anyio_backend

__all__ = ["anyio_backend", "fedify_runtime", "start_fedify", "start_node"]

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "fedify_peer.mjs"
#: Exact versions: the interop claim is about these releases.
FEDIFY_VERSION = "2.3.6"
PACKAGES = ("node@22", f"@fedify/fedify@{FEDIFY_VERSION}", f"@fedify/vocab@{FEDIFY_VERSION}")
INSTALL_TIMEOUT = 240.0


def absent(config: pytest.Config, reason: str) -> None:
    """The suite's ``absent`` (tests/conftest.py): skip, or fail under CI."""
    suite = config.pluginmanager.get_plugin(str(HERE.parent / "conftest.py"))
    assert suite is not None, "tests/conftest.py is not loaded"
    suite.absent(reason)


def cache_dir() -> Path:
    """Where Node.js and Fedify are installed (``ACTIVITYPUB_KIT_INTEROP_CACHE``)."""
    configured = os.environ.get("ACTIVITYPUB_KIT_INTEROP_CACHE")
    return Path(configured) if configured else HERE / ".node"


def _version(package_json: Path) -> str | None:
    try:
        return str(json.loads(package_json.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def _node_binary(cache: Path) -> Path | None:
    """The Node.js >= 22 binary of a complete install in ``cache``, else ``None``."""
    modules = cache / "node_modules"
    for name in ("fedify", "vocab"):
        if _version(modules / "@fedify" / name / "package.json") != FEDIFY_VERSION:
            return None
    binary = modules / "node" / "bin" / "node"
    if not binary.is_file():
        return None
    try:
        shown = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    major = shown.lstrip("v").split(".")[0]
    return binary if major.isdigit() and int(major) >= 22 else None


@pytest.fixture(scope="session")
def fedify_runtime(pytestconfig: pytest.Config) -> tuple[Path, Path]:
    """``(node binary, install folder)``, installing Node.js 22 and Fedify when missing."""
    cache = cache_dir()
    binary = _node_binary(cache)
    if binary is None:
        npm = shutil.which("npm")
        if npm is None:
            absent(
                pytestconfig, "npm is not installed: cannot install Fedify for the interop tests"
            )
        assert npm is not None
        cache.mkdir(parents=True, exist_ok=True)
        manifest = cache / "package.json"
        if not manifest.exists():  # keeps npm from looking for a project further up
            manifest.write_text('{"private": true, "name": "activitypub-kit-interop"}\n')
        command = [npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache), *PACKAGES]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            absent(
                pytestconfig,
                f"npm install of {' '.join(PACKAGES)} took over {INSTALL_TIMEOUT:.0f} s",
            )
        except OSError as exc:
            absent(pytestconfig, f"npm could not run: {exc}")
        else:
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                absent(
                    pytestconfig, f"npm install of {' '.join(PACKAGES)} failed: {' | '.join(tail)}"
                )
        binary = _node_binary(cache)
        if binary is None:
            absent(
                pytestconfig,
                f"npm install finished but {cache} holds no usable Node.js 22 + Fedify",
            )
    assert binary is not None
    return binary, cache


StartFedify = Callable[..., Awaitable[FedifyPeer]]


@pytest.fixture
async def start_fedify(
    fedify_runtime: tuple[Path, Path], tmp_path: Path
) -> AsyncIterator[StartFedify]:
    """Start Fedify peers on 127.0.0.1 (``await start_fedify(first_knock=...)``).

    Every peer process is killed after the test; its stderr is kept in ``tmp_path``.
    """
    binary, cache = fedify_runtime
    # ESM resolves packages from the script's own folder: run a copy next to node_modules.
    script = cache / SCRIPT.name
    shutil.copyfile(SCRIPT, script)
    peers: list[FedifyPeer] = []

    async def start(first_knock: str | None = None) -> FedifyPeer:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
        if first_knock is not None:
            env["FIRST_KNOCK"] = first_knock
        log = tmp_path / f"fedify-{len(peers)}.log"
        peer = await FedifyPeer.start([str(binary), str(script)], cwd=cache, env=env, log=log)
        peers.append(peer)
        return peer

    try:
        yield start
    finally:
        with anyio.CancelScope(shield=True):
            for peer in peers:
                await peer.stop()

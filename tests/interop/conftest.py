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

__all__ = [
    "anyio_backend",
    "fedify_runtime",
    "loopback_certificate",
    "start_fedify",
    "start_node",
]

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


@pytest.fixture(scope="session")
def loopback_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """``(certificate file, key file)`` of a throwaway self-signed certificate for 127.0.0.1.

    Our node serves HTTPS with it when Fedify must reach it by handle (Fedify's WebFinger
    lookups of ``acct:`` resources always use https); the Fedify peer trusts it through
    ``NODE_EXTRA_CA_CERTS``.
    """
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


StartFedify = Callable[..., Awaitable[FedifyPeer]]


@pytest.fixture
async def start_fedify(
    fedify_runtime: tuple[Path, Path], loopback_certificate: tuple[str, str], tmp_path: Path
) -> AsyncIterator[StartFedify]:
    """Start Fedify peers on 127.0.0.1 (``await start_fedify(first_knock=..., queue=...)``).

    Every peer process is killed after the test; its stderr is kept in ``tmp_path``.
    """
    binary, cache = fedify_runtime
    # ESM resolves packages from the script's own folder: run a copy next to node_modules.
    script = cache / SCRIPT.name
    shutil.copyfile(SCRIPT, script)
    peers: list[FedifyPeer] = []

    async def start(first_knock: str | None = None, *, queue: bool = False) -> FedifyPeer:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "NODE_EXTRA_CA_CERTS": loopback_certificate[0],
        }
        if first_knock is not None:
            env["FIRST_KNOCK"] = first_knock
        if queue:
            env["FEDIFY_QUEUE"] = "1"
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

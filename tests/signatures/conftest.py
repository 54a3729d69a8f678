"""Fixtures for the signature tests: corpus files, keys, and a dict-backed key-value store."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from activitypub_kit.signatures import (
    PrivateKey,
    generate_ed25519_key,
    generate_rsa_key,
    load_private_key_pem,
    load_public_key_pem,
)


@pytest.fixture(scope="session")
def rfc9421(corpus: Path) -> dict[str, Any]:
    """The RFC 9421 vector file."""
    return json.loads((corpus / "http-signatures/rfc9421/rfc9421_vectors.json").read_text())


@pytest.fixture(scope="session")
def rfc9421_keys(corpus: Path, rfc9421: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """keyid -> (private key, public key) for the RFC 9421 Appendix B.1 keys."""
    keys: dict[str, tuple[Any, Any]] = {}
    for kid, entry in rfc9421["keys"].items():
        if kid == "test-shared-secret":
            path = corpus / "http-signatures/rfc9421/keys/test-shared-secret.b64.txt"
            secret = base64.b64decode(path.read_text().strip())
            keys[kid] = (secret, secret)
        else:
            keys[kid] = (
                load_private_key_pem(entry["private_pem"]),
                load_public_key_pem(entry["public_pem"]),
            )
    return keys


@pytest.fixture(scope="session")
def rsa_key() -> PrivateKey:
    """One RSA-2048 key for the whole session (generation is slow)."""
    return generate_rsa_key()


@pytest.fixture(scope="session")
def ed_key() -> PrivateKey:
    """One Ed25519 key."""
    return generate_ed25519_key()

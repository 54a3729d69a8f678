import pytest
from pyld import jsonld as pyld

from activitypub_kit.errors import JsonLdError
from activitypub_kit.models._jsonld import (
    AS_CONTEXT,
    bundled_context_urls,
    document_loader,
    load_context,
)


def test_every_bundled_context_loads():
    for url in bundled_context_urls():
        assert "@context" in load_context(url), url


def test_unknown_context_is_refused_without_network():
    with pytest.raises(JsonLdError, match="never fetched"):
        document_loader("https://evil.example/context.jsonld")


def test_expansion_uses_bundled_contexts():
    doc = {
        "@context": [AS_CONTEXT, "https://w3id.org/security/v1"],
        "type": "Note",
        "content": "hi",
        "publicKey": {"id": "https://a.example/#k", "publicKeyPem": "PEM"},
    }
    expanded = pyld.expand(doc, {"documentLoader": document_loader})
    node = expanded[0]
    assert node["@type"] == ["https://www.w3.org/ns/activitystreams#Note"]
    assert "https://w3id.org/security#publicKey" in node

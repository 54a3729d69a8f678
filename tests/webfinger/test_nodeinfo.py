"""NodeInfo: corpus documents parse, emitted documents validate, both hops are guarded."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from activitypub_kit.errors import AddressRefusedError, NodeInfoError, SchemeRefusedError
from activitypub_kit.http import HttpClient, HttpSettings
from activitypub_kit.webfinger import NodeInfo, NodeInfoClient
from activitypub_kit.webfinger._nodeinfo import content_type, well_known
from loopback import StartServer, resolver_with

pytestmark = pytest.mark.anyio


def ours() -> NodeInfo:
    return NodeInfo.model_validate(
        {
            "version": "2.1",
            "software": {
                "name": "activitypub-kit",
                "version": "0.1.0",
                "repository": "https://github.com/activitypub-kit/activitypub-kit",
                "homepage": "https://activitypub-kit.readthedocs.io/",
            },
            "protocols": ["activitypub"],
            "openRegistrations": False,
            "usage": {
                "users": {"total": 3, "activeMonth": 2, "activeHalfyear": 3},
                "localPosts": 10,
            },
            "metadata": {"nodeName": "kit.example"},
        }
    )


@pytest.mark.corpus
@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_emitted_documents_validate_against_the_schema(version: str, corpus: Path) -> None:
    schema = json.loads((corpus / f"nodeinfo/schemas/nodeinfo-{version}-schema.json").read_text())
    document = ours().to_document(version)  # type: ignore[arg-type]
    jsonschema.Draft4Validator(schema).validate(document)
    assert document["version"] == version
    assert ("repository" in document["software"]) == (version == "2.1")


@pytest.mark.corpus
def test_schema_rejects_what_we_refuse_to_write(corpus: Path) -> None:
    schema = json.loads((corpus / "nodeinfo/schemas/nodeinfo-2.1-schema.json").read_text())
    bad = ours().to_document("2.1") | {"software": {"name": "Activitypub Kit", "version": "1"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(bad)
    info = ours()
    info.software.name = "Activitypub Kit"
    with pytest.raises(ValueError, match=r"\[a-z0-9-\]"):
        info.to_document("2.1")
    with pytest.raises(ValueError, match="protocols"):
        NodeInfo.model_validate(
            {"version": "2.1", "software": {"name": "x", "version": "1"}}
        ).to_document()


@pytest.mark.corpus
def test_corpus_documents_parse(corpus: Path) -> None:
    paths = sorted((corpus / "nodeinfo").rglob("*.json"))
    documents = [p for p in paths if "schema" not in p.name and "well-known" not in p.name]
    documents = [p for p in documents if p.name != "manifest.json"]
    parsed = 0
    for path in documents:
        data = json.loads(path.read_text())
        if not data["version"].startswith("2."):
            continue  # NodeInfo 1.x has another shape; we read 2.x only
        parsed += 1
        info = NodeInfo.model_validate(data)
        assert info.software.name, path.name
        assert info.version == data["version"]
    assert parsed >= 5
    mastodon = NodeInfo.model_validate_json(
        (corpus / "nodeinfo/real-world/rebased-mastodon-nodeinfo20.json").read_text()
    )
    assert mastodon.usage.users.active_month == 167218
    assert mastodon.usage.local_posts == 52071541
    for path in (corpus / "nodeinfo/real-world").glob("*well-known*"):
        links = json.loads(path.read_text())["links"]
        assert links
        assert all(link["href"].startswith("https://") for link in links)


async def test_client_prefers_the_newest_version(
    start_server: StartServer, client: HttpClient
) -> None:
    site = await start_server("a.test")
    site.json(
        "/.well-known/nodeinfo", well_known(site.origin).to_json(), content_type="application/json"
    )
    site.json("/nodeinfo/2.1", ours().to_document("2.1"), content_type=content_type("2.1"))
    site.json("/nodeinfo/2.0", ours().to_document("2.0"), content_type=content_type("2.0"))
    info = await NodeInfoClient(client, scheme="http", allow_port=True).fetch(f"a.test:{site.port}")
    assert info.version == "2.1"
    assert info.software.repository is not None
    assert site.hits("/nodeinfo/2.0") == 0


@pytest.mark.parametrize(
    ("href", "error"),
    [
        ("http://internal.test/nodeinfo", AddressRefusedError),
        ("http://[::1]:6379/", AddressRefusedError),
        ("data:application/json,{}", SchemeRefusedError),
        ("file:///etc/passwd", SchemeRefusedError),
    ],
)
async def test_link_to_a_refused_address_is_refused(
    href: str, error: type[Exception], start_server: StartServer
) -> None:
    site = await start_server("a.test")
    links = {"links": [{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": href}]}
    site.json("/.well-known/nodeinfo", links, content_type="application/json")
    resolver = resolver_with({"internal.test": ["172.20.0.5"]})
    settings = HttpSettings(allowed_networks=("127.0.0.1/32",))
    async with HttpClient(settings, resolver=resolver) as guarded:
        with pytest.raises(error):
            await NodeInfoClient(guarded, scheme="http", allow_port=True).fetch(
                f"a.test:{site.port}"
            )


async def test_missing_or_invalid_nodeinfo(start_server: StartServer, client: HttpClient) -> None:
    site = await start_server("a.test")
    site.json("/.well-known/nodeinfo", {"links": []}, content_type="application/json")
    finder = NodeInfoClient(client, scheme="http", allow_port=True)
    with pytest.raises(NodeInfoError, match="links no NodeInfo"):
        await finder.fetch(f"a.test:{site.port}")
    site.json(
        "/.well-known/nodeinfo",
        well_known(site.origin, ("2.0",)).to_json(),
        content_type="application/json",
    )
    site.json("/nodeinfo/2.0", {"version": "2.0"}, content_type="application/json")
    with pytest.raises(NodeInfoError, match="software"):
        await finder.fetch(f"a.test:{site.port}")

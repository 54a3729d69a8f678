"""NodeInfo 2.0 / 2.1: typed documents, the discovery client and the server documents.

Reading is lenient (real servers omit ``services`` or counts, add members); writing is
strict: a document we emit validates against the official schema of its version.  Both
hops of discovery - ``/.well-known/nodeinfo`` and the ``href`` it names - go through the
guarded client, so a link to a private address or a ``data:`` URL is refused.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from activitypub_kit.errors import NodeInfoError
from activitypub_kit.http import HttpClient
from activitypub_kit.http._activitypub import check_status, parse_json_object
from activitypub_kit.webfinger._handles import validate_host
from activitypub_kit.webfinger._jrd import Jrd

SCHEMA_REL: Final = "http://nodeinfo.diaspora.software/ns/schema/{version}"
#: Versions the client reads, most preferred first.
READ_VERSIONS: Final = ("2.2", "2.1", "2.0")
#: Versions the server documents can be written as.
WriteVersion = Literal["2.0", "2.1"]

_SOFTWARE_NAME = re.compile(r"[a-z0-9-]+")
PROTOCOLS: Final = frozenset(
    {"activitypub", "buddycloud", "dfrn", "diaspora", "libertree", "ostatus", "pumpio", "tent"}
    | {"xmpp", "zot"}
)
INBOUND_SERVICES: Final = frozenset(
    {"atom1.0", "gnusocial", "imap", "pnut", "pop3", "pumpio", "rss2.0", "twitter"}
)
OUTBOUND_SERVICES: Final = frozenset(
    {"atom1.0", "blogger", "buddycloud", "diaspora", "dreamwidth", "drupal", "facebook"}
    | {"friendica", "gnusocial", "google", "insanejournal", "libertree", "linkedin"}
    | {"livejournal", "mediagoblin", "myspace", "pinterest", "pnut", "posterous", "pumpio"}
    | {"redmatrix", "rss2.0", "smtp", "tent", "tumblr", "twitter", "wordpress", "xmpp"}
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class NodeInfoSoftware(_Model):
    """The server software: name (``[a-z0-9-]+`` when we write it), version, links."""

    name: str
    version: str
    repository: str | None = None
    homepage: str | None = None


class NodeInfoServices(_Model):
    """Third-party services the server reads from / publishes to."""

    inbound: list[str] = Field(default_factory=list)
    outbound: list[str] = Field(default_factory=list)


class NodeInfoUsers(_Model):
    """User counts."""

    total: int | None = None
    active_halfyear: int | None = Field(default=None, alias="activeHalfyear")
    active_month: int | None = Field(default=None, alias="activeMonth")


class NodeInfoUsage(_Model):
    """Usage statistics."""

    users: NodeInfoUsers = Field(default_factory=NodeInfoUsers)
    local_posts: int | None = Field(default=None, alias="localPosts")
    local_comments: int | None = Field(default=None, alias="localComments")


class NodeInfo(_Model):
    """A NodeInfo document (2.0, 2.1, and 2.2 when reading)."""

    version: str
    software: NodeInfoSoftware
    protocols: list[str] = Field(default_factory=list)
    services: NodeInfoServices = Field(default_factory=NodeInfoServices)
    open_registrations: bool = Field(default=False, alias="openRegistrations")
    usage: NodeInfoUsage = Field(default_factory=NodeInfoUsage)
    metadata: dict[str, Any] = Field(default_factory=dict)

    def to_document(self, version: WriteVersion = "2.1") -> dict[str, Any]:
        """The document in NodeInfo ``version``, checked against that schema's rules.

        Raises ``ValueError`` when a value cannot be written (software name outside
        ``[a-z0-9-]+``, no protocol, a protocol or service the schema does not list,
        a negative count).
        """
        if version not in ("2.0", "2.1"):
            raise ValueError(f"NodeInfo {version} cannot be written (2.0 or 2.1)")
        software = self.software
        if not _SOFTWARE_NAME.fullmatch(software.name):
            raise ValueError(f"NodeInfo software name {software.name!r} must match [a-z0-9-]+")
        if not self.protocols or not set(self.protocols) <= PROTOCOLS:
            raise ValueError(f"NodeInfo protocols {self.protocols} must be non-empty and known")
        if not set(self.services.inbound) <= INBOUND_SERVICES:
            raise ValueError(f"unknown NodeInfo inbound service in {self.services.inbound}")
        if not set(self.services.outbound) <= OUTBOUND_SERVICES:
            raise ValueError(f"unknown NodeInfo outbound service in {self.services.outbound}")
        sw: dict[str, Any] = {"name": software.name, "version": software.version}
        if version == "2.1":
            sw |= {
                member: value
                for member in ("repository", "homepage")
                if (value := getattr(software, member)) is not None
            }
        users = {
            key: value
            for key, value in (
                ("total", self.usage.users.total),
                ("activeHalfyear", self.usage.users.active_halfyear),
                ("activeMonth", self.usage.users.active_month),
            )
            if value is not None
        }
        usage: dict[str, Any] = {"users": users} | {
            key: value
            for key, value in (
                ("localPosts", self.usage.local_posts),
                ("localComments", self.usage.local_comments),
            )
            if value is not None
        }
        if any(v < 0 for v in (*users.values(), *usage.values()) if isinstance(v, int)):
            raise ValueError("NodeInfo counts cannot be negative")
        return {
            "version": version,
            "software": sw,
            "protocols": list(self.protocols),
            "services": {
                "inbound": list(self.services.inbound),
                "outbound": list(self.services.outbound),
            },
            "openRegistrations": self.open_registrations,
            "usage": usage,
            "metadata": json.loads(json.dumps(self.metadata)),
        }


def content_type(version: WriteVersion) -> str:
    """The ``Content-Type`` to serve a NodeInfo ``version`` document with."""
    return f'application/json; profile="{SCHEMA_REL.format(version=version)}#"'


def well_known(base_url: str, versions: tuple[WriteVersion, ...] = ("2.1", "2.0")) -> Jrd:
    """The ``/.well-known/nodeinfo`` JRD pointing at ``{base_url}/nodeinfo/{version}``."""
    base = base_url.rstrip("/")
    return Jrd.model_validate(
        {
            "links": [
                {"rel": SCHEMA_REL.format(version=v), "href": f"{base}/nodeinfo/{v}"}
                for v in versions
            ]
        }
    )


class NodeInfoClient:
    """Discover and fetch a server's NodeInfo through the guarded HTTP client."""

    def __init__(self, client: HttpClient, *, scheme: str = "https", allow_port: bool = False):
        self.client = client
        self.scheme = scheme
        self.allow_port = allow_port

    async def fetch(self, host: str) -> NodeInfo:
        """The NodeInfo of ``host`` (highest of 2.2/2.1/2.0 it links)."""
        name = validate_host(host, allow_port=self.allow_port)
        response = await self.client.get(
            f"{self.scheme}://{name}/.well-known/nodeinfo",
            headers={"Accept": "application/json, application/jrd+json"},
        )
        check_status(response)
        try:
            jrd = Jrd.model_validate(parse_json_object(response))
        except PydanticValidationError as exc:
            raise NodeInfoError(f"/.well-known/nodeinfo of {name} is not a JRD") from exc
        href = None
        for version in READ_VERSIONS:
            link = next(iter(jrd.links_with(SCHEMA_REL.format(version=version))), None)
            if link is not None and link.href:
                href = link.href
                break
        if href is None:
            raise NodeInfoError(f"{name} links no NodeInfo 2.x document")
        document = await self.client.get(href, headers={"Accept": "application/json"})
        check_status(document)
        try:
            return NodeInfo.model_validate(parse_json_object(document))
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise NodeInfoError(f"NodeInfo of {name} is invalid: {where}: {first['msg']}") from exc


__all__ = [
    "NodeInfo",
    "NodeInfoClient",
    "NodeInfoServices",
    "NodeInfoSoftware",
    "NodeInfoUsage",
    "NodeInfoUsers",
    "content_type",
    "well_known",
]

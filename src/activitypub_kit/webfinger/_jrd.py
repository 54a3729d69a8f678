"""JSON Resource Descriptor (RFC 7033) models, as used by WebFinger and NodeInfo discovery."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from activitypub_kit.http._activitypub import is_activitypub_content_type


class JrdLink(BaseModel):
    """One link of a JRD (``rel`` plus ``href`` or ``template``)."""

    model_config = ConfigDict(extra="allow")

    rel: str
    type: str | None = None
    href: str | None = None
    template: str | None = None
    titles: dict[str, str] | None = None
    properties: dict[str, str | None] | None = None


class Jrd(BaseModel):
    """A JRD document: subject, aliases, properties, links (unknown members kept)."""

    model_config = ConfigDict(extra="allow")

    subject: str | None = None
    aliases: list[str] = Field(default_factory=list)
    properties: dict[str, str | None] = Field(default_factory=dict)
    links: list[JrdLink] = Field(default_factory=list)

    def links_with(self, rel: str) -> list[JrdLink]:
        """Every link whose ``rel`` is ``rel``."""
        return [link for link in self.links if link.rel == rel]

    def activitypub_self(self) -> str | None:
        """The ``href`` of the ``rel="self"`` link with an ActivityPub media type."""
        for link in self.links_with("self"):
            if link.href and link.type and is_activitypub_content_type(link.type):
                return link.href
        return None

    def to_json(self) -> dict[str, Any]:
        """The JRD as a JSON object: unset fields and empty ``aliases`` / ``properties`` left out.

        ``links`` is always there, ``[]`` when empty: RFC 7033 allows either, and clients
        (feditest among them) read ``links`` without checking it exists.
        """
        data = self.model_dump(mode="json", exclude_none=True)
        for member in ("aliases", "properties"):
            if not data.get(member):
                data.pop(member, None)
        return data


__all__ = ["Jrd", "JrdLink"]

"""host-meta (RFC 6415): find the LRDD template, the WebFinger fallback of old servers.

host-meta is XML (XRD) from a server we do not trust, so a document with a DTD (entity
expansion bombs, external entities) is refused before it reaches the parser, and the JRD
form is accepted too.
"""

from __future__ import annotations

import json
from xml.etree import ElementTree

from activitypub_kit.errors import InvalidResponseError

_XRD_LINK = "{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link"


def lrdd_template(body: bytes, where: str) -> str | None:
    """The ``rel="lrdd"`` template (with ``{uri}``) of a host-meta body, if any."""
    text = body.lstrip()
    if text.startswith(b"{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidResponseError(f"host-meta from {where} is not valid JSON") from exc
        links = data.get("links") if isinstance(data, dict) else None
        for link in links if isinstance(links, list) else []:
            if isinstance(link, dict) and link.get("rel") == "lrdd":
                template = link.get("template")
                if isinstance(template, str) and "{uri}" in template:
                    return template
        return None
    lowered = text[:4096].lower()
    if b"<!doctype" in lowered or b"<!entity" in text.lower():
        raise InvalidResponseError(f"host-meta from {where} declares a DTD, which is refused")
    try:
        root = ElementTree.fromstring(text)  # noqa: S314 - DTDs refused above
    except ElementTree.ParseError as exc:
        raise InvalidResponseError(f"host-meta from {where} is not valid XML: {exc}") from exc
    for link in root.iter(_XRD_LINK):
        template = link.get("template")
        if link.get("rel") == "lrdd" and template and "{uri}" in template:
            return template
    return None


__all__ = ["lrdd_template"]

"""Discovery: WebFinger (client and server) and NodeInfo 2.0/2.1 (client and documents)."""

from activitypub_kit.webfinger._client import JRD_ACCEPT, ResolvedActor, WebFingerClient
from activitypub_kit.webfinger._handles import Handle, parse_handle, validate_host
from activitypub_kit.webfinger._jrd import Jrd, JrdLink
from activitypub_kit.webfinger._nodeinfo import (
    NodeInfo,
    NodeInfoClient,
    NodeInfoServices,
    NodeInfoSoftware,
    NodeInfoUsage,
    NodeInfoUsers,
)
from activitypub_kit.webfinger._server import (
    WebFingerAccount,
    WebFingerResponse,
    WebFingerServer,
    request_scheme,
)

__all__ = [
    "JRD_ACCEPT",
    "Handle",
    "Jrd",
    "JrdLink",
    "NodeInfo",
    "NodeInfoClient",
    "NodeInfoServices",
    "NodeInfoSoftware",
    "NodeInfoUsage",
    "NodeInfoUsers",
    "ResolvedActor",
    "WebFingerAccount",
    "WebFingerClient",
    "WebFingerResponse",
    "WebFingerServer",
    "parse_handle",
    "request_scheme",
    "validate_host",
]

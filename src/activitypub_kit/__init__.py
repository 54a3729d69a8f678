"""activitypub_kit: build federated software on ActivityPub.

The public surface is re-exported here; everything else is private.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from activitypub_kit import errors

try:
    __version__ = version("activitypub-kit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "errors"]

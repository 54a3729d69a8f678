"""Bounds on a JSON document from another server, inbound or fetched: one set for both.

:mod:`activitypub_kit.server._parsing` applies them to every inbox body;
:mod:`activitypub_kit.http._resolver` applies the depth bound to every fetched document.
One limit for both means a document is never accepted on one path and refused on the
other (an object embedded in an accepted activity, fetched again from its id, is shallower
than the activity, so it passes too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: Deepest nesting of arrays and objects accepted in a document from another server (the
#: top-level object is level 1).
MAX_DEPTH: Final = 48


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    """Bounds on a document from another server, checked before anything else is done.

    An inbox body is checked against all of them in one linear walk; a fetched document
    against ``max_depth`` (see :class:`~activitypub_kit.http.Resolver`).

    The defaults are far above what real servers send (a Mastodon ``Create`` with every
    field filled is a few hundred values, an ``Update`` of an actor with many emoji and
    fields a few thousand) and low enough that building the document costs a few
    milliseconds.  Before the JSON is even decoded, the raw bytes are counted (``{``,
    ``,`` and ``"@context"``, at C speed): a body that cannot be within the limits is
    refused without building a single object.  Characters inside strings count too, which
    only makes that first check stricter than the exact one, never looser.
    """

    #: Deepest nesting of arrays and objects.
    max_depth: int = MAX_DEPTH
    #: JSON objects in the whole document.
    max_objects: int = 4096
    #: Values of any kind (objects, arrays, strings, numbers...) in the whole document.
    max_values: int = 65_536
    #: ``@context`` occurrences (the top-level one and every embedded one).
    max_contexts: int = 64


DEFAULT_LIMITS: Final = DocumentLimits()


__all__ = ["DEFAULT_LIMITS", "MAX_DEPTH", "DocumentLimits"]

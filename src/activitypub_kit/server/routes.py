"""URL templates: the one description of a route, used both to match paths and to build URIs.

A template is a path with ``{name}`` placeholders, each standing for one path segment
(``/users/{handle}``, ``/users/{handle}/notes/{id}``).  Matching decodes percent-escapes;
building encodes every reserved character, so ``build(match(path))`` gives ``path`` back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote, unquote

from activitypub_kit.errors import RouteError

_PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class UrlTemplate:
    """A path template such as ``/users/{handle}/followers``."""

    template: str
    names: tuple[str, ...] = field(init=False)
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.template.startswith("/"):
            raise RouteError(f"URL template {self.template!r} must start with '/'")
        names: list[str] = []
        pattern = ["^"]
        position = 0
        for found in _PLACEHOLDER.finditer(self.template):
            literal = self.template[position : found.start()]
            if "{" in literal or "}" in literal:
                raise RouteError(f"URL template {self.template!r} has a malformed placeholder")
            pattern.append(re.escape(literal))
            name = found.group(1)
            if name in names:
                raise RouteError(f"URL template {self.template!r} repeats {{{name}}}")
            names.append(name)
            pattern.append(f"(?P<{name}>[^/]+)")
            position = found.end()
        tail = self.template[position:]
        if "{" in tail or "}" in tail:
            raise RouteError(f"URL template {self.template!r} has a malformed placeholder")
        pattern.append(re.escape(tail) + "$")
        object.__setattr__(self, "names", tuple(names))
        object.__setattr__(self, "_pattern", re.compile("".join(pattern)))

    def match(self, raw_path: str) -> dict[str, str] | None:
        """The decoded parameters when ``raw_path`` (percent-encoded) fits, else ``None``."""
        found = self._pattern.match(raw_path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items()}

    def build(self, values: Mapping[str, object]) -> str:
        """The path with every placeholder replaced by its encoded value."""
        missing = [n for n in self.names if n not in values]
        if missing:
            raise RouteError(f"URL template {self.template!r} needs {', '.join(missing)}")
        extra = sorted(set(values) - set(self.names))
        if extra:
            raise RouteError(f"URL template {self.template!r} has no {', '.join(extra)}")

        def fill(found: re.Match[str]) -> str:
            text = str(values[found.group(1)])
            if not text:
                raise RouteError(f"{{{found.group(1)}}} must not be empty")
            return quote(text, safe="@:-._~!$&'()*+,;=")

        return _PLACEHOLDER.sub(fill, self.template)


__all__ = ["UrlTemplate"]

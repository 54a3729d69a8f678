"""URL templates: the one description of a route, used both to match paths and to build URIs.

A template is a path with ``{name}`` placeholders, each standing for one path segment
(``/users/{handle}``, ``/users/{handle}/notes/{id}``).  Matching decodes percent-escapes;
building encodes every reserved character, so ``build(match(path))`` gives ``path`` back.

Registration checks live here too: :meth:`UrlTemplate.overlaps` (two routes that would
answer the same path) and :func:`check_parameters` (a dispatcher whose parameters do not
fit its template), and :class:`ParsedUri`, what ``ctx.parse_uri`` finds a local URI to be.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import quote, unquote

from activitypub_kit.errors import RouteError
from activitypub_kit.models import ASModel

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

    def overlaps(self, other: UrlTemplate) -> bool:
        """Whether some path matches both templates (``/notes/{id}`` and ``/notes/{slug}``).

        Each template is a pattern of literal characters and placeholders (one or more
        characters other than ``/``); the check walks both patterns together over the
        characters they name plus one they do not, so it is exact.
        """
        mine, theirs = _tokens(self.template), _tokens(other.template)
        alphabet = {t for t in (*mine, *theirs) if t is not None} | {"\x00"}
        start = {(a, b) for a in _closure((0, False)) for b in _closure((0, False))}
        seen, todo = set(start), list(start)
        while todo:
            a, b = todo.pop()
            if a == (len(mine), False) and b == (len(theirs), False):
                return True
            for char in alphabet:
                for next_a in _step(mine, a, char):
                    for next_b in _step(theirs, b, char):
                        if (next_a, next_b) not in seen:
                            seen.add((next_a, next_b))
                            todo.append((next_a, next_b))
        return False


# A pattern state: (index of the next token, inside the placeholder at that index).
_State = tuple[int, bool]


def _tokens(template: str) -> tuple[str | None, ...]:
    """The template as literal characters and ``None`` for each placeholder."""
    tokens: list[str | None] = []
    position = 0
    for found in _PLACEHOLDER.finditer(template):
        tokens.extend(template[position : found.start()])
        tokens.append(None)
        position = found.end()
    tokens.extend(template[position:])
    return tuple(tokens)


def _closure(state: _State) -> set[_State]:
    index, inside = state
    return {state, (index + 1, False)} if inside else {state}


def _step(tokens: tuple[str | None, ...], state: _State, char: str) -> set[_State]:
    index, inside = state
    if inside or (index < len(tokens) and tokens[index] is None):
        return _closure((index, True)) if char != "/" else set()
    if index < len(tokens) and tokens[index] == char:
        return {(index + 1, False)}
    return set()


def check_parameters(
    fn: Callable[..., Any],
    *,
    leading: Sequence[str],
    names: Sequence[str],
    what: str,
    template: str = "",
) -> None:
    """Refuse ``fn`` unless it can be called as ``fn(*leading, **{name: ... for names})``.

    That is how callbacks are called: ``(ctx, **params)`` for an object,
    ``(ctx, cursor, **params)`` for a collection page, ``(ctx, handle)`` for an actor.  A
    parameter the call does not pass (and that has no default), or a template name the
    function does not take by name (without ``**kwargs``), is a
    :class:`~activitypub_kit.errors.RouteError` naming it.  Callables without a readable
    signature are accepted as they are.
    """
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    kinds = inspect.Parameter
    params = list(signature.parameters.values())
    positional = [
        p for p in params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
    ]
    rest = [p for p in params if p not in positional[: len(leading)]]
    by_name = {p.name for p in rest if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)}
    problems: list[str] = []
    if len(positional) < len(leading) and not any(p.kind is kinds.VAR_POSITIONAL for p in params):
        problems.append(f"it must take {len(leading)} positional argument(s)")
    unfilled = [
        p.name
        for p in rest
        if p.kind not in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD)
        and p.default is p.empty
        and (p.name not in names or p.name not in by_name)
    ]
    if unfilled:
        problems.append(f"no value for parameter {', '.join(unfilled)}")
    if not any(p.kind is kinds.VAR_KEYWORD for p in params):
        extra = [n for n in names if n not in by_name]
        if extra:
            problems.append(f"it takes no parameter {', '.join(extra)}")
    if problems:
        call = ", ".join([*leading, *(f"{n}=..." for n in names)])
        where = f" for {template!r}" if template else ""
        raise RouteError(
            f"{what} {getattr(fn, '__qualname__', repr(fn))}{signature}{where} is called as"
            f" ({call}): {'; '.join(problems)}"
        )


#: The kinds of route ``ctx.parse_uri`` tells apart.
RouteKind = Literal["actor", "object", "collection", "inbox", "shared_inbox", "instance_actor"]


@dataclass(frozen=True, slots=True)
class ParsedUri:
    """A local URI read back through the route that serves it (``ctx.parse_uri``).

    ``kind`` is the route kind; ``name`` the object class name (``"Article"``) or the
    collection name (``"followers"``), empty for the others; ``params`` the decoded template
    parameters; ``model`` the registered class of an object route.
    """

    kind: RouteKind
    name: str
    params: Mapping[str, str]
    model: type[ASModel] | None = None

    @property
    def route(self) -> str:
        """The route key ``Federation.uri`` takes: ``fed.uri(p.route, **p.params)``."""
        return f"{self.kind}:{self.name}" if self.kind in ("object", "collection") else self.kind

    @property
    def handle(self) -> str | None:
        """The ``{handle}`` parameter, when the template has one."""
        return self.params.get("handle")


__all__ = ["UrlTemplate", "ParsedUri", "RouteKind", "check_parameters"]

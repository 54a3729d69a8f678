"""Articles: Markdown (CommonMark) rendered by ``markdown-it-py``, sanitised by ``nh3``.

Raw HTML in the source is never passed through: the parser escapes it (``html=False``), and
the rendered fragment then goes through an allow-list sanitiser, so only the tags Markdown
itself produces survive.  Links and images must be absolute ``http``/``https`` URLs (the
article is read on other servers, where a relative link would point elsewhere); anything
else (``javascript:``, ``data:``, ``mailto:``, a relative path) stays as literal text.
Every link gets ``rel="nofollow noopener"``.  A single newline inside a paragraph is a line
break, as authors of short posts expect.
"""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt

#: What CommonMark renders to, and nothing else.
_TAGS = {
    "p", "br", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "code", "pre",
    "blockquote", "ul", "ol", "li", "hr", "a", "img",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
_SCHEMES = {"http", "https"}
_ABSOLUTE = re.compile(r"https?://", re.IGNORECASE)


def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True})
    md.validateLink = lambda url: _ABSOLUTE.match(url) is not None  # type: ignore[method-assign]
    return md


_MARKDOWN = _renderer()


def split_title(source: str) -> tuple[str, str]:
    """The title (first ``# `` line, else the first line) and the rest of the text."""
    lines = source.strip().splitlines()
    if not lines:
        raise ValueError("the article is empty")
    first = lines[0]
    title = first[2:].strip() if first.startswith("# ") else first.strip()
    return title, "\n".join(lines[1:]).strip()


def to_html(source: str) -> str:
    """Render Markdown to a sanitised HTML fragment."""
    rendered = _MARKDOWN.render(source.strip())
    return nh3.clean(
        rendered,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel="nofollow noopener",
    ).strip()


_TAG = re.compile(r"<[^>]*>")


def plain_text(fragment: str) -> str:
    """Remote HTML reduced to escaped text (replies are shown as text, never as markup)."""
    text = re.sub(r"<br\s*/?>|</p>", "\n", fragment, flags=re.IGNORECASE)
    return html.escape(html.unescape(_TAG.sub("", text)).strip())

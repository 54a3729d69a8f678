"""A deliberately tiny Markdown subset: headings, paragraphs, emphasis, code, links.

Enough for the example; every piece of text is HTML-escaped before markup is added.
"""

from __future__ import annotations

import html
import re

_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_EM = re.compile(r"\*(.+?)\*")
_CODE = re.compile(r"`([^`]+)`")


def inline(text: str) -> str:
    """Inline markup of one escaped line."""
    out = html.escape(text, quote=False)
    out = _CODE.sub(r"<code>\1</code>", out)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _EM.sub(r"<em>\1</em>", out)
    return _LINK.sub(lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>', out)


def split_title(source: str) -> tuple[str, str]:
    """The title (first ``# `` line, else the first line) and the rest of the text."""
    lines = source.strip().splitlines()
    if not lines:
        raise ValueError("the article is empty")
    first = lines[0]
    title = first[2:].strip() if first.startswith("# ") else first.strip()
    return title, "\n".join(lines[1:]).strip()


def to_html(source: str) -> str:
    """Render the subset to HTML."""
    blocks: list[str] = []
    for block in re.split(r"\n\s*\n", source.strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        heading = re.match(r"(#{1,6}) (.*)", lines[0])
        if heading and len(lines) == 1:
            level = len(heading.group(1))
            blocks.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        else:
            blocks.append("<p>" + "<br>".join(inline(line) for line in lines) + "</p>")
    return "\n".join(blocks)


_TAG = re.compile(r"<[^>]*>")


def plain_text(fragment: str) -> str:
    """Remote HTML reduced to escaped text (replies are shown as text, never as markup)."""
    text = re.sub(r"<br\s*/?>|</p>", "\n", fragment, flags=re.IGNORECASE)
    return html.escape(html.unescape(_TAG.sub("", text)).strip())

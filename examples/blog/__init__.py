"""The smallest real integration: a Markdown blog whose author is a fediverse actor.

    python -m examples.blog serve --bind 127.0.0.1:8080 --origin http://127.0.0.1:8080 --data DIR
    python -m examples.blog publish --data DIR FILE.md

Followers are remembered, publishing sends ``Create(Article)`` to them, and replies from
the fediverse are shown under the article.  Everything lives under ``DIR`` (SQLite).
Articles are rendered with ``markdown-it-py`` and ``nh3``: the ``blog`` extra
(``pip install -e '.[blog]'``; ``./scripts/blog`` and ``./scripts/test`` install it).
"""

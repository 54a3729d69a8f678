"""The blog's own data (articles, followers, replies) in one SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    slug TEXT PRIMARY KEY, title TEXT NOT NULL, html TEXT NOT NULL, published TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS followers (
    actor TEXT PRIMARY KEY, inbox TEXT, shared_inbox TEXT, followed_at TEXT NOT NULL,
    follow_id TEXT
);
CREATE TABLE IF NOT EXISTS replies (
    id TEXT PRIMARY KEY, slug TEXT NOT NULL, author TEXT NOT NULL, content TEXT NOT NULL,
    published TEXT
);
"""


class BlogStore:
    """Small synchronous SQLite access; every call is one short transaction."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Bring a file made by an older version up to :data:`SCHEMA`.

        Files from before ``followers.follow_id`` get the column (``NULL`` for the followers
        they hold: an ``Undo`` naming only a Follow id cannot remove those).  ``BEGIN
        IMMEDIATE`` keeps two processes opening the same file from adding it twice.
        """
        self.db.execute("BEGIN IMMEDIATE")
        try:
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(followers)")}
            if "follow_id" not in columns:
                self.db.execute("ALTER TABLE followers ADD COLUMN follow_id TEXT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    # articles
    def add_article(self, slug: str, title: str, html: str, published: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?)", (slug, title, html, published)
        )

    def article(self, slug: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT slug, title, html, published FROM articles WHERE slug = ?", (slug,)
        ).fetchone()
        return (
            None
            if row is None
            else dict(zip(("slug", "title", "html", "published"), row, strict=True))
        )

    def articles(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT slug, title, html, published FROM articles ORDER BY published DESC"
        ).fetchall()
        return [dict(zip(("slug", "title", "html", "published"), row, strict=True)) for row in rows]

    # followers
    def add_follower(
        self,
        actor: str,
        inbox: str | None,
        shared: str | None,
        at: str,
        follow_id: str | None = None,
    ) -> None:
        """Remember ``actor`` as a follower, with the id of the Follow that made it one."""
        self.db.execute(
            "INSERT OR REPLACE INTO followers (actor, inbox, shared_inbox, followed_at, follow_id)"
            " VALUES (?, ?, ?, ?, ?)",
            (actor, inbox, shared, at, follow_id),
        )

    def remove_follower(self, actor: str) -> bool:
        """Forget ``actor`` as a follower; whether it was one."""
        return self.db.execute("DELETE FROM followers WHERE actor = ?", (actor,)).rowcount > 0

    def remove_follow(self, actor: str, follow_id: str) -> bool:
        """Forget ``actor`` only if it follows through the Follow ``follow_id``; whether it did."""
        cursor = self.db.execute(
            "DELETE FROM followers WHERE actor = ? AND follow_id = ?", (actor, follow_id)
        )
        return cursor.rowcount > 0

    def follow_id(self, actor: str) -> str | None:
        """The id of the Follow ``actor`` follows through (``None``: unknown or not a follower)."""
        row = self.db.execute(
            "SELECT follow_id FROM followers WHERE actor = ?", (actor,)
        ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def followers(
        self, offset: int = 0, limit: int = 1000
    ) -> list[tuple[str, str | None, str | None]]:
        return self.db.execute(
            "SELECT actor, inbox, shared_inbox FROM followers ORDER BY followed_at, actor"
            " LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()

    def follower_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM followers").fetchone()[0])

    # replies
    def add_reply(
        self, reply_id: str, slug: str, author: str, content: str, published: str | None
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?)",
            (reply_id, slug, author, content, published),
        )

    def remove_reply(self, reply_id: str, author: str) -> None:
        self.db.execute("DELETE FROM replies WHERE id = ? AND author = ?", (reply_id, author))

    def reply_author(self, reply_id: str) -> str | None:
        row = self.db.execute("SELECT author FROM replies WHERE id = ?", (reply_id,)).fetchone()
        return None if row is None else str(row[0])

    def replies(self, slug: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT id, author, content, published FROM replies WHERE slug = ?"
            " ORDER BY published, id",
            (slug,),
        ).fetchall()
        return [
            dict(zip(("id", "author", "content", "published"), row, strict=True)) for row in rows
        ]

    def dump(self) -> str:
        return json.dumps({"articles": self.articles(), "followers": self.follower_count()})

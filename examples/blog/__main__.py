"""Command line: ``serve`` the blog, or ``publish`` a Markdown file to its followers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import anyio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.blog", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the blog and its fediverse actor")
    serve.add_argument("--bind", default="127.0.0.1:8080", help="HOST:PORT to listen on")
    serve.add_argument("--origin", required=True, help="public origin, e.g. https://blog.example")
    serve.add_argument("--data", required=True, type=Path, help="folder for the SQLite files")
    serve.add_argument("--author", default="author", help="the author's handle")
    serve.add_argument(
        "--allow-private-network",
        action="store_true",
        help="let the server reach private and loopback addresses (development only)",
    )
    publish = commands.add_parser("publish", help="publish a Markdown file to the followers")
    publish.add_argument("--data", required=True, type=Path)
    publish.add_argument("--origin", help="the origin the blog is served at (default: stored)")
    publish.add_argument("--author", default="author")
    publish.add_argument("file", type=Path)
    args = parser.parse_args(argv)

    from examples.blog.app import Blog

    if args.command == "serve":
        import uvicorn

        blog = Blog(
            args.data,
            args.origin,
            author=args.author,
            allow_private_network=args.allow_private_network,
        )
        host, _, port = args.bind.rpartition(":")
        uvicorn.run(blog.site(), host=host or "127.0.0.1", port=int(port), log_level="info")
        return 0

    origin = args.origin or (args.data / "origin").read_text().strip()

    async def run() -> str:
        blog = Blog(args.data, origin, author=args.author)
        try:
            return await blog.publish(args.file.read_text(encoding="utf-8"))
        finally:
            await blog.aclose()

    print(f"queued for the followers: {anyio.run(run)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

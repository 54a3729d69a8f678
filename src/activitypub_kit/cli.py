"""The ``activitypub-kit`` command line: keys, document checks and lookups.

::

    activitypub-kit keygen [--type rsa|ed25519] [--bits 2048] [--out PREFIX]
    activitypub-kit validate FILE [FILE ...]      # '-' reads standard input
    activitypub-kit lookup @user@host | URL [--json] [--allow-private] [--http]
                           [--resolve NAME:ADDRESS ...]

Every failure prints one line to standard error and exits with status 1 (2 for usage).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from activitypub_kit import __version__
from activitypub_kit.errors import ActivityPubError


def _keygen(args: argparse.Namespace, out: TextIO) -> int:
    from activitypub_kit.signatures import (
        generate_ed25519_key,
        generate_rsa_key,
        private_key_to_pem,
        public_key_to_jwk,
        public_key_to_multibase,
        public_key_to_pem,
    )

    key = generate_rsa_key(args.bits) if args.type == "rsa" else generate_ed25519_key()
    public = {
        "type": args.type,
        "publicKeyPem": public_key_to_pem(key),
        "publicKeyMultibase": public_key_to_multibase(key),
        "publicKeyJwk": public_key_to_jwk(key),
    }
    if args.out is None:
        public["privateKeyPem"] = private_key_to_pem(key)
        json.dump(public, out, indent=2)
        out.write("\n")
        return 0
    private_path = Path(f"{args.out}.pem")
    if private_path.exists():
        raise ActivityPubError(f"{private_path} exists; refusing to overwrite a private key")
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(private_key_to_pem(key))
    Path(f"{args.out}.pub.json").write_text(json.dumps(public, indent=2) + "\n")
    out.write(f"wrote {private_path} (private, mode 600) and {args.out}.pub.json\n")
    return 0


def _validate(args: argparse.Namespace, out: TextIO) -> int:
    from activitypub_kit.models import parse

    failures = 0
    for name in args.files:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        try:
            model = parse(data)
        except ActivityPubError as error:
            failures += 1
            out.write(f"{name}: invalid: {error}\n")
            continue
        sent_type = getattr(model, "type", None)
        ident = getattr(model, "id", None) or ""
        out.write(f"{name}: ok: {type(model).__name__} (type {sent_type!r}) {ident}\n")
    return 1 if failures else 0


class _PinnedResolver:
    """``--resolve NAME:ADDRESS`` answers first (like curl's), then the system resolver."""

    def __init__(self, pins: Sequence[str]) -> None:
        from activitypub_kit.http import StaticResolver, SystemResolver

        answers: dict[str, list[str]] = {}
        for pin in pins:
            name, sep, address = pin.partition(":")
            if not sep or not name or not address:
                raise ActivityPubError(f"--resolve wants NAME:ADDRESS, not {pin!r}")
            answers.setdefault(name, []).append(address)
        self._static = StaticResolver(answers)
        self._names = {name.lower() for name in answers}
        self._system = SystemResolver()

    async def resolve(self, host: str) -> Any:
        pinned = host.lower().rstrip(".") in self._names
        return await (self._static if pinned else self._system).resolve(host)


async def _lookup_async(args: argparse.Namespace) -> dict[str, Any]:
    from activitypub_kit.http import HttpClient, HttpSettings
    from activitypub_kit.webfinger import WebFingerClient

    networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128") if args.allow_private else ()
    settings = HttpSettings(allowed_networks=networks)
    async with HttpClient(settings, resolver=_PinnedResolver(args.resolve)) as client:
        finger = WebFingerClient(
            client, scheme="http" if args.http else "https", allow_port=args.allow_private
        )
        resolved = await finger.resolve(args.target)
    return {"handle": str(resolved.handle), "id": resolved.id, "actor": resolved.actor}


def _lookup(args: argparse.Namespace, out: TextIO) -> int:
    import anyio

    result = anyio.run(_lookup_async, args)
    if args.json:
        json.dump(result["actor"], out, indent=2, ensure_ascii=False)
        out.write("\n")
        return 0
    actor = result["actor"]
    endpoints = actor.get("endpoints")
    shared = endpoints.get("sharedInbox") if isinstance(endpoints, dict) else None
    for label, value in (
        ("handle", result["handle"]),
        ("id", result["id"]),
        ("type", actor.get("type")),
        ("name", actor.get("name")),
        ("inbox", actor.get("inbox")),
        ("shared inbox", shared),
    ):
        if value:
            out.write(f"{label:>12}: {value}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``activitypub-kit`` (exposed for documentation tools)."""
    parser = argparse.ArgumentParser(
        prog="activitypub-kit", description="Tools for ActivityPub developers and operators."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    keygen = commands.add_parser("keygen", help="generate an actor key pair")
    keygen.add_argument("--type", choices=("rsa", "ed25519"), default="rsa")
    keygen.add_argument("--bits", type=int, choices=(2048, 3072, 4096), default=2048)
    keygen.add_argument("--out", help="write PREFIX.pem (private) and PREFIX.pub.json")
    keygen.set_defaults(run=_keygen)

    validate = commands.add_parser("validate", help="parse ActivityStreams documents")
    validate.add_argument("files", nargs="+", help="JSON files ('-' for standard input)")
    validate.set_defaults(run=_validate)

    lookup = commands.add_parser("lookup", help="resolve a handle or actor URL")
    lookup.add_argument("target", help="@user@host, user@host, acct:user@host or a URL")
    lookup.add_argument("--json", action="store_true", help="print the actor document")
    lookup.add_argument(
        "--allow-private", action="store_true", help="allow loopback hosts and ports (dev)"
    )
    lookup.add_argument("--http", action="store_true", help="use http:// for WebFinger (dev)")
    lookup.add_argument(
        "--resolve",
        action="append",
        default=[],
        metavar="NAME:ADDRESS",
        help="answer NAME with ADDRESS instead of DNS (repeatable, like curl's --resolve)",
    )
    lookup.set_defaults(run=_lookup)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args, out or sys.stdout)
    except (ActivityPubError, OSError) as error:
        print(f"activitypub-kit {args.command}: {error}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

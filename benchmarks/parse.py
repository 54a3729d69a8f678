"""Benchmark: parse() + validation of Mastodon documents against json.loads of the same bytes.

Documents: a Mastodon ``Create(Note)`` (hashtags, custom emoji, replies collection) and a
Mastodon actor, taken from the shared corpus when it is present (``ACTIVITYPUB_KIT_CORPUS``
or ``../shared/corpus``), else the representative samples below.  Each is measured as
documents/second for ``json.loads(bytes)``, ``parse(bytes)`` and ``parse(bytes).to_json()``,
back to back in each round so that they see the same machine load; the ratio
parse/json.loads (median over the rounds) is the figure to watch (target >= 0.5).

    python benchmarks/parse.py            # table
    python benchmarks/parse.py --json     # one JSON object
"""

from __future__ import annotations

import sys

# benchmarks/queue.py shares its name with the stdlib module ``queue``: running a script
# from this folder would import that file wherever a library imports ``queue``.
if sys.path and sys.path[0] and __file__.startswith(sys.path[0]):
    sys.path.pop(0)

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from activitypub_kit.models import parse

ROOT = Path(__file__).resolve().parent.parent
CORPUS_FILES = {
    "create_note": "mastodon__Create-Note__gts-statusWithEmojisAndTagsAsActivityJson.json",
    "actor": "mastodon__Person__fedify-activitypub.academy.json",
}

SAMPLE_CREATE: dict[str, Any] = {
    "@context": [
        "https://www.w3.org/ns/activitystreams",
        {
            "ostatus": "http://ostatus.org#",
            "atomUri": "ostatus:atomUri",
            "inReplyToAtomUri": "ostatus:inReplyToAtomUri",
            "conversation": "ostatus:conversation",
            "sensitive": "as:sensitive",
            "toot": "http://joinmastodon.org/ns#",
            "votersCount": "toot:votersCount",
            "Hashtag": "as:Hashtag",
            "Emoji": "toot:Emoji",
        },
    ],
    "id": "https://social.example/users/alice/statuses/1/activity",
    "type": "Create",
    "actor": "https://social.example/users/alice",
    "published": "2024-05-01T10:00:00Z",
    "to": ["https://www.w3.org/ns/activitystreams#Public"],
    "cc": ["https://social.example/users/alice/followers", "https://other.example/users/bob"],
    "object": {
        "id": "https://social.example/users/alice/statuses/1",
        "type": "Note",
        "summary": None,
        "inReplyTo": None,
        "published": "2024-05-01T10:00:00Z",
        "url": "https://social.example/@alice/1",
        "attributedTo": "https://social.example/users/alice",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": ["https://social.example/users/alice/followers", "https://other.example/users/bob"],
        "sensitive": False,
        "atomUri": "https://social.example/users/alice/statuses/1",
        "inReplyToAtomUri": None,
        "conversation": "tag:social.example,2024-05-01:objectId=1:objectType=Conversation",
        "content": '<p>Hello <span class="h-card"><a href="https://other.example/@bob">@bob</a>'
        '</span> #<a href="https://social.example/tags/fediverse">fediverse</a> :blob:</p>',
        "contentMap": {"en": "<p>Hello @bob #fediverse :blob:</p>"},
        "attachment": [],
        "tag": [
            {
                "type": "Mention",
                "href": "https://other.example/users/bob",
                "name": "@bob@other.example",
            },
            {
                "type": "Hashtag",
                "href": "https://social.example/tags/fediverse",
                "name": "#fediverse",
            },
            {
                "id": "https://social.example/emojis/1",
                "type": "Emoji",
                "name": ":blob:",
                "updated": "2024-01-01T00:00:00Z",
                "icon": {
                    "type": "Image",
                    "mediaType": "image/png",
                    "url": "https://social.example/e/blob.png",
                },
            },
        ],
        "replies": {
            "id": "https://social.example/users/alice/statuses/1/replies",
            "type": "Collection",
            "first": {
                "type": "CollectionPage",
                "next": "https://social.example/users/alice/statuses/1/replies?page=true",
                "partOf": "https://social.example/users/alice/statuses/1/replies",
                "items": [],
            },
        },
    },
}

SAMPLE_ACTOR: dict[str, Any] = {
    "@context": [
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        {
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "toot": "http://joinmastodon.org/ns#",
            "featured": {"@id": "toot:featured", "@type": "@id"},
            "featuredTags": {"@id": "toot:featuredTags", "@type": "@id"},
            "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
            "movedTo": {"@id": "as:movedTo", "@type": "@id"},
            "schema": "http://schema.org#",
            "PropertyValue": "schema:PropertyValue",
            "value": "schema:value",
            "discoverable": "toot:discoverable",
            "indexable": "toot:indexable",
        },
    ],
    "id": "https://social.example/users/alice",
    "type": "Person",
    "following": "https://social.example/users/alice/following",
    "followers": "https://social.example/users/alice/followers",
    "inbox": "https://social.example/users/alice/inbox",
    "outbox": "https://social.example/users/alice/outbox",
    "featured": "https://social.example/users/alice/collections/featured",
    "featuredTags": "https://social.example/users/alice/collections/tags",
    "preferredUsername": "alice",
    "name": "Alice",
    "summary": "<p>Hello</p>",
    "url": "https://social.example/@alice",
    "manuallyApprovesFollowers": False,
    "discoverable": True,
    "indexable": True,
    "published": "2022-11-01T00:00:00Z",
    "publicKey": {
        "id": "https://social.example/users/alice#main-key",
        "owner": "https://social.example/users/alice",
        "publicKeyPem": "-----BEGIN PUBLIC KEY-----\n" + "A" * 392 + "\n-----END PUBLIC KEY-----\n",
    },
    "tag": [],
    "attachment": [
        {"type": "PropertyValue", "name": "Web", "value": "<a href='https://a.example'>a</a>"}
    ],
    "endpoints": {"sharedInbox": "https://social.example/inbox"},
    "icon": {"type": "Image", "mediaType": "image/png", "url": "https://social.example/a.png"},
}


def load_documents() -> tuple[dict[str, bytes], str]:
    """The benchmark documents (compact JSON bytes) and where they came from."""
    configured = os.environ.get("ACTIVITYPUB_KIT_CORPUS")
    corpus = Path(configured) if configured else ROOT.parent / "shared" / "corpus"
    folder = corpus / "activitypub-real-world" / "documents"
    if all((folder / name).is_file() for name in CORPUS_FILES.values()):
        docs = {
            key: json.dumps(json.loads((folder / name).read_bytes())).encode()
            for key, name in CORPUS_FILES.items()
        }
        return docs, f"corpus ({folder})"
    return {
        "create_note": json.dumps(SAMPLE_CREATE).encode(),
        "actor": json.dumps(SAMPLE_ACTOR).encode(),
    }, "built-in samples"


def rate(func: Any, data: bytes, seconds: float) -> float:
    """Calls per second of ``func(data)`` over about ``seconds``."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            func(data)
        count += 200
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def measure(data: bytes, rounds: int, seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    """Rates (best of the rounds) and ratios to json.loads (median of per-round ratios).

    Each round measures json.loads, parse and parse+to_json back to back, so a round's ratio
    compares figures taken under the same machine load.
    """
    funcs = {
        "json_loads": json.loads,
        "parse": parse,
        "parse_to_json": lambda raw: parse(raw).to_json(),
    }
    best = dict.fromkeys(funcs, 0.0)
    per_round: dict[str, list[float]] = {"parse": [], "parse_to_json": []}
    for _ in range(rounds):
        rates = {name: rate(func, data, seconds) for name, func in funcs.items()}
        for name, value in rates.items():
            best[name] = max(best[name], value)
        for name in per_round:
            per_round[name].append(rates[name] / rates["json_loads"])
    ratios = {name: statistics.median(values) for name, values in per_round.items()}
    return best, ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.4, help="per measurement")
    args = parser.parse_args(argv)

    docs, source = load_documents()
    for data in docs.values():  # warm up: schema build, caches
        parse(data).to_json()
    figures: dict[str, float] = {}
    ratios: dict[str, float] = {}
    for name, data in docs.items():
        best, median_ratios = measure(data, args.rounds, args.seconds)
        for key, value in best.items():
            figures[f"{name}.{key}_per_s"] = round(value)
        ratios[f"{name}.parse_vs_json_loads"] = round(median_ratios["parse"], 3)
        ratios[f"{name}.parse_to_json_vs_json_loads"] = round(median_ratios["parse_to_json"], 3)
        figures[f"{name}.bytes"] = len(data)

    if args.json:
        print(json.dumps({"benchmark": "parse", "figures": figures, "ratios": ratios}))
        return 0
    print(
        f"documents: {source}; Python {sys.version.split()[0]}; {args.rounds} rounds"
        " (rates: best round; ratios: median of per-round ratios)"
    )
    print(
        f"{'document':<13}{'bytes':>7}{'json.loads/s':>14}{'parse/s':>10}{'ratio':>7}"
        f"{'parse+to_json/s':>17}{'ratio':>7}"
    )
    for name in docs:
        print(
            f"{name:<13}{figures[f'{name}.bytes']:>7}"
            f"{figures[f'{name}.json_loads_per_s']:>14,}{figures[f'{name}.parse_per_s']:>10,}"
            f"{ratios[f'{name}.parse_vs_json_loads']:>7.2f}"
            f"{figures[f'{name}.parse_to_json_per_s']:>17,}"
            f"{ratios[f'{name}.parse_to_json_vs_json_loads']:>7.2f}"
        )
    print("target: parse (with validation) >= 0.50 x json.loads")
    return 0


if __name__ == "__main__":
    sys.exit(main())

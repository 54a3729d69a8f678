"""Benchmark: HTTP signature sign/verify rates next to raw ``cryptography`` in the same run.

    python benchmarks/signatures.py          # table
    python benchmarks/signatures.py --json   # one JSON object

For each key type (RSA-2048, Ed25519) it times signing and verifying a Mastodon-style
inbox POST (about 1 KiB of JSON) with draft-cavage and with RFC 9421, and the bare
``cryptography`` sign/verify of a same-sized message.  "Ours" includes everything a server
does per request: parsing the header(s), rebuilding the signing string / signature base,
checking the body digest and the date window, and the signature itself.  Every operation
gets a fresh request value (its headers already indexed, as an adapter hands it over), so
nothing one request derived (URL parts) is reused for the next, as on a real server.  The
ratio is ours / raw (time per operation); targets: verify <= 1.5, sign <= 1.1.
"""

from __future__ import annotations

import sys

# benchmarks/queue.py shares its name with the stdlib module ``queue`` (which requests, and
# so pyld, imports): running a script from this folder would import that file instead.
if sys.path and sys.path[0] and __file__.startswith(sys.path[0]):
    sys.path.pop(0)

import argparse
import json
import platform
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding

from activitypub_kit.signatures import (
    HttpRequest,
    SignatureOptions,
    generate_ed25519_key,
    generate_rsa_key,
    http_date,
    parse_cavage,
    parse_rfc9421,
    sign_cavage,
    sign_rfc9421,
    verify_cavage,
    verify_rfc9421,
)

NOW = 1_732_000_000
KEY_ID = "https://sender.example/users/alice#main-key"
BODY = json.dumps(
    {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://sender.example/users/alice/statuses/1/activity",
        "type": "Create",
        "actor": "https://sender.example/users/alice",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {"type": "Note", "content": "x" * 700},
    }
).encode()


def _per_op(fn: Callable[[], Any], budget: float) -> int:
    """How many calls of ``fn`` take about ``budget`` seconds."""
    fn()
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed > budget / 20:
            return max(1, int(n * budget / elapsed))
        n *= 2


def _rates(fns: dict[str, Callable[[], Any]], budget: float, rounds: int = 25) -> dict[str, float]:
    """Operations per second of each function: rounds are interleaved (so a load spike
    from other processes hits all of them alike) and the best round counts."""
    counts = {name: _per_op(fn, budget / rounds) for name, fn in fns.items()}
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(counts[name]):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / counts[name])
    return {name: 1.0 / seconds for name, seconds in best.items()}


def _functions(key: Any, request: HttpRequest) -> dict[str, Callable[[], Any]]:
    public = key.public_key()
    message = b"x" * 300  # about the size of a signing string / signature base
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    cavage_signed = sign_cavage(request, key, KEY_ID, now=NOW)
    rfc_signed = sign_rfc9421(request, key, KEY_ID, options=SignatureOptions(created=NOW))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw_sig = key.sign(message)
        raw_sign: Callable[[], Any] = lambda: key.sign(message)  # noqa: E731
        raw_verify: Callable[[], Any] = lambda: public.verify(raw_sig, message)  # noqa: E731
    else:
        raw_sig = key.sign(message, pkcs1, sha256)
        raw_sign = lambda: key.sign(message, pkcs1, sha256)  # noqa: E731
        raw_verify = lambda: public.verify(raw_sig, message, pkcs1, sha256)  # noqa: E731

    def fresh(r: HttpRequest) -> HttpRequest:
        return HttpRequest(r.method, r.url, r.headers, r.body)

    def cavage_verify() -> None:
        received = fresh(cavage_signed)
        verify_cavage(received, parse_cavage(received), public, now=NOW)

    def rfc_verify() -> None:
        received = fresh(rfc_signed)
        (sig,) = parse_rfc9421(received)
        verify_rfc9421(received, sig, public, now=NOW)

    return {
        "raw_sign": raw_sign,
        "cavage_sign": lambda: sign_cavage(fresh(request), key, KEY_ID, now=NOW),
        "rfc9421_sign": lambda: sign_rfc9421(
            fresh(request), key, KEY_ID, options=SignatureOptions(created=NOW)
        ),
        "raw_verify": raw_verify,
        "cavage_verify": cavage_verify,
        "rfc9421_verify": rfc_verify,
    }


def run(budget: float) -> dict[str, Any]:
    request = HttpRequest(
        "POST",
        "https://inbox.example/users/bob/inbox",
        [("Host", "inbox.example"), ("Date", http_date(NOW)),
         ("Content-Type", "application/activity+json")],
        BODY,
    )  # fmt: skip
    figures: dict[str, float] = {}
    ratios: dict[str, float] = {}
    for kind, key in (("rsa2048", generate_rsa_key(2048)), ("ed25519", generate_ed25519_key())):
        fns = _functions(key, request)
        for op in ("sign", "verify"):
            rates = _rates({k: v for k, v in fns.items() if k.endswith(op)}, budget)
            raw = rates[f"raw_{op}"]
            figures[f"{kind}_raw_{op}_per_s"] = raw
            for scheme in ("cavage", "rfc9421"):
                ours = rates[f"{scheme}_{op}"]
                figures[f"{kind}_{scheme}_{op}_per_s"] = ours
                ratios[f"{kind}_{scheme}_{op}_cost_vs_raw"] = raw / ours
    return {"benchmark": "signatures", "figures": figures, "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--budget", type=float, default=2.0, help="seconds per operation kind")
    args = parser.parse_args()
    result = run(args.budget)
    if args.json:
        print(json.dumps(result))
        return
    figures, ratios = result["figures"], result["ratios"]
    print(f"HTTP signatures, {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()}; rates in operations per second (higher is better)")  # fmt: skip
    print(
        f"{'key':<9}{'operation':<10}{'raw':>10}{'cavage':>10}{'ratio':>8}{'rfc9421':>10}{'ratio':>8}"
    )
    for kind in ("rsa2048", "ed25519"):
        for op in ("sign", "verify"):
            raw = figures[f"{kind}_raw_{op}_per_s"]
            cav, rfc = figures[f"{kind}_cavage_{op}_per_s"], figures[f"{kind}_rfc9421_{op}_per_s"]
            print(
                f"{kind:<9}{op:<10}{raw:>10.0f}{cav:>10.0f}"
                f"{ratios[f'{kind}_cavage_{op}_cost_vs_raw']:>8.2f}{rfc:>10.0f}"
                f"{ratios[f'{kind}_rfc9421_{op}_cost_vs_raw']:>8.2f}"
            )
    print("ratio = our time per operation / raw cryptography time (targets: sign <= 1.1, "
          "verify <= 1.5)")  # fmt: skip


if __name__ == "__main__":
    main()

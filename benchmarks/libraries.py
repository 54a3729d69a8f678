"""Benchmark: what we keep hand-written next to the well-kept library, in the same run.

    python benchmarks/libraries.py          # table
    python benchmarks/libraries.py --json   # one JSON object

Structured fields (RFC 8941/9651).  ``activitypub_kit.signatures._sfv`` is ours; the
library is ``http-sfv``.  Both parse the ``Signature-Input`` and ``Signature`` fields of a
signed inbox POST.  The request carries two labelled signatures (a second signer, such as
a relay or a proxy, added one), a shape the str fast path of ``parse_rfc9421`` leaves to
the general parser, so that parser runs on every such request.  Next to it: the full
RFC 9421 verify of that request (parse, signature base, body digest, date window, the
signature) and the bare ``cryptography`` verify.  The verify "with http-sfv" is an
estimate in the library's favour: our verify minus our parse plus the library's parse, with
no cost for turning the library's objects into ours or for re-checking duplicate labels.

JCS (RFC 8785).  ``canonicalize`` is the ``rfc8785`` package; this measures what it costs
inside ``verify_proof`` next to the Ed25519 verify it precedes, on a ~1 KiB Note and, when
the external corpus is found (``ACTIVITYPUB_KIT_CORPUS``, else ``../shared/corpus``), on
its real-world activity documents.
"""

from __future__ import annotations

import sys

# benchmarks/queue.py shares its name with the stdlib module ``queue``: drop this folder.
if sys.path and sys.path[0] and __file__.startswith(sys.path[0]):
    sys.path.pop(0)

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding

from activitypub_kit.signatures import (
    HttpRequest,
    SignatureOptions,
    canonicalize,
    create_proof,
    generate_ed25519_key,
    generate_rsa_key,
    http_date,
    parse_proof,
    parse_rfc9421,
    sign_rfc9421,
    verify_proof,
    verify_rfc9421,
)
from activitypub_kit.signatures._sfv import parse_dictionary

try:
    from http_sfv.dictionary import Dictionary as SfvDictionary
except ImportError:  # pragma: no cover - a dev dependency
    sys.exit("benchmarks/libraries.py needs http-sfv (pip install -e '.[dev]')")

NOW = 1_732_000_000
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
NOTE = {
    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/data-integrity/v1"],
    "id": "https://sender.example/users/alice/statuses/1",
    "type": "Note",
    "attributedTo": "https://sender.example/users/alice",
    "to": ["https://www.w3.org/ns/activitystreams#Public"],
    "cc": ["https://sender.example/users/alice/followers"],
    "published": "2024-11-19T07:06:40Z",
    "content": "<p>" + "word " * 140 + "</p>",
    "tag": [{"type": "Hashtag", "name": "#fediverse", "href": "https://sender.example/tags/f"}],
}  # fmt: skip


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


def _seconds(
    fns: dict[str, Callable[[], Any]], budget: float, rounds: int = 15
) -> dict[str, float]:
    """Seconds per call of each function: rounds are interleaved (a load spike from other
    processes hits all of them alike) and the best round counts."""
    counts = {name: _per_op(fn, budget / rounds) for name, fn in fns.items()}
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(counts[name]):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / counts[name])
    return best


def _signed_twice(key: Any, other: Any) -> HttpRequest:
    request = HttpRequest(
        "POST",
        "https://inbox.example/users/bob/inbox",
        [("Host", "inbox.example"), ("Date", http_date(NOW)),
         ("Content-Type", "application/activity+json")],
        BODY,
    )  # fmt: skip
    first = sign_rfc9421(
        request, key, "https://sender.example/users/alice#main-key",
        options=SignatureOptions(created=NOW),
    )  # fmt: skip
    second = sign_rfc9421(
        first, other, "https://relay.example/actor#main-key", label="relay",
        options=SignatureOptions(created=NOW, nonce="b3k2pp5k7z-50gnwp.yemd"),
    )  # fmt: skip
    assert isinstance(second, HttpRequest)
    return second


def _sfv(kind: str, key: Any, budget: float) -> tuple[dict[str, float], dict[str, float]]:
    request = _signed_twice(key, generate_ed25519_key())
    sig_input, sig = request.headers.get("signature-input"), request.headers.get("signature")
    assert sig_input is not None
    assert sig is not None
    public = key.public_key()
    assert len(parse_rfc9421(request)) == 2  # the general parser's shape
    message = b"x" * 300
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw_sig = key.sign(message)
        raw_verify: Callable[[], Any] = lambda: public.verify(raw_sig, message)  # noqa: E731
    else:
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
        raw_sig = key.sign(message, pkcs1, sha256)
        raw_verify = lambda: public.verify(raw_sig, message, pkcs1, sha256)  # noqa: E731

    def verify() -> None:
        received = HttpRequest(request.method, request.url, request.headers, request.body)
        first = parse_rfc9421(received)[0]
        verify_rfc9421(received, first, public, now=NOW)

    def ours() -> None:
        parse_dictionary(sig_input, "Signature-Input", unique=True)
        parse_dictionary(sig, "Signature", unique=True)

    def library() -> None:
        SfvDictionary().parse(sig_input.encode("ascii"))
        SfvDictionary().parse(sig.encode("ascii"))

    t = _seconds({"raw": raw_verify, "verify": verify, "ours": ours, "http_sfv": library}, budget)
    with_library = t["verify"] - t["ours"] + t["http_sfv"]
    figures = {
        f"sfv_{kind}_raw_verify_us": t["raw"] * 1e6,
        f"sfv_{kind}_rfc9421_verify_us": t["verify"] * 1e6,
        f"sfv_{kind}_parse_ours_us": t["ours"] * 1e6,
        f"sfv_{kind}_parse_http_sfv_us": t["http_sfv"] * 1e6,
    }
    ratios = {
        f"sfv_{kind}_http_sfv_vs_ours_parse": t["http_sfv"] / t["ours"],
        f"sfv_{kind}_ours_share_of_verify": t["ours"] / t["verify"],
        f"sfv_{kind}_http_sfv_share_of_verify_est": t["http_sfv"] / with_library,
        f"sfv_{kind}_verify_cost_vs_raw_ours": t["verify"] / t["raw"],
        f"sfv_{kind}_verify_cost_vs_raw_http_sfv_est": with_library / t["raw"],
        f"sfv_{kind}_verify_with_http_sfv_vs_ours_est": with_library / t["verify"],
    }
    return figures, ratios


def _corpus_documents() -> list[Any]:
    configured = os.environ.get("ACTIVITYPUB_KIT_CORPUS")
    root = Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared/corpus"
    folder = root / "activitypub-real-world" / "documents"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def _jcs(budget: float) -> tuple[dict[str, float], dict[str, float]]:
    key = generate_ed25519_key()
    public = key.public_key()
    signed = create_proof(NOTE, key, "https://sender.example/users/alice#ed25519-key")
    proof = parse_proof(signed)
    message = b"x" * 64  # a proof signs two SHA-256 digests
    raw_sig = key.sign(message)
    fns: dict[str, Callable[[], Any]] = {
        "raw": lambda: public.verify(raw_sig, message),
        "verify_proof": lambda: verify_proof(signed, proof, public),
        "jcs": lambda: (canonicalize(signed["proof"]), canonicalize(NOTE)),
    }
    documents = _corpus_documents()
    if documents:
        fns["jcs_corpus"] = lambda: [canonicalize(d) for d in documents]
    t = _seconds(fns, budget)
    figures = {
        "jcs_raw_ed25519_verify_us": t["raw"] * 1e6,
        "jcs_verify_proof_us": t["verify_proof"] * 1e6,
        "jcs_note_and_options_us": t["jcs"] * 1e6,
    }
    if documents:
        figures["jcs_corpus_documents"] = len(documents)
        figures["jcs_corpus_per_document_us"] = t["jcs_corpus"] / len(documents) * 1e6
    ratios = {
        "jcs_share_of_verify_proof": t["jcs"] / t["verify_proof"],
        "jcs_vs_raw_ed25519_verify": t["jcs"] / t["raw"],
    }
    return figures, ratios


def run(budget: float) -> dict[str, Any]:
    figures: dict[str, float] = {}
    ratios: dict[str, float] = {}
    for kind, key in (("rsa2048", generate_rsa_key(2048)), ("ed25519", generate_ed25519_key())):
        f, r = _sfv(kind, key, budget)
        figures |= f
        ratios |= r
    f, r = _jcs(budget)
    figures |= f
    ratios |= r
    return {"benchmark": "libraries", "figures": figures, "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per comparison")
    args = parser.parse_args()
    result = run(args.budget)
    if args.json:
        print(json.dumps(result))
        return
    figures, ratios = result["figures"], result["ratios"]
    print(f"Hand-written or library, {platform.python_implementation()} "
          f"{platform.python_version()}, {platform.machine()}; times in µs per call")  # fmt: skip
    print("\nStructured fields: Signature-Input + Signature with two labels, ours vs http-sfv")
    print(f"{'key':<9}{'raw':>8}{'verify':>9}{'ours':>8}{'http-sfv':>10}{'lib/ours':>10}"
          f"{'verify/raw ours':>17}{'with http-sfv':>15}")  # fmt: skip
    for kind in ("rsa2048", "ed25519"):
        p = f"sfv_{kind}_"
        print(
            f"{kind:<9}{figures[p + 'raw_verify_us']:>8.1f}{figures[p + 'rfc9421_verify_us']:>9.1f}"
            f"{figures[p + 'parse_ours_us']:>8.1f}{figures[p + 'parse_http_sfv_us']:>10.1f}"
            f"{ratios[p + 'http_sfv_vs_ours_parse']:>10.2f}"
            f"{ratios[p + 'verify_cost_vs_raw_ours']:>17.2f}"
            f"{ratios[p + 'verify_cost_vs_raw_http_sfv_est']:>15.2f}"
        )
    print("verify/raw: RFC 9421 verify per request over the bare cryptography verify, with our")
    print("parser and (estimated, in the library's favour) with http-sfv's")
    print("\nJCS (the rfc8785 package) inside an eddsa-jcs-2022 proof verify")
    print(f"  Ed25519 verify {figures['jcs_raw_ed25519_verify_us']:.1f}, verify_proof "
          f"{figures['jcs_verify_proof_us']:.1f}, JCS of note + options "
          f"{figures['jcs_note_and_options_us']:.1f} "
          f"({ratios['jcs_share_of_verify_proof']:.0%} of verify_proof)")  # fmt: skip
    if "jcs_corpus_per_document_us" in figures:
        print(f"  {figures['jcs_corpus_documents']:.0f} real-world documents: "
              f"{figures['jcs_corpus_per_document_us']:.1f} per document")  # fmt: skip


if __name__ == "__main__":
    main()
